package provider

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// captureString is a state check that copies a string attribute into *dst, for a later step's
// PreConfig to act on (for example, to delete the object behind Terraform's back).
func captureString(addr string, path tfjsonpath.Path, dst *string) statecheck.StateCheck {
	return captureCheck{addr: addr, path: path, dst: dst}
}

type captureCheck struct {
	addr string
	path tfjsonpath.Path
	dst  *string
}

func (c captureCheck) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil || req.State.Values == nil || req.State.Values.RootModule == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	for _, r := range req.State.Values.RootModule.Resources {
		if r.Address != c.addr {
			continue
		}
		v, err := tfjsonpath.Traverse(r.AttributeValues, c.path)
		if err != nil {
			resp.Error = err
			return
		}
		s, ok := v.(string)
		if !ok {
			resp.Error = fmt.Errorf("%s %s is %T, not a string", c.addr, c.path, v)
			return
		}
		*c.dst = s
		return
	}
	resp.Error = fmt.Errorf("%s not found in state", c.addr)
}

// errorPattern matches Terraform's rendering of an error that holds each phrase, in order. Terraform
// wraps long lines, so a space in a phrase matches any run of whitespace.
func errorPattern(phrases ...string) *regexp.Regexp {
	parts := make([]string, len(phrases))
	for i, p := range phrases {
		words := strings.Fields(p)
		for j, w := range words {
			words[j] = regexp.QuoteMeta(w)
		}
		parts[i] = strings.Join(words, `\s+`)
	}
	return regexp.MustCompile(`(?s)` + strings.Join(parts, `.*`))
}

// configFails is a test of one configuration whose apply fails with an error that holds each
// phrase, in order (see errorPattern).
func configFails(config string, phrases ...string) resource.TestCase {
	return resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    []resource.TestStep{{Config: config, ExpectError: errorPattern(phrases...)}},
	}
}

// planFails is configFails for a configuration that the plan already refuses.
func planFails(config string, phrases ...string) resource.TestCase {
	tc := configFails(config, phrases...)
	tc.Steps[0].PlanOnly = true
	return tc
}

// openTofu reports whether the acceptance tests run OpenTofu rather than Terraform.
var openTofu = sync.OnceValue(func() bool {
	out, err := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "version").Output()
	return err == nil && bytes.HasPrefix(out, []byte("OpenTofu"))
})

// importSteps import the resource at addr, which an earlier step created, in every way a user
// can: `terraform import` (verifying every attribute), an import block by id (a no-op plan), and
// plan -generate-config-out, whose plan for the generated resource (addressed as NAME.generated)
// must be a no-op and pass the checks.
func importSteps(addr string, generated ...plancheck.PlanCheck) []resource.TestStep {
	return []resource.TestStep{
		{ResourceName: addr, ImportState: true, ImportStateVerify: true},
		{ResourceName: addr, ImportState: true, ImportStateKind: resource.ImportBlockWithID},
		{
			ResourceName:     addr,
			ImportState:      true,
			ImportStateKind:  resource.ImportBlockWithID,
			GenerateConfig:   true,
			ImportPlanChecks: resource.ImportPlanChecks{PreApply: generated},
		},
	}
}

// adoptingImportSteps import the resource at addr, which an earlier step created, by `terraform
// import` (verifying every attribute but the ones the platform does not know) and by an import
// block, whose plan adopts the configuration's values of those attributes in place.
func adoptingImportSteps(addr string, unknown ...string) []resource.TestStep {
	return []resource.TestStep{
		{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: unknown},
		{
			ResourceName:       addr,
			ImportState:        true,
			ImportStateKind:    resource.ImportBlockWithID,
			ExpectNonEmptyPlan: true,
			ImportPlanChecks: resource.ImportPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
			}},
		},
	}
}

// testDeletedOutsideTerraform applies config, deletes the object of the resource at addr behind
// Terraform's back with del, and checks that the next plan creates it again, under a new id, and
// that nothing is left to change after that apply.
func testDeletedOutsideTerraform(t *testing.T, addr, config string, del func(context.Context, string) error) {
	var id string
	newID := statecheck.CompareValue(compare.ValuesDiffer())
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					captureString(addr, tfjsonpath.New("id"), &id),
					newID.AddStateValue(addr, tfjsonpath.New("id")),
				},
			},
			{
				PreConfig: func() {
					if err := del(context.Background(), id); err != nil {
						t.Fatalf("deleting %s %s behind Terraform's back: %v", addr, id, err)
					}
				},
				Config:            config,
				ConfigPlanChecks:  expectAction(addr, plancheck.ResourceActionCreate),
				ConfigStateChecks: []statecheck.StateCheck{newID.AddStateValue(addr, tfjsonpath.New("id"))},
			},
		},
	})
}

// expectAction checks that the plan does action to the resource at addr, and that once applied,
// the configuration plans nothing more.
func expectAction(addr string, action plancheck.ResourceActionType) resource.ConfigPlanChecks {
	return resource.ConfigPlanChecks{
		PreApply:             []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, action)},
		PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
	}
}
