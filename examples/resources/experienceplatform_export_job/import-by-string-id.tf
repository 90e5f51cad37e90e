import {
  to = experienceplatform_export_job.profiles
  id = "24115"
}
