# A dataset is imported by its Catalog id.
terraform import experienceplatform_dataset.export 5c8c3c555033b814b69f947f
