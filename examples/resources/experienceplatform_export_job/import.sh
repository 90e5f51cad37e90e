# An export job is imported by its id.
terraform import experienceplatform_export_job.profiles 24115
