# A nightly export: plantimestamp() is the time of the plan, known while planning, so every plan
# of the same day (UTC) is empty and the first apply after midnight runs the job again. Run
# `terraform apply` on a schedule, from CI say.
resource "experienceplatform_export_job" "nightly" {
  fields      = "identityMap,personalEmail.address"
  destination = { dataset_id = experienceplatform_dataset.export.id }
  triggers = {
    night = formatdate("YYYY-MM-DD", plantimestamp())
  }
}
