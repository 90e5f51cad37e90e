resource "experienceplatform_dataset" "crm" {
  name = "CRM profiles"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile"
  }
  profile_enabled = true
}

# Ingest XDM profile records from files in the repository. Each file is JSON Lines or one JSON
# array. Records that fail validation are listed in `errors`; the batch succeeds when any record
# is accepted. Changing a file's contents ingests a new batch on the next apply.
resource "experienceplatform_batch" "crm" {
  dataset_id = experienceplatform_dataset.crm.id
  files = [
    "${path.module}/data/crm_profiles.json",
    "${path.module}/data/crm_profiles_emea.json",
  ]
}

output "crm_batch" {
  value = {
    id       = experienceplatform_batch.crm.id
    accepted = experienceplatform_batch.crm.record_count
    refused  = experienceplatform_batch.crm.failed_record_count
    first_errors = [
      for e in slice(experienceplatform_batch.crm.errors, 0, min(3, length(experienceplatform_batch.crm.errors))) :
      "${e.file == null ? "" : "${e.file} "}line ${e.line}: ${e.reason}"
    ]
  }
}
