# The quick start: run it with `make demo` from the repository's root. Everything happens in the
# embedded engine, with its data in .aep/ next to this file.

terraform {
  required_providers {
    experienceplatform = {
      source = "aepkit/experienceplatform"
    }
  }
}

provider "experienceplatform" {}

# Profile records from the CRM and the loyalty programme, enabled for Real-Time Customer Profile.
resource "experienceplatform_dataset" "crm_profiles" {
  name        = "CRM profiles"
  description = "XDM Individual Profile records exported nightly from the CRM"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile"
  }
  profile_enabled = true
}

resource "experienceplatform_dataset" "loyalty_members" {
  name        = "Loyalty members"
  description = "Members of the loyalty programme, keyed by email"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile"
  }
  profile_enabled = true
}

# Web events, enabled for Real-Time Customer Profile.
resource "experienceplatform_dataset" "web_events" {
  name        = "Web events"
  description = "XDM ExperienceEvents collected on the web site"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/experienceevent"
  }
  profile_enabled = true
}

# Where export jobs write: a dataset on the profile union schema.
resource "experienceplatform_dataset" "export" {
  name        = "Profile export"
  description = "Merged profiles exported by the export job"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile__union"
  }
  tags = {
    purpose = ["export"]
  }
}

# The sample data (data/, made by `go run ./internal/sampledata/gensample`), one batch a file.
# Editing a file ingests it again as a new batch on the next apply.
resource "experienceplatform_batch" "crm_profiles" {
  dataset_id = experienceplatform_dataset.crm_profiles.id
  files      = ["${path.module}/data/crm_profiles.json"]
}

resource "experienceplatform_batch" "loyalty_members" {
  dataset_id = experienceplatform_dataset.loyalty_members.id
  files      = ["${path.module}/data/loyalty_members.json"]
}

resource "experienceplatform_batch" "web_events" {
  dataset_id = experienceplatform_dataset.web_events.id
  files      = ["${path.module}/data/web_events.json"]
}

# Profiles are stitched across CRMID, Email and ECID through the private identity graph; when
# attributes conflict, the loyalty programme's data wins over the CRM's.
resource "experienceplatform_merge_policy" "stitched" {
  name            = "Stitched, loyalty first"
  identity_graph  = "pdg"
  attribute_merge = "dataSetPrecedence"
  dataset_order = [
    experienceplatform_dataset.loyalty_members.id,
    experienceplatform_dataset.crm_profiles.id,
  ]
}

# The export: apply starts the job and waits until it has SUCCEEDED.
resource "experienceplatform_export_job" "profiles" {
  fields       = "identityMap,person.name.fullName,personalEmail.address,loyalty(tier,points),segmentMembership.ups"
  merge_policy = { id = experienceplatform_merge_policy.stitched.id }
  event_list = {
    fields = "timestamp,eventType,web.webPageDetails.name,commerce.order"
  }
  destination = { dataset_id = experienceplatform_dataset.export.id }

  # Export again whenever the ingested data changes.
  triggers = {
    crm     = experienceplatform_batch.crm_profiles.id
    loyalty = experienceplatform_batch.loyalty_members.id
    web     = experienceplatform_batch.web_events.id
  }
}

# The files of the exported batch: JSON Lines, one merged profile a row.
data "experienceplatform_batch_files" "export" {
  batch_id = experienceplatform_export_job.profiles.batch_id
}

output "datasets" {
  description = "The datasets the quick start created."
  value = {
    crm_profiles    = experienceplatform_dataset.crm_profiles.id
    loyalty_members = experienceplatform_dataset.loyalty_members.id
    web_events      = experienceplatform_dataset.web_events.id
    export          = experienceplatform_dataset.export.id
  }
}

output "ingested" {
  description = "Records accepted and refused in each batch."
  value = {
    for name, b in {
      crm_profiles    = experienceplatform_batch.crm_profiles
      loyalty_members = experienceplatform_batch.loyalty_members
      web_events      = experienceplatform_batch.web_events
    } : name => "${b.record_count} records (${b.failed_record_count} refused) in batch ${b.id}"
  }
}

output "export_job" {
  description = "The export job: its batch and its metrics."
  value = {
    id                = experienceplatform_export_job.profiles.id
    status            = experienceplatform_export_job.profiles.status
    batch_id          = experienceplatform_export_job.profiles.batch_id
    exported_profiles = experienceplatform_export_job.profiles.metrics.exported_profile_count
    exported_events   = experienceplatform_export_job.profiles.metrics.exported_event_count
    bytes_written     = experienceplatform_export_job.profiles.metrics.bytes_written
    total_ms          = experienceplatform_export_job.profiles.metrics.total_time.total_ms
    profile_export_ms = experienceplatform_export_job.profiles.metrics.profile_export_time.total_ms
    dataset_write_ms  = experienceplatform_export_job.profiles.metrics.dataset_write_time.total_ms
    files             = [for f in data.experienceplatform_batch_files.export.files : f.path]
  }
}

output "first_exported_rows" {
  description = "The first two rows of the export."
  value = [
    for row in slice(compact(split("\n", file(data.experienceplatform_batch_files.export.files[0].path))), 0, 2) :
    jsondecode(row)
  ]
}
