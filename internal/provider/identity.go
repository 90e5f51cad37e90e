package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/identityschema"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Every resource is identified by its platform id alone: the organisation, sandbox or data
// directory it lives in is the provider configuration's, as for the resource's other calls.
type idIdentityModel struct {
	ID types.String `tfsdk:"id"`
}

// idIdentitySchema is the identity of a resource known by its id; what describes the id.
func idIdentitySchema(what string) identityschema.Schema {
	return identityschema.Schema{
		Attributes: map[string]identityschema.Attribute{
			"id": identityschema.StringAttribute{
				RequiredForImport: true,
				Description:       what + " In the organisation and sandbox (or the data directory) of the provider configuration.",
			},
		},
	}
}

// setIdentity records a resource's identity once its id is known. identity is nil only for a
// resource without an identity schema.
func setIdentity(ctx context.Context, identity *tfsdk.ResourceIdentity, id string) diag.Diagnostics {
	if identity == nil {
		return nil
	}
	return identity.Set(ctx, idIdentityModel{ID: types.StringValue(id)})
}

// importID is the id an import names: the id of `terraform import` or of an import block, else
// the id attribute of an import block's identity (Terraform 1.12 and later).
func importID(ctx context.Context, req resource.ImportStateRequest, diags *diag.Diagnostics) string {
	if req.ID != "" || req.Identity == nil {
		return req.ID
	}
	var id types.String
	diags.Append(req.Identity.GetAttribute(ctx, path.Root("id"), &id)...)
	return id.ValueString()
}

// importByID starts an import from the id it names. check, when set, explains what is wrong with a
// malformed id, or returns "".
func importByID(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, check func(id string) string) {
	id := importID(ctx, req, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if check != nil {
		if problem := check(id); problem != "" {
			resp.Diagnostics.AddError("Invalid import id", problem)
			return
		}
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
}
