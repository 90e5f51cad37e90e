import {
  to = experienceplatform_merge_policy.newest
  identity = {
    id = "6f2c1a7e-9d3b-4e5f-8a1c-2b3d4e5f6a7b"
  }
}
