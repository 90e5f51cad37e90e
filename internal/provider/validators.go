package provider

import (
	"context"
	"fmt"
	"net/url"

	"github.com/hashicorp/terraform-plugin-framework-validators/helpers/validatordiag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// stringCheck is a plan-time string validator: a known value that ok refuses is invalid, and the
// error says what a valid one is.
type stringCheck struct {
	description string
	ok          func(string) bool
}

var _ validator.String = stringCheck{}

func (c stringCheck) Description(context.Context) string { return c.description }

func (c stringCheck) MarkdownDescription(context.Context) string { return c.description }

func (c stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() || c.ok(req.ConfigValue.ValueString()) {
		return
	}
	resp.Diagnostics.Append(validatordiag.InvalidAttributeValueDiagnostic(req.Path, c.description, req.ConfigValue.String()))
}

// absoluteURIValidator accepts absolute URIs with a scheme and a host, the form of XDM schema ids
// (https://ns.adobe.com/xdm/context/profile__union).
var absoluteURIValidator = stringCheck{
	description: "value must be an absolute URI such as https://ns.adobe.com/xdm/context/profile__union",
	ok: func(s string) bool {
		u, err := url.Parse(s)
		return err == nil && u.Scheme != "" && u.Host != ""
	},
}

// timestampValidator accepts RFC 3339 date-times with an offset, as AEP's export filters take.
var timestampValidator = stringCheck{
	description: "value must be an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z",
	ok: func(s string) bool {
		_, ok := aepwire.ParseTimestamp(s)
		return ok
	},
}

// fieldsValidator checks a `fields` list with the same parser the engine uses, so that a list the
// platform would refuse fails at plan time, with the position of the fault.
type fieldsValidator struct{}

var _ validator.String = fieldsValidator{}

func (fieldsValidator) Description(context.Context) string {
	return "value must be a comma-separated list of dot paths, such as identities.id,personalEmail.address"
}

func (v fieldsValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (fieldsValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := fields.Parse(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Malformed field list",
			fmt.Sprintf("Attribute %s is malformed at %s. A field list is comma-separated dot paths, such as "+
				"\"identities.id,personalEmail.address\", where a(b,c) stands for a.b,a.c.", req.Path, err))
	}
}
