package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// errorDetail is the detail of an error diagnostic: what happened, what to do, then the original
// error.
func errorDetail(what, todo string, err error) string {
	detail := what
	if todo != "" {
		detail += "\n\n" + todo
	}
	if err != nil {
		detail += "\n\nOriginal error: " + err.Error()
	}
	return detail
}

// unexpectedProviderData reports a provider data value of the wrong type: a bug, not user error.
func unexpectedProviderData(diags *diag.Diagnostics, data any) {
	diags.AddError("Unexpected provider data",
		fmt.Sprintf("Expected *providerData, got %T. This is a bug in the provider; please report it.", data))
}

// configureData returns the provider data handed to a resource or data source, or nil (with a
// diagnostic when the type is wrong). Data is nil until the provider is configured.
func configureData(diags *diag.Diagnostics, data any) *providerData {
	if data == nil {
		return nil
	}
	pd, ok := data.(*providerData)
	if !ok {
		unexpectedProviderData(diags, data)
		return nil
	}
	return pd
}

// readFailed handles the error of the lookup of the object id in a resource's Read, and reports
// whether Read must stop. An object deleted outside Terraform is removed from the state with the
// warning gone; any other error is reported with the sentence failed. kind names the object,
// capitalised.
func readFailed(ctx context.Context, resp *resource.ReadResponse, id string, err error, kind, gone, failed string) bool {
	switch {
	case err == nil:
		return false
	case aepwire.IsNotFound(err):
		resp.Diagnostics.AddWarning(kind+" no longer exists", gone)
		resp.State.RemoveResource(ctx)
		// The framework wants an identity even for a removed resource, and a state written by
		// Terraform before 1.12 has none to carry over.
		resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, id)...)
	default:
		resp.Diagnostics.AddError("Cannot read "+strings.ToLower(kind), errorDetail(failed, "", err))
	}
	return true
}
