resource "experienceplatform_dataset" "export" {
  name       = "Profile export"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}

# Profiles stitched through the private identity graph, so that events join a profile through
# any identity they share with it.
resource "experienceplatform_merge_policy" "stitched" {
  name            = "Stitched, newest first"
  identity_graph  = "pdg"
  attribute_merge = "timestampOrdered"
}

# The request of AEP's export-jobs documentation: each profile's identities and email address,
# with the browser of each event ingested after a point in time.
resource "experienceplatform_export_job" "profiles" {
  fields = "identities.id,personalEmail.address"
  merge_policy = {
    id      = experienceplatform_merge_policy.stitched.id
    version = 1
  }
  event_list = {
    fields                = "environment.browserDetails.name,environment.browserDetails.version"
    from_ingest_timestamp = "2026-01-01T00:00:00Z"
  }
  destination = {
    dataset_id = experienceplatform_dataset.export.id
  }
  schema_name = "_xdm.context.profile"
}

variable "crm_batch_id" {
  type        = string
  description = "The CRM batch the audiences come from, such as experienceplatform_batch.crm.id."
}

# One batch per segment, for the members of two segments; the job runs again whenever the CRM
# batch changes.
resource "experienceplatform_export_job" "audiences" {
  fields = "identityMap,personalEmail.address"
  filter = {
    segments = [
      { segment_id = "5b5a8f2e-3f7c-4d9a-9e61-2c4f0a1b7d01" },
      { segment_id = "8c1d7e44-90ab-4f3e-b2d5-6a7b8c9d0e02", status = ["realized"] },
    ]
  }
  destination = {
    dataset_id        = experienceplatform_dataset.export.id
    segment_per_batch = true
  }
  triggers = {
    crm_batch = var.crm_batch_id
  }
  timeouts = {
    create = "2h"
  }
}

output "profiles_batch" {
  value = {
    batch_id  = experienceplatform_export_job.profiles.batch_id
    profiles  = experienceplatform_export_job.profiles.metrics.exported_profile_count
    export_ms = experienceplatform_export_job.profiles.metrics.total_time.total_ms
  }
}

output "audience_batches" {
  value = { for b in experienceplatform_export_job.audiences.batches : b.segment_id => b.batch_id }
}
