# Applies the module to the embedded engine and checks the rows it exports, with no credentials
# and no AEP: `terraform test` creates everything in .aep-test and destroys it again at the end.

# Naming data_dir also keeps the test off any real organisation: were AEP_ENDPOINT set in the
# environment, the provider would refuse to start (data_dir and endpoint exclude each other)
# rather than run the test against AEP.
provider "experienceplatform" {
  data_dir = ".aep-test"
}

variables {
  profile_files = ["tests/data/profiles.json"]
  fields        = "person.name.firstName,personalEmail.address,loyalty.tier"
}

run "export" {
  assert {
    condition     = output.exported_profile_count == 2
    error_message = "Three records of two people should export two profiles: the merge policy stitches Ada's CRM and email records."
  }

  assert {
    condition = [
      for line in flatten([for f in output.files : split("\n", trimspace(file(f)))]) : jsondecode(line)
      ] == [
      { person = { name = { firstName = "Ada" } }, personalEmail = { address = "ada@example.com" }, loyalty = { tier = "gold" } },
      { person = { name = { firstName = "Bob" } }, personalEmail = { address = "bob@example.com" }, loyalty = { tier = "silver" } },
    ]
    error_message = "The exported rows are not the stitched profiles of Ada and Bob, with the requested fields only."
  }
}

run "apply_again" {
  variables {
    first_job_id = run.export.export_job_id
  }

  assert {
    condition     = output.export_job_id == var.first_job_id
    error_message = "Applying the same configuration again must not run the export again."
  }
}

run "new_trigger" {
  variables {
    triggers     = { night = "2001-01-02" }
    first_job_id = run.apply_again.export_job_id
  }

  assert {
    condition     = output.export_job_id != var.first_job_id && output.exported_profile_count == 2
    error_message = "A new trigger value must run the export again, with the same rows."
  }
}
