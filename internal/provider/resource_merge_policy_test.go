package provider

import (
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

const policyAddr = "experienceplatform_merge_policy.test"

const policyDatasets = `
resource "experienceplatform_dataset" "crm" {
  name            = "CRM"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  profile_enabled = true
}

resource "experienceplatform_dataset" "loyalty" {
  name            = "Loyalty"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  profile_enabled = true
}
`

func TestAccMergePolicyResource(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		samePolicy := statecheck.CompareValue(compare.ValuesSame())
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: slices.Concat([]resource.TestStep{
				{
					Config: env.config(policyDatasets + `
resource "experienceplatform_merge_policy" "test" {
  name            = "Loyalty first"
  identity_graph  = "pdg"
  attribute_merge = "dataSetPrecedence"
  dataset_order   = [experienceplatform_dataset.loyalty.id, experienceplatform_dataset.crm.id]
  default         = true
}

data "experienceplatform_merge_policy" "builtin" {
  id         = "timestampOrdered-none-mp"
  depends_on = [experienceplatform_merge_policy.test]
}`),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						samePolicy.AddStateValue(policyAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("version"), knownvalue.Int64Exact(1)),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("identity_graph"), knownvalue.StringExact("pdg")),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("default"), knownvalue.Bool(true)),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("dataset_order"), knownvalue.ListSizeExact(2)),
						statecheck.CompareValuePairs(policyAddr, tfjsonpath.New("dataset_order").AtSliceIndex(0),
							"experienceplatform_dataset.loyalty", tfjsonpath.New("id"), compare.ValuesSame()),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("update_epoch"), knownvalue.NotNull()),
						// The new default took the place of the built-in one.
						statecheck.ExpectKnownValue("data.experienceplatform_merge_policy.builtin", tfjsonpath.New("default"), knownvalue.Bool(false)),
						statecheck.ExpectKnownValue("data.experienceplatform_merge_policy.builtin", tfjsonpath.New("identity_graph"), knownvalue.StringExact("none")),
						statecheck.ExpectKnownValue("data.experienceplatform_merge_policy.builtin", tfjsonpath.New("dataset_order"), knownvalue.Null()),
					},
				},
			}, importSteps(policyAddr,
				plancheck.ExpectKnownValue("experienceplatform_merge_policy.generated", tfjsonpath.New("dataset_order"), knownvalue.ListSizeExact(2)),
			), []resource.TestStep{
				{ // every change is an update in place that raises the version
					Config: env.config(policyDatasets + `
resource "experienceplatform_merge_policy" "test" {
  name            = "Newest first"
  identity_graph  = "none"
  attribute_merge = "timestampOrdered"
}`),
					ConfigPlanChecks: expectAction(policyAddr, plancheck.ResourceActionUpdate),
					ConfigStateChecks: []statecheck.StateCheck{
						samePolicy.AddStateValue(policyAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("version"), knownvalue.Int64Exact(2)),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("dataset_order"), knownvalue.Null()),
						statecheck.ExpectKnownValue(policyAddr, tfjsonpath.New("default"), knownvalue.Bool(false)),
					},
				},
			}),
		})
	})
}

func TestAccMergePolicyResource_deletedOutsideTerraform(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		testDeletedOutsideTerraform(t, policyAddr, env.config(`
resource "experienceplatform_merge_policy" "test" {
  name            = "Gone soon"
  identity_graph  = "none"
  attribute_merge = "timestampOrdered"
}`), env.engine.DeleteMergePolicy)
	})
}

func TestAccMergePolicyResource_validation(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		for name, tc := range map[string]struct {
			body string
			want []string
		}{
			"precedence without order": {`identity_graph = "none"
  attribute_merge = "dataSetPrecedence"`, []string{"Missing dataset order", `attribute_merge = "dataSetPrecedence" ranks fragments by their dataset`}},
			"order without precedence": {`identity_graph = "none"
  attribute_merge = "timestampOrdered"
  dataset_order = ["0123456789abcdef01234567"]`, []string{"Dataset order without dataset precedence"}},
			"unknown graph": {`identity_graph = "full"
  attribute_merge = "timestampOrdered"`, []string{`Attribute identity_graph value must be one of: ["none" "pdg"], got: "full"`}},
		} {
			t.Run(name, func(t *testing.T) {
				resource.ParallelTest(t, planFails(env.config("resource \"experienceplatform_merge_policy\" \"test\" {\n  name = \"p\"\n  "+tc.body+"\n}"), tc.want...))
			})
		}
	})
}
