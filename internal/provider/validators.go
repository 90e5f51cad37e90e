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

// absoluteURIValidator accepts absolute URIs with a scheme and a host, the form of XDM schema ids
// (https://ns.adobe.com/xdm/context/profile__union).
type absoluteURIValidator struct{}

var _ validator.String = absoluteURIValidator{}

func (absoluteURIValidator) Description(context.Context) string {
	return "value must be an absolute URI such as https://ns.adobe.com/xdm/context/profile__union"
}

func (v absoluteURIValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v absoluteURIValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	u, err := url.Parse(req.ConfigValue.ValueString())
	if err != nil || u.Scheme == "" || u.Host == "" {
		resp.Diagnostics.Append(validatordiag.InvalidAttributeValueDiagnostic(req.Path, v.Description(ctx),
			req.ConfigValue.String()))
	}
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

// timestampValidator accepts RFC 3339 date-times with an offset, as AEP's export filters take.
type timestampValidator struct{}

var _ validator.String = timestampValidator{}

func (timestampValidator) Description(context.Context) string {
	return "value must be an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z"
}

func (v timestampValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v timestampValidator) ValidateString(ctx context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, ok := aepwire.ParseTimestamp(req.ConfigValue.ValueString()); !ok {
		resp.Diagnostics.Append(validatordiag.InvalidAttributeValueDiagnostic(req.Path, v.Description(ctx), req.ConfigValue.String()))
	}
}
