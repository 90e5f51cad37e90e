# An export job is imported by its id; its request becomes the resource's configuration.
terraform import experienceplatform_export_job.profiles 24115
