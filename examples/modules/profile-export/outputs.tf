output "export_job_id" {
  description = "Id of the export job."
  value       = experienceplatform_export_job.profiles.id
}

output "batch_id" {
  description = "The batch the export job wrote."
  value       = experienceplatform_export_job.profiles.batch_id
}

output "exported_profile_count" {
  description = "Rows the export job wrote."
  value       = experienceplatform_export_job.profiles.metrics.exported_profile_count
}

output "files" {
  description = "Where to read the exported JSON Lines files: local paths with the embedded engine, Data Access URLs with AEP."
  value       = [for f in data.experienceplatform_batch_files.export.files : f.path]
}
