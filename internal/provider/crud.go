package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// objectModel is a resource model that fills itself from the platform's object T.
type objectModel[T any] interface {
	fill(context.Context, T) diag.Diagnostics
}

// save fills m from obj, as the platform reports it, and makes it the resource's state, with the
// identity id.
func save[T any](ctx context.Context, m objectModel[T], obj T, id string, state *tfsdk.State, identity *tfsdk.ResourceIdentity, diags *diag.Diagnostics) {
	diags.Append(m.fill(ctx, obj)...)
	diags.Append(state.Set(ctx, m)...)
	diags.Append(setIdentity(ctx, identity, id)...)
}

// objectKind names a kind of platform object in messages: "dataset", and what the next plan does
// when one was deleted outside Terraform.
type objectKind struct {
	name     string
	recreate string
}

// readObject is the Read of a resource whose state m is filled from the object get returns for the
// id in the state. An object deleted outside Terraform is removed from the state with a warning.
func readObject[T any](ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse, m objectModel[T], kind objectKind, get func(context.Context, string) (T, error)) {
	id := stateID(ctx, req.State, &resp.Diagnostics)
	resp.Diagnostics.Append(req.State.Get(ctx, m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	obj, err := get(ctx, id)
	if readFailed(ctx, resp, id, err, kind) {
		return
	}
	save(ctx, m, obj, id, &resp.State, resp.Identity, &resp.Diagnostics)
}

// readFailed handles the error of the lookup of the object id in a resource's Read, and reports
// whether Read must stop. An object deleted outside Terraform is removed from the state with a
// warning that says what the next plan does; any other error is reported.
func readFailed(ctx context.Context, resp *resource.ReadResponse, id string, err error, kind objectKind) bool {
	switch {
	case err == nil:
		return false
	case aepwire.IsNotFound(err):
		resp.Diagnostics.AddWarning(strings.ToUpper(kind.name[:1])+kind.name[1:]+" no longer exists",
			fmt.Sprintf("The %s %s was deleted outside Terraform. It is removed from the state, and the next plan will %s.",
				kind.name, id, kind.recreate))
		resp.State.RemoveResource(ctx)
		// The framework wants an identity even for a removed resource, and a state written by
		// Terraform before 1.12 has none to carry over.
		resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, id)...)
	default:
		resp.Diagnostics.AddError("Cannot read "+kind.name, errorDetail(fmt.Sprintf("Reading the %s %s failed.", kind.name, id), "", err))
	}
	return true
}

// deleteObject is the Delete of a resource whose object del deletes by the id in the state; an
// object that is already gone is no error.
func deleteObject(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse, kind objectKind, del func(context.Context, string) error) {
	id := stateID(ctx, req.State, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := del(ctx, id); err != nil && !aepwire.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete "+kind.name, errorDetail(fmt.Sprintf("Deleting the %s %s failed.", kind.name, id), "", err))
		return
	}
	tflog.Info(ctx, "deleted "+kind.name, map[string]any{"id": id})
}

// lookupObject is the Read of a data source that looks an object up by the id in its
// configuration, and fills its model m from it.
func lookupObject[T any](ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse, m objectModel[T], kind objectKind, get func(context.Context, string) (T, error)) {
	var id types.String
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("id"), &id)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	obj, err := get(ctx, id.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot read "+kind.name,
			errorDetail(fmt.Sprintf("Looking up the %s %s failed.", kind.name, id.ValueString()),
				fmt.Sprintf("Check that the id names an existing %s.", kind.name), err))
		return
	}
	resp.Diagnostics.Append(m.fill(ctx, obj)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

// stateID is the id attribute of a resource's state.
func stateID(ctx context.Context, state tfsdk.State, diags *diag.Diagnostics) string {
	var id types.String
	diags.Append(state.GetAttribute(ctx, path.Root("id"), &id)...)
	return id.ValueString()
}
