package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

var (
	_ resource.Resource                = (*datasetResource)(nil)
	_ resource.ResourceWithConfigure   = (*datasetResource)(nil)
	_ resource.ResourceWithImportState = (*datasetResource)(nil)
	_ resource.ResourceWithIdentity    = (*datasetResource)(nil)
)

// NewDatasetResource returns the experienceplatform_dataset resource.
func NewDatasetResource() resource.Resource {
	return &datasetResource{resourceBase{name: "dataset"}}
}

type datasetResource struct {
	resourceBase
}

var datasetKind = objectKind{name: "dataset", recreate: "create it again"}

type datasetResourceModelV0 struct {
	ID             types.String      `tfsdk:"id"`
	Name           types.String      `tfsdk:"name"`
	Description    types.String      `tfsdk:"description"`
	SchemaRef      *schemaRefModelV0 `tfsdk:"schema_ref"`
	Tags           types.Map         `tfsdk:"tags"`
	ProfileEnabled types.Bool        `tfsdk:"profile_enabled"`
	Version        types.String      `tfsdk:"version"`
	CreatedMs      types.Int64       `tfsdk:"created_ms"`
	UpdatedMs      types.Int64       `tfsdk:"updated_ms"`
	State          types.String      `tfsdk:"state"`
}

type schemaRefModelV0 struct {
	ID          types.String `tfsdk:"id"`
	ContentType types.String `tfsdk:"content_type"`
}

func (r *datasetResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A Catalog dataset. Export jobs write their batches into a dataset on the profile union " +
			"schema; batches are ingested into profile or experience-event datasets. Name, description, tags and " +
			"profile_enabled change in place; a new schema_ref replaces the dataset. Destroy deletes the dataset " +
			"with its batches and the profile data they contributed.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "Catalog id of the dataset (24 hexadecimal characters).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:    true,
				Description: "Name of the dataset.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"description": schema.StringAttribute{
				Optional:    true,
				Description: "Description of the dataset. Omit it for none.",
				Validators:  []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"schema_ref": schema.SingleNestedAttribute{
				Required: true,
				Description: "The XDM schema of the dataset. Use `https://ns.adobe.com/xdm/context/profile__union` for " +
					"an export destination, `https://ns.adobe.com/xdm/context/profile` for profile records and " +
					"`https://ns.adobe.com/xdm/context/experienceevent` for experience events. Changing it replaces the dataset.",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplace()},
				Attributes: map[string]schema.Attribute{
					"id": schema.StringAttribute{
						Required:    true,
						Description: "The schema's URI.",
						Validators:  []validator.String{absoluteURIValidator},
					},
					"content_type": schema.StringAttribute{
						Optional:    true,
						Computed:    true,
						Default:     stringdefault.StaticString(aepwire.DefaultSchemaContentType),
						Description: "Content type of the schema reference. Defaults to `" + aepwire.DefaultSchemaContentType + "`.",
					},
				},
			},
			"tags": schema.MapAttribute{
				Optional:    true,
				ElementType: tagsType.ElemType,
				Description: "Catalog tags: each name holds a list of values. `unifiedProfile` is managed through " +
					"`profile_enabled`, and tags under `adobe/` belong to the platform: neither may be set here, " +
					"and updates leave them as they are.",
				Validators: []validator.Map{tagNamesValidator{}},
			},
			"profile_enabled": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				Description: "Whether the dataset is enabled for Real-Time Customer Profile (the `enabled:true` entry of the " +
					"`unifiedProfile` tag; its other entries, such as `isUpsert:true`, are kept as the platform has them). " +
					"Only batches ingested while a profile or experience-event dataset is enabled feed the profile store " +
					"that export jobs read. Defaults to false.",
			},
			"version": schema.StringAttribute{
				Computed:    true,
				Description: "Catalog version of the dataset, a semantic version bumped by every change.",
			},
			"created_ms": schema.Int64Attribute{
				Computed:      true,
				Description:   "Creation time, epoch milliseconds.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"updated_ms": schema.Int64Attribute{
				Computed:    true,
				Description: "Time of the last change, epoch milliseconds.",
			},
			"state": schema.StringAttribute{
				Computed:    true,
				Description: "Catalog state of the dataset, such as `DRAFT`.",
			},
		},
	}
}

func (r *datasetResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentitySchema("Catalog id of the dataset.")
}

func (r *datasetResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan datasetResourceModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	tags, diags := userTags(ctx, plan.Tags)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ds, err := r.data.backend.CreateDataset(ctx, aepwire.DatasetRequest{
		Name:        plan.Name.ValueString(),
		Description: plan.Description.ValueString(),
		SchemaRef:   aepwire.SchemaRef{ID: plan.SchemaRef.ID.ValueString(), ContentType: plan.SchemaRef.ContentType.ValueString()},
		Tags:        catalogTags(tags, plan.ProfileEnabled.ValueBool(), nil),
	})
	if err != nil {
		resp.Diagnostics.AddError("Cannot create dataset",
			createDetail(fmt.Sprintf("The platform refused to create the dataset %q.", plan.Name.ValueString()),
				"Check the attributes named in the error below.", err))
		return
	}
	tflog.Info(ctx, "created dataset", map[string]any{"dataset_id": ds.ID})
	save(ctx, &plan, ds, ds.ID, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *datasetResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readObject(ctx, req, resp, &datasetResourceModelV0{}, datasetKind, r.data.backend.GetDataset)
}

func (r *datasetResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state datasetResourceModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id := state.ID.ValueString()
	tags, diags := userTags(ctx, plan.Tags)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The platform's own tags must survive the update, so start from the dataset as stored.
	current, err := r.data.backend.GetDataset(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot update dataset",
			errorDetail(fmt.Sprintf("Reading the dataset %s before updating it failed.", id), "", err))
		return
	}
	name, description := plan.Name.ValueString(), plan.Description.ValueString()
	all := catalogTags(tags, plan.ProfileEnabled.ValueBool(), current.Tags)
	ds, err := r.data.backend.UpdateDataset(ctx, id, aepwire.DatasetPatch{Name: &name, Description: &description, Tags: &all})
	if err != nil {
		resp.Diagnostics.AddError("Cannot update dataset",
			errorDetail(fmt.Sprintf("The platform refused to update the dataset %s.", id),
				"Check the attributes named in the error below.", err))
		return
	}
	tflog.Info(ctx, "updated dataset", map[string]any{"dataset_id": id, "version": ds.Version})
	save(ctx, &plan, ds, id, &resp.State, resp.Identity, &resp.Diagnostics)
}

func (r *datasetResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteObject(ctx, req, resp, datasetKind, r.data.backend.DeleteDataset)
}

func (r *datasetResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, nil)
}

// fill sets the model from a stored dataset. Optional attributes the dataset leaves empty keep
// their null (or empty) form from the model, so that reading never invents a difference.
func (m *datasetResourceModelV0) fill(ctx context.Context, ds *aepwire.Dataset) diag.Diagnostics {
	m.ID = types.StringValue(ds.ID)
	m.Name = types.StringValue(ds.Name)
	m.Description = optionalString(ds.Description)
	m.SchemaRef = &schemaRefModelV0{ID: types.StringValue(ds.SchemaRef.ID), ContentType: types.StringValue(ds.SchemaRef.ContentType)}
	m.ProfileEnabled = types.BoolValue(aepwire.ProfileEnabled(ds.Tags))
	m.Version = types.StringValue(ds.Version)
	m.CreatedMs = types.Int64Value(ds.Created)
	m.UpdatedMs = types.Int64Value(ds.Updated)
	m.State = types.StringValue(ds.State)
	var diags diag.Diagnostics
	m.Tags, diags = tagsValue(ctx, ds.Tags, m.Tags)
	return diags
}
