# The built-in policy that stitches profiles through the private identity graph.
data "experienceplatform_merge_policy" "pdg" {
  id = "timestampOrdered-pdg-mp"
}

output "pdg_policy_version" {
  value = data.experienceplatform_merge_policy.pdg.version
}
