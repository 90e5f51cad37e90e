# A profile export, as a team would keep it in its infrastructure repository: datasets for
# profile records and for the export, a batch of profile records, a merge policy that stitches
# identities, and an export job whose rows are listed by experienceplatform_batch_files.
#
# The module configures no provider: the caller's provider block (or its absence, for the
# embedded engine) decides where it runs. tests/export.tftest.hcl applies it to the embedded
# engine and checks the exported rows; the same module applies unchanged to an AEP organisation.

terraform {
  required_version = ">= 1.5.0"
  required_providers {
    experienceplatform = {
      source = "aepkit/experienceplatform"
    }
  }
}

resource "experienceplatform_dataset" "profiles" {
  name            = "${var.name} profiles"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  profile_enabled = true
}

resource "experienceplatform_dataset" "export" {
  name       = "${var.name} export"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}

resource "experienceplatform_batch" "profiles" {
  dataset_id = experienceplatform_dataset.profiles.id
  files      = var.profile_files
}

resource "experienceplatform_merge_policy" "stitched" {
  name            = "${var.name} stitched"
  identity_graph  = "pdg"
  attribute_merge = "timestampOrdered"
}

resource "experienceplatform_export_job" "profiles" {
  fields       = var.fields
  merge_policy = { id = experienceplatform_merge_policy.stitched.id }
  destination  = { dataset_id = experienceplatform_dataset.export.id }
  # A new batch of profiles (new files, or new contents) exports again; so do the caller's triggers.
  triggers = merge(var.triggers, { profiles = experienceplatform_batch.profiles.id })
}

data "experienceplatform_batch_files" "export" {
  batch_id = experienceplatform_export_job.profiles.batch_id
}
