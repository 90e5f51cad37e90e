# The files an export job wrote: local paths with the embedded engine, Data Access URLs in remote mode.
data "experienceplatform_batch_files" "export" {
  batch_id = experienceplatform_export_job.profiles.batch_id
}

output "export_files" {
  value = [for f in data.experienceplatform_batch_files.export.files : "${f.path} (${f.records} rows)"]
}
