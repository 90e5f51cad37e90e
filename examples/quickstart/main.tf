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

# Profile records from the CRM, enabled for Real-Time Customer Profile.
resource "experienceplatform_dataset" "crm_profiles" {
  name        = "CRM profiles"
  description = "XDM Individual Profile records exported nightly from the CRM"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile"
  }
  profile_enabled = true
}

# Web and app events, enabled for Real-Time Customer Profile.
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

output "datasets" {
  description = "The datasets the quick start created."
  value = {
    crm_profiles = experienceplatform_dataset.crm_profiles.id
    web_events   = experienceplatform_dataset.web_events.id
    export       = experienceplatform_dataset.export.id
  }
}
