package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

func TestAccDatasetDataSource(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		const data = "data.experienceplatform_dataset.test"
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name            = "Looked up"
  description     = "found by id"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  tags            = { team = ["growth"] }
  profile_enabled = true
}

data "experienceplatform_dataset" "test" {
  id = experienceplatform_dataset.test.id
}`),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.CompareValuePairs(data, tfjsonpath.New("id"), datasetAddr, tfjsonpath.New("id"), compare.ValuesSame()),
						statecheck.CompareValuePairs(data, tfjsonpath.New("version"), datasetAddr, tfjsonpath.New("version"), compare.ValuesSame()),
						statecheck.CompareValuePairs(data, tfjsonpath.New("created_ms"), datasetAddr, tfjsonpath.New("created_ms"), compare.ValuesSame()),
						statecheck.ExpectKnownValue(data, tfjsonpath.New("name"), knownvalue.StringExact("Looked up")),
						statecheck.ExpectKnownValue(data, tfjsonpath.New("description"), knownvalue.StringExact("found by id")),
						statecheck.ExpectKnownValue(data, tfjsonpath.New("schema_ref"), knownvalue.ObjectExact(map[string]knownvalue.Check{
							"id":           knownvalue.StringExact(aepwire.SchemaProfile),
							"content_type": knownvalue.StringExact(aepwire.DefaultSchemaContentType),
						})),
						statecheck.ExpectKnownValue(data, tfjsonpath.New("tags"), knownvalue.MapExact(map[string]knownvalue.Check{
							"team": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("growth")}),
						})),
						statecheck.ExpectKnownValue(data, tfjsonpath.New("profile_enabled"), knownvalue.Bool(true)),
						statecheck.ExpectKnownValue(data, tfjsonpath.New("state"), knownvalue.StringExact("DRAFT")),
					},
				},
				{
					Config: env.config(`
data "experienceplatform_dataset" "missing" {
  id = "000000000000000000000000"
}`),
					ExpectError: errorPattern("Cannot read dataset", "Looking up the dataset 000000000000000000000000 failed", "404 Not Found (CAT-1404)"),
				},
			},
		})
	})
}
