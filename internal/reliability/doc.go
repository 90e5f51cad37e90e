// Package reliability holds end-to-end tests of the provider under what real life does to it:
// processes killed with SIGKILL in the middle of an ingestion or an export, Ctrl-C during an
// apply, applies running at once on one data directory, many jobs in one apply, and trace logs
// searched for secrets. They run the real Terraform CLI (TF_ACC_TERRAFORM_PATH) against the
// provider built from this module, as a user would, and check the engine's state afterwards.
//
// Each test adds its faults and outcomes to a table that TestMain prints at the end.
package reliability
