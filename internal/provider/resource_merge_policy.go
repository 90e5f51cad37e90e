package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

var (
	_ resource.Resource                   = (*mergePolicyResource)(nil)
	_ resource.ResourceWithConfigure      = (*mergePolicyResource)(nil)
	_ resource.ResourceWithImportState    = (*mergePolicyResource)(nil)
	_ resource.ResourceWithValidateConfig = (*mergePolicyResource)(nil)
	_ resource.ResourceWithIdentity       = (*mergePolicyResource)(nil)
)

// NewMergePolicyResource returns the experienceplatform_merge_policy resource.
func NewMergePolicyResource() resource.Resource {
	return &mergePolicyResource{resourceBase{name: "merge_policy"}}
}

type mergePolicyResource struct {
	resourceBase
}

var mergePolicyKind = objectKind{name: "merge policy", recreate: "create it again"}

type mergePolicyModelV0 struct {
	ID             types.String `tfsdk:"id"`
	Name           types.String `tfsdk:"name"`
	IdentityGraph  types.String `tfsdk:"identity_graph"`
	AttributeMerge types.String `tfsdk:"attribute_merge"`
	DatasetOrder   types.List   `tfsdk:"dataset_order"`
	Default        types.Bool   `tfsdk:"default"`
	Version        types.Int64  `tfsdk:"version"`
	UpdateEpoch    types.Int64  `tfsdk:"update_epoch"`
}

func (r *mergePolicyResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A merge policy of Real-Time Customer Profile: how profile fragments are stitched into " +
			"profiles (identity_graph) and which fragment wins when attributes conflict (attribute_merge). " +
			"Export jobs name the policy, and optionally its version. Every change updates the policy in place and " +
			"raises its version; earlier versions stay usable by jobs. Destroy deletes the policy with all its versions; " +
			"destroying the default policy leaves the sandbox without one. A sandbox holds at most five merge policies " +
			"(in the embedded engine, counting its two built-in ones, timestampOrdered-none-mp and timestampOrdered-pdg-mp).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "Id of the merge policy.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:    true,
				Description: "Name of the merge policy.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"identity_graph": schema.StringAttribute{
				Required: true,
				Description: "How fragments form profiles: `none` (the fragments sharing one primary identity) or `pdg` " +
					"(the private identity graph: every record links all of its identities, and a profile is all that " +
					"is linked; graphs of more than 50 identities are left out of exports).",
				Validators: []validator.String{stringvalidator.OneOf(aepwire.IdentityGraphNone, aepwire.IdentityGraphPDG)},
			},
			"attribute_merge": schema.StringAttribute{
				Required: true,
				Description: "Which fragment wins a conflicting attribute: `timestampOrdered` (the most recently ingested) " +
					"or `dataSetPrecedence` (by the position of its dataset in dataset_order; fragments of datasets not " +
					"listed are ignored).",
				Validators: []validator.String{stringvalidator.OneOf(aepwire.AttributeMergeTimestampOrdered, aepwire.AttributeMergeDataSetPrecedence)},
			},
			"dataset_order": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				Description: "Dataset ids, highest precedence first. Required with `dataSetPrecedence`, not allowed otherwise.",
				Validators:  []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()},
			},
			"default": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				Description: "Whether this is the sandbox's default merge policy, which export jobs without a merge " +
					"policy use. Making a policy the default takes the place of the previous default, which does not get it " +
					"back when this policy stops being the default or is destroyed. Defaults to false.",
			},
			"version": schema.Int64Attribute{
				Computed:    true,
				Description: "Version of the policy: 1 when created, raised by every change.",
			},
			"update_epoch": schema.Int64Attribute{
				Computed:    true,
				Description: "Time of the last change, epoch seconds.",
			},
		},
	}
}

func (r *mergePolicyResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentitySchema("Id of the merge policy.")
}

func (r *mergePolicyResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var config mergePolicyModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() || config.AttributeMerge.IsUnknown() || config.DatasetOrder.IsUnknown() {
		return
	}
	switch config.AttributeMerge.ValueString() {
	case aepwire.AttributeMergeDataSetPrecedence:
		if config.DatasetOrder.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("dataset_order"), "Missing dataset order",
				"attribute_merge = \"dataSetPrecedence\" ranks fragments by their dataset: list the dataset ids in "+
					"dataset_order, highest precedence first.")
		}
	case aepwire.AttributeMergeTimestampOrdered:
		if !config.DatasetOrder.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("dataset_order"), "Dataset order without dataset precedence",
				"dataset_order is only used with attribute_merge = \"dataSetPrecedence\": remove it, or change attribute_merge.")
		}
	}
}

func (m *mergePolicyModelV0) policy(ctx context.Context) (aepwire.MergePolicy, diag.Diagnostics) {
	p := aepwire.MergePolicy{
		Name:           m.Name.ValueString(),
		Schema:         aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		IdentityGraph:  aepwire.IdentityGraph{Type: m.IdentityGraph.ValueString()},
		AttributeMerge: aepwire.AttributeMerge{Type: m.AttributeMerge.ValueString()},
		Default:        m.Default.ValueBool(),
	}
	var diags diag.Diagnostics
	if !m.DatasetOrder.IsNull() {
		diags = m.DatasetOrder.ElementsAs(ctx, &p.AttributeMerge.Order, false)
	}
	return p, diags
}

// plannedPolicy reads the plan and the merge policy it asks for; false when either has an error
// (or diags had one before).
func plannedPolicy(ctx context.Context, plan tfsdk.Plan, diags *diag.Diagnostics) (mergePolicyModelV0, aepwire.MergePolicy, bool) {
	var m mergePolicyModelV0
	diags.Append(plan.Get(ctx, &m)...)
	if diags.HasError() {
		return m, aepwire.MergePolicy{}, false
	}
	p, d := m.policy(ctx)
	diags.Append(d...)
	return m, p, !diags.HasError()
}

func (m *mergePolicyModelV0) fill(ctx context.Context, p *aepwire.MergePolicy) diag.Diagnostics {
	m.ID = types.StringValue(p.ID)
	m.Name = types.StringValue(p.Name)
	m.IdentityGraph = types.StringValue(p.IdentityGraph.Type)
	m.AttributeMerge = types.StringValue(p.AttributeMerge.Type)
	m.Default = types.BoolValue(p.Default)
	m.Version = types.Int64Value(p.Version)
	m.UpdateEpoch = types.Int64Value(p.UpdateEpoch)
	m.DatasetOrder = types.ListNull(types.StringType)
	if len(p.AttributeMerge.Order) > 0 {
		var diags diag.Diagnostics
		m.DatasetOrder, diags = types.ListValueFrom(ctx, types.StringType, p.AttributeMerge.Order)
		return diags
	}
	return nil
}

func (r *mergePolicyResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	plan, p, ok := plannedPolicy(ctx, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	created, err := r.data.backend.CreateMergePolicy(ctx, p)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create merge policy",
			createDetail(fmt.Sprintf("The platform refused the merge policy %q.", p.Name),
				"Check the attributes named in the error below; a sandbox holds at most five merge policies.", err))
		return
	}
	tflog.Info(ctx, "created merge policy", map[string]any{"merge_policy_id": created.ID})
	save(ctx, &plan, created, created.ID, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *mergePolicyResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readObject(ctx, req, resp, &mergePolicyModelV0{}, mergePolicyKind, r.data.backend.GetMergePolicy)
}

func (r *mergePolicyResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var state mergePolicyModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	plan, p, ok := plannedPolicy(ctx, req.Plan, &resp.Diagnostics)
	if !ok {
		return
	}
	updated, err := r.data.backend.UpdateMergePolicy(ctx, state.ID.ValueString(), p)
	if err != nil {
		resp.Diagnostics.AddError("Cannot update merge policy",
			errorDetail(fmt.Sprintf("The platform refused to update the merge policy %s.", state.ID.ValueString()),
				"Check the attributes named in the error below.", err))
		return
	}
	tflog.Info(ctx, "updated merge policy", map[string]any{"merge_policy_id": updated.ID, "version": updated.Version})
	save(ctx, &plan, updated, updated.ID, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *mergePolicyResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteObject(ctx, req, resp, mergePolicyKind, r.data.backend.DeleteMergePolicy)
}

func (r *mergePolicyResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, nil)
}
