# A batch is imported by its Catalog id. Its local files are not known to the platform: after the
# import, the next apply takes the configuration's files as they are, without ingesting again.
terraform import experienceplatform_batch.crm 9cb39b33a62d7cc87a3aedabb1655949
