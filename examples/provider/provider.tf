terraform {
  required_providers {
    experienceplatform = {
      source = "aepkit/experienceplatform"
    }
  }
}

# The embedded engine: everything runs on this machine, with its data under .aep/.
provider "experienceplatform" {
  data_dir = ".aep"
}
