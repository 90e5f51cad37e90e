package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
)

// Every resource has an identity, its id, which Terraform 1.12 and later keep in the state and
// accept in import blocks: `import { to = ...; identity = { id = "..." } }`.
func TestAccResourceIdentity(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		file := writeFile(t, t.TempDir(), "profiles.json", `{"identityMap":{"Email":[{"id":"a@example.com"}]}}`)
		config := env.batchConfig(file) + `

resource "experienceplatform_dataset" "test" {
  name       = "Profile export"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}

resource "experienceplatform_merge_policy" "test" {
  name            = "Newest wins"
  identity_graph  = "pdg"
  attribute_merge = "timestampOrdered"
}

resource "experienceplatform_export_job" "test" {
  merge_policy = { id = experienceplatform_merge_policy.test.id }
  destination  = { dataset_id = experienceplatform_dataset.test.id }
  depends_on   = [experienceplatform_batch.test]
}`
		addrs := []string{datasetAddr, batchAddr, policyAddr, jobAddr}
		var checks []statecheck.StateCheck
		for _, addr := range addrs {
			checks = append(checks,
				statecheck.ExpectIdentity(addr, map[string]knownvalue.Check{"id": knownvalue.NotNull()}),
				statecheck.ExpectIdentityValueMatchesState(addr, tfjsonpath.New("id")))
		}
		steps := []resource.TestStep{{Config: config, ConfigStateChecks: checks}}
		for _, addr := range addrs {
			step := resource.TestStep{
				ResourceName:    addr,
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithResourceIdentity,
			}
			if addr == batchAddr {
				// The platform does not know a batch's local files: the import adopts the configuration's.
				step.ExpectNonEmptyPlan = true
				step.ImportPlanChecks.PreApply = []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}
			}
			steps = append(steps, step)
		}
		resource.ParallelTest(t, resource.TestCase{
			TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_12_0)},
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps:                    steps,
		})
	})
}
