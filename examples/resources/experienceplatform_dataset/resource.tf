# The destination of profile export jobs: a dataset on the profile union schema.
resource "experienceplatform_dataset" "export" {
  name        = "Profile export"
  description = "Profiles exported for the data warehouse"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile__union"
  }
  tags = {
    team = ["growth"]
  }
}

# A dataset of XDM Individual Profile records that feeds the profile store.
resource "experienceplatform_dataset" "crm" {
  name = "CRM profiles"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile"
  }
  profile_enabled = true
}
