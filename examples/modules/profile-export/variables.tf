variable "name" {
  type        = string
  description = "Prefix of the names of the datasets and the merge policy."
  default     = "Loyalty"
}

variable "profile_files" {
  type        = list(string)
  description = "JSON Lines files of XDM profile records to ingest, relative to the directory Terraform runs in."
}

variable "fields" {
  type        = string
  description = "The profile fields to export, such as \"personalEmail.address,loyalty.tier\"."
}

variable "triggers" {
  type        = map(string)
  description = "Values that run the export again when they change, such as the night of the plan."
  default     = {}
}
