package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"
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
