# A batch is imported by its Catalog id.
terraform import experienceplatform_batch.crm 9cb39b33a62d7cc87a3aedabb1655949
