package provider

import (
	"context"
	"net/url"

	"github.com/hashicorp/terraform-plugin-framework-validators/helpers/validatordiag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
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
