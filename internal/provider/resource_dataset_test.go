package provider

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

const datasetAddr = "experienceplatform_dataset.test"

func TestAccDatasetResource(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		sameID := statecheck.CompareValue(compare.ValuesSame())
		newID := statecheck.CompareValue(compare.ValuesDiffer())

		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: slices.Concat([]resource.TestStep{
				{ // create with every attribute
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name        = "Profile export"
  description = "Profiles exported for the warehouse"
  schema_ref = {
    id           = "https://ns.adobe.com/xdm/context/profile__union"
    content_type = "application/vnd.adobe.xed+json;version=1"
  }
  tags = {
    team  = ["growth", "emea"]
    owner = ["data-platform"]
  }
  profile_enabled = true
}`),
					ConfigPlanChecks: expectAction(datasetAddr, plancheck.ResourceActionCreate),
					ConfigStateChecks: []statecheck.StateCheck{
						sameID.AddStateValue(datasetAddr, tfjsonpath.New("id")),
						newID.AddStateValue(datasetAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{24}$`))),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("name"), knownvalue.StringExact("Profile export")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("description"), knownvalue.StringExact("Profiles exported for the warehouse")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("schema_ref"), knownvalue.ObjectExact(map[string]knownvalue.Check{
							"id":           knownvalue.StringExact(aepwire.SchemaProfileUnion),
							"content_type": knownvalue.StringExact(aepwire.DefaultSchemaContentType),
						})),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("tags"), knownvalue.MapExact(map[string]knownvalue.Check{
							"team":  knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("growth"), knownvalue.StringExact("emea")}),
							"owner": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("data-platform")}),
						})),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("profile_enabled"), knownvalue.Bool(true)),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("state"), knownvalue.StringExact("DRAFT")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("created_ms"), knownvalue.NotNull()),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("updated_ms"), knownvalue.NotNull()),
					},
				},
			}, importSteps(datasetAddr,
				plancheck.ExpectKnownValue("experienceplatform_dataset.generated", tfjsonpath.New("description"),
					knownvalue.StringExact("Profiles exported for the warehouse")),
				plancheck.ExpectKnownValue("experienceplatform_dataset.generated", tfjsonpath.New("tags").AtMapKey("team"),
					knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("growth"), knownvalue.StringExact("emea")})),
			), []resource.TestStep{
				{ // in-place update of name, description, tags and profile_enabled
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name        = "Profile export v2"
  description = "Renamed"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile__union"
  }
  tags = {
    team = ["growth"]
  }
}`),
					ConfigPlanChecks: expectAction(datasetAddr, plancheck.ResourceActionUpdate),
					ConfigStateChecks: []statecheck.StateCheck{
						sameID.AddStateValue(datasetAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("name"), knownvalue.StringExact("Profile export v2")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("description"), knownvalue.StringExact("Renamed")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("tags"), knownvalue.MapExact(map[string]knownvalue.Check{
							"team": knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("growth")}),
						})),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("profile_enabled"), knownvalue.Bool(false)),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("version"), knownvalue.StringExact("1.0.1")),
					},
				},
				{ // removing the optional attributes is an update too
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name = "Profile export v2"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile__union"
  }
}`),
					ConfigPlanChecks: expectAction(datasetAddr, plancheck.ResourceActionUpdate),
					ConfigStateChecks: []statecheck.StateCheck{
						sameID.AddStateValue(datasetAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("description"), knownvalue.Null()),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("tags"), knownvalue.Null()),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("version"), knownvalue.StringExact("1.0.2")),
					},
				},
				{ // a new schema replaces the dataset
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name = "Profile export v2"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile"
  }
}`),
					ConfigPlanChecks: expectAction(datasetAddr, plancheck.ResourceActionDestroyBeforeCreate),
					ConfigStateChecks: []statecheck.StateCheck{
						newID.AddStateValue(datasetAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("schema_ref").AtMapKey("id"), knownvalue.StringExact(aepwire.SchemaProfile)),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("version"), knownvalue.StringExact("1.0.0")),
					},
				},
			}),
		})
	})
}

func TestAccDatasetResource_deletedOutsideTerraform(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		testDeletedOutsideTerraform(t, datasetAddr, env.config(`
resource "experienceplatform_dataset" "test" {
  name = "Short-lived"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/profile__union"
  }
}`), env.engine.DeleteDataset)
	})
}

func TestAccDatasetResource_defaultsAndEmptyTags(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name = "Events"
  schema_ref = {
    id = "https://ns.adobe.com/xdm/context/experienceevent"
  }
  tags = {}
}`),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("tags"), knownvalue.MapSizeExact(0)),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("description"), knownvalue.Null()),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("profile_enabled"), knownvalue.Bool(false)),
						statecheck.ExpectKnownValue(datasetAddr, tfjsonpath.New("schema_ref").AtMapKey("content_type"),
							knownvalue.StringExact(aepwire.DefaultSchemaContentType)),
					},
				},
			},
		})
	})
}

// Tags the platform writes itself survive an update made through Terraform, and do not show as
// drift; so do the entries of unifiedProfile other than the enabled one that profile_enabled sets.
func TestAccDatasetResource_keepsPlatformTags(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		var id string
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name = "Tagged"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile" }
  tags       = { team = ["a"] }
}`),
					ConfigStateChecks: []statecheck.StateCheck{captureString(datasetAddr, tfjsonpath.New("id"), &id)},
				},
				{
					PreConfig: func() {
						// A Profile dataset's unifiedProfile tag holds isUpsert:true beside enabled:true.
						tags := map[string][]string{"team": {"a"}, "adobe/pqs/table": {"tagged"}, aepwire.TagUnifiedProfile: {"isUpsert:true"}}
						if _, err := env.engine.UpdateDataset(context.Background(), id, aepwire.DatasetPatch{Tags: &tags}); err != nil {
							t.Fatal(err)
						}
					},
					Config: env.config(`
resource "experienceplatform_dataset" "test" {
  name            = "Tagged"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  tags            = { team = ["b"] }
  profile_enabled = true
}`),
					ConfigPlanChecks: expectAction(datasetAddr, plancheck.ResourceActionUpdate),
					Check: func(*terraform.State) error {
						ds, err := env.engine.GetDataset(context.Background(), id)
						if err != nil {
							return err
						}
						want := map[string][]string{"team": {"b"}, "adobe/pqs/table": {"tagged"}, aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled, "isUpsert:true"}}
						if !reflect.DeepEqual(ds.Tags, want) {
							return fmt.Errorf("stored tags = %v, want %v", ds.Tags, want)
						}
						return nil
					},
				},
			},
		})
	})
}

func TestAccDatasetResource_validation(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		for name, tc := range map[string]struct {
			body string
			want []string
		}{
			"schema id not a URI": {
				body: `name = "x"
  schema_ref = { id = "profile__union" }`,
				want: []string{"Attribute schema_ref.id value must be an absolute URI", `got: "profile__union"`},
			},
			"empty tag name": {
				body: `name = "x"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile" }
  tags = { "" = ["v"] }`,
				want: []string{"Attribute tags tag names must not be empty; remove the entry or give it a name"},
			},
			"unifiedProfile in tags": {
				body: `name = "x"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile" }
  tags = { unifiedProfile = ["enabled:true"] }`,
				want: []string{"the unifiedProfile tag is managed by profile_enabled; remove it from tags and set profile_enabled = true instead"},
			},
			"platform tag": {
				body: `name = "x"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile" }
  tags = { "adobe/pqs/table" = ["t"] }`,
				want: []string{"tags under adobe/ are written by the platform and cannot be managed; use another name"},
			},
			"empty name": {
				body: `name = ""
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile" }`,
				want: []string{"Attribute name string length must be at least 1"},
			},
		} {
			t.Run(name, func(t *testing.T) {
				resource.ParallelTest(t, planFails(env.config("resource \"experienceplatform_dataset\" \"test\" {\n  "+tc.body+"\n}"), tc.want...))
			})
		}
	})
}
