import {
  to = experienceplatform_export_job.profiles
  identity = {
    id = "24115"
  }
}
