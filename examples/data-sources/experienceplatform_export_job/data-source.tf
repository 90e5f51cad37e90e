# An export job started elsewhere, by its id.
data "experienceplatform_export_job" "nightly" {
  id = "24115"
}

output "nightly_export" {
  value = {
    status   = data.experienceplatform_export_job.nightly.status
    batch_id = data.experienceplatform_export_job.nightly.batch_id
    errors   = data.experienceplatform_export_job.nightly.errors
  }
}
