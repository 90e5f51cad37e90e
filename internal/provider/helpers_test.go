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

// openTofu reports whether the acceptance tests run OpenTofu rather than Terraform.
var openTofu = sync.OnceValue(func() bool {
	out, err := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "version").Output()
	return err == nil && bytes.HasPrefix(out, []byte("OpenTofu"))
})
