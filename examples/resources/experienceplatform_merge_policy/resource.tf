resource "experienceplatform_dataset" "crm" {
  name            = "CRM profiles"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  profile_enabled = true
}

resource "experienceplatform_dataset" "loyalty" {
  name            = "Loyalty members"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  profile_enabled = true
}

# Stitch fragments through the private identity graph, and let the loyalty programme's data win
# over the CRM's when attributes conflict. Fragments of datasets not listed are ignored.
resource "experienceplatform_merge_policy" "loyalty_first" {
  name            = "Loyalty first"
  identity_graph  = "pdg"
  attribute_merge = "dataSetPrecedence"
  dataset_order = [
    experienceplatform_dataset.loyalty.id,
    experienceplatform_dataset.crm.id,
  ]
}

# The most recently ingested fragment wins, and profiles are stitched across identities.
# As the default policy, it is used by export jobs that name none.
resource "experienceplatform_merge_policy" "newest" {
  name            = "Newest first, stitched"
  identity_graph  = "pdg"
  attribute_merge = "timestampOrdered"
  default         = true
}
