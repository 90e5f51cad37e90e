import {
  to = experienceplatform_batch.crm
  id = "9cb39b33a62d7cc87a3aedabb1655949"
}
