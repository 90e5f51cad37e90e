import {
  to = experienceplatform_dataset.export
  id = "5c8c3c555033b814b69f947f"
}
