# The ten most recent export jobs that failed.
data "experienceplatform_export_jobs" "failed" {
  status = "FAILED"
  limit  = 10
}

output "failed_exports" {
  value = { for j in data.experienceplatform_export_jobs.failed.jobs : j.id => [for e in j.errors : e.msg] }
}
