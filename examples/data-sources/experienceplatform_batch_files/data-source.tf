# The files an export job wrote: local paths with the embedded engine, Data Access URLs in remote
# mode. The id is an export job's batch_id, such as experienceplatform_export_job.x.batch_id.
data "experienceplatform_batch_files" "export" {
  batch_id = "da5cfb4de32c4b93a09f7e37fa53ad52"
}

output "export_files" {
  value = [for f in data.experienceplatform_batch_files.export.files : "${f.path} (${f.records} rows)"]
}
