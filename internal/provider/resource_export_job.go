package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/objectplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

var (
	_ resource.Resource                   = (*exportJobResource)(nil)
	_ resource.ResourceWithConfigure      = (*exportJobResource)(nil)
	_ resource.ResourceWithImportState    = (*exportJobResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*exportJobResource)(nil)
	_ resource.ResourceWithValidateConfig = (*exportJobResource)(nil)
	_ resource.ResourceWithIdentity       = (*exportJobResource)(nil)
)

const (
	defaultExportCreateTimeout = 60 * time.Minute
	defaultExportUpdateTimeout = 60 * time.Minute
	defaultExportDeleteTimeout = 10 * time.Minute
)

// privateImported marks, in the private state, a job that import brought in: it was not started by
// the configuration's triggers, so the first triggers it is given adopt it instead of running it
// again.
const privateImported = "imported"

var datasetIDPattern = regexp.MustCompile(`^[0-9a-f]{24}$`)

// NewExportJobResource returns the experienceplatform_export_job resource.
func NewExportJobResource() resource.Resource {
	return &exportJobResource{resourceBase{name: "export_job"}}
}

type exportJobResource struct {
	resourceBase
}

var exportJobKind = objectKind{name: "export job", recreate: "start a new job"}

type exportJobResourceModelV0 struct {
	exportJobInputsModel
	exportJobViewModel
	Triggers          types.Map      `tfsdk:"triggers"`
	WaitForCompletion types.Bool     `tfsdk:"wait_for_completion"`
	Timeouts          timeouts.Value `tfsdk:"timeouts"`
}

// setView sets the attributes the job reports. A merge policy left out of the configuration is
// the one the job used.
func (m *exportJobResourceModelV0) setView(ctx context.Context, job *aepwire.ExportJob) diag.Diagnostics {
	v, diags := jobViewOf(ctx, job)
	m.exportJobViewModel = v
	if m.MergePolicy.IsUnknown() || m.MergePolicy.IsNull() || hasUnknownVersion(ctx, m.MergePolicy) {
		in, d := jobInputsOf(ctx, job)
		diags.Append(d...)
		m.MergePolicy = in.MergePolicy
	}
	return diags
}

func hasUnknownVersion(ctx context.Context, o types.Object) bool {
	var diags diag.Diagnostics
	mp, ok := modelOf[mergePolicyRefModelV0](ctx, &diags, o)
	return ok && !diags.HasError() && mp.Version.IsUnknown()
}

func timingAttribute(what string) schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{
		Computed:    true,
		Description: what + " When it started and ended, and how long it took.",
		Attributes: map[string]schema.Attribute{
			"start_ms": schema.Int64Attribute{Computed: true, Description: "When it started, epoch milliseconds."},
			"end_ms":   schema.Int64Attribute{Computed: true, Description: "When it ended, epoch milliseconds; null while it runs."},
			"total_ms": schema.Int64Attribute{Computed: true, Description: "How long it took, in milliseconds (end_ms - start_ms); null while it runs."},
		},
	}
}

// messagesAttribute is a job's list of { code, msg }.
func messagesAttribute(what, code, msg string) schema.ListNestedAttribute {
	return schema.ListNestedAttribute{
		Computed:    true,
		Description: what,
		NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
			"code": schema.StringAttribute{Computed: true, Description: code},
			"msg":  schema.StringAttribute{Computed: true, Description: msg},
		}},
	}
}

func (r *exportJobResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.Object{objectplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		Description: "A profile export job: create starts one job (POST /export/jobs) that exports the merged " +
			"profiles into a dataset on the profile union schema, and waits until it has SUCCEEDED. The job id is in " +
			"the state before the wait, so a job that FAILS, is CANCELLED or outlasts timeouts.create is an apply " +
			"error and leaves a tainted resource, which the next apply replaces (cancelling the job if it still runs). " +
			"Every input but wait_for_completion and timeouts starts a new job when it changes; change triggers to run " +
			"the job again with the same inputs. A finished job is never run again by a plain apply. Destroy cancels a " +
			"job that is still running and waits until it has stopped; the records of finished jobs, and the batches " +
			"they wrote, stay.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "Id of the export job.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"fields": schema.StringAttribute{
				Optional: true,
				Description: "The profile fields to export: comma-separated dot paths such as " +
					"`identities.id,personalEmail.address`, where `a(b,c)` stands for `a.b,a.c`. A path that crosses an " +
					"array applies to every element. Omit it to export whole profiles.",
				Validators: []validator.String{fieldsValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(fieldsRequireReplace,
					"Another list of fields starts a new job; the same list spelt otherwise changes in place.",
					"Another list of fields starts a new job; the same list spelt otherwise changes in place.")},
			},
			"merge_policy": schema.SingleNestedAttribute{
				Optional: true,
				Computed: true,
				Description: "The merge policy that builds the profiles. Omitted: the sandbox's default policy, " +
					"recorded here once the job is created. With a policy whose identity_graph is `none` (such as the " +
					"embedded engine's default, `timestampOrdered-none-mp`), an event joins only the profile whose primary " +
					"identity is the event's primary identity; use a `pdg` policy to attach events through any identity " +
					"they share with the profile.",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplace(), objectplanmodifier.UseStateForUnknown()},
				Attributes: map[string]schema.Attribute{
					// Computed too (and required by ValidateConfig) because Terraform takes an optional
					// and computed object that holds a non-computed value for one that was configured.
					"id": schema.StringAttribute{Optional: true, Computed: true, Description: "Id of the merge policy, such as " +
						"experienceplatform_merge_policy.x.id, or a policy built into the embedded engine, such as " +
						"`timestampOrdered-pdg-mp`. Required when merge_policy is set.",
						Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
						PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
					"version": schema.Int64Attribute{Optional: true, Computed: true,
						Description:   "Version of the merge policy (1 or more); omitted, the latest, recorded here once the job is created.",
						Validators:    []validator.Int64{int64validator.AtLeast(1)},
						PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}},
				},
			},
			"filter": schema.SingleNestedAttribute{
				Optional:      true,
				Description:   "Which profiles to export. Omitted: every profile that has at least one profile record.",
				PlanModifiers: replace,
				Attributes: map[string]schema.Attribute{
					"from_ingest_timestamp": schema.StringAttribute{Optional: true,
						Description: "Only profiles updated (by an ingested profile record) strictly after this RFC 3339 time.",
						Validators:  []validator.String{timestampValidator}},
					"empty_profiles": schema.BoolAttribute{Optional: true,
						Description: "Also export profiles that have events but no profile record; their rows hold only eventList."},
					"segments": schema.ListNestedAttribute{Optional: true,
						Description: "Only profiles that are members of one of these segments, at most 100, each named once. A " +
							"profile in several is exported once (or once a segment with destination.segment_per_batch).",
						Validators: []validator.List{listvalidator.SizeAtMost(aepwire.MaxExportSegments), listvalidator.UniqueValues()},
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"segment_id": schema.StringAttribute{Required: true, Description: "Id of the segment.",
								Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
							"segment_ns": schema.StringAttribute{Optional: true, Description: "Namespace of the segment; `ups` when omitted."},
							"status": schema.ListAttribute{Optional: true, ElementType: types.StringType,
								Description: "Membership statuses that qualify: `realized`, `existing`, `exited`. Omitted: realized and existing.",
								Validators: []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues(), listvalidator.ValueStringsAre(
									stringvalidator.OneOf(aepwire.SegmentRealized, aepwire.SegmentExisting, aepwire.SegmentExited))}},
						}},
					},
					"segment_qualification_time": schema.SingleNestedAttribute{Optional: true,
						Description: "With segments: the qualifying membership's lastQualificationTime must lie in this window (bounds included).",
						Attributes: map[string]schema.Attribute{
							"start_time": schema.StringAttribute{Optional: true, Description: "RFC 3339 start of the window.",
								Validators: []validator.String{timestampValidator}},
							"end_time": schema.StringAttribute{Optional: true, Description: "RFC 3339 end of the window.",
								Validators: []validator.String{timestampValidator}},
						}},
				},
			},
			"event_list": schema.SingleNestedAttribute{
				Optional: true,
				Description: "Add each profile's experience events to its row, as `eventList`, ordered by timestamp " +
					"(the API's additionalFields.eventList). Omitted: rows have no events.",
				PlanModifiers: []planmodifier.Object{objectplanmodifier.RequiresReplaceIf(eventListRequiresReplace,
					"Another event list starts a new job; the same event fields spelt otherwise change in place.",
					"Another event list starts a new job; the same event fields spelt otherwise change in place.")},
				Attributes: map[string]schema.Attribute{
					"fields": schema.StringAttribute{Optional: true, Description: "The event fields to export, in the grammar of `fields`; omitted, whole events.",
						Validators: []validator.String{fieldsValidator{}}},
					"from_ingest_timestamp": schema.StringAttribute{Optional: true, Description: "Only events ingested strictly after this RFC 3339 time.",
						Validators: []validator.String{timestampValidator}},
					"to_ingest_timestamp": schema.StringAttribute{Optional: true, Description: "Only events ingested strictly before this RFC 3339 time. " +
						"A batch's `ingested_at` is a handy bound; mind that Terraform creates independent batches in parallel, so " +
						"order them with depends_on when one must be ingested after another.",
						Validators: []validator.String{timestampValidator}},
				},
			},
			"destination": schema.SingleNestedAttribute{
				Required:      true,
				Description:   "Where the job writes its batches.",
				PlanModifiers: replace,
				Attributes: map[string]schema.Attribute{
					"dataset_id": schema.StringAttribute{Required: true,
						Description: "Id of a dataset on the profile union schema (https://ns.adobe.com/xdm/context/profile__union).",
						Validators: []validator.String{stringvalidator.RegexMatches(datasetIDPattern,
							"must be a Catalog dataset id: 24 lowercase hexadecimal characters, such as experienceplatform_dataset.export.id")}},
					"segment_per_batch": schema.BoolAttribute{Optional: true, Computed: true, Default: booldefault.StaticBool(false),
						Description: "Write one batch a segment of filter.segments (see batches) instead of one batch. Needs filter.segments."},
				},
			},
			"schema_name": schema.StringAttribute{
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(aepwire.ProfileSchemaName),
				Description:   "Schema of the exported profiles; `" + aepwire.ProfileSchemaName + "`, the default, is the one supported.",
				Validators:    []validator.String{stringvalidator.OneOf(aepwire.ProfileSchemaName)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"triggers": schema.MapAttribute{
				Optional:    true,
				ElementType: types.StringType,
				Description: "Arbitrary values; changing any of them starts a new job, for example to export again after new " +
					"data, or every night with a value derived from `plantimestamp()` or `time_rotating`. The triggers given " +
					"to an imported job adopt it as it is, without running it again.",
				PlanModifiers: []planmodifier.Map{mapplanmodifier.RequiresReplaceIf(adoptedByTriggers,
					"Changing triggers starts a new job, except the first triggers of an imported job.",
					"Changing `triggers` starts a new job, except the first triggers of an imported job.")},
			},
			"wait_for_completion": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				Description: "Wait until the job has ended (default); with `TF_LOG_PROVIDER=INFO`, the provider logs its " +
					"progress meanwhile. With false, apply returns once the job is accepted; the job keeps running, and " +
					"later refreshes report its status and metrics. A job found FAILED or CANCELLED by a refresh is " +
					"replaced by the next apply. Turning it on for a job that still runs waits for the job, up to timeouts.update.",
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, Update: true, Delete: true,
				CreateDescription: "How long create waits for the job to end (default 60m).",
				UpdateDescription: "How long an update that turns wait_for_completion on waits for a running job to end (default 60m).",
				DeleteDescription: "How long destroy waits for a running job to stop once cancelled (default 10m)."}),
			"status": schema.StringAttribute{
				Computed: true,
				Description: "Status of the job: NEW, PROCESSING, SUCCEEDED or FAILED, or CANCELLED, the status the " +
					"embedded engine gives a cancelled job (AEP's own list stops at FAILED).",
			},
			"batch_id": schema.StringAttribute{
				Computed:    true,
				Description: "Id of the batch the job writes, without segment_per_batch; null once it failed or was cancelled.",
			},
			"batches": schema.ListNestedAttribute{
				Computed:    true,
				Description: "With segment_per_batch, the batch of each segment, in the order of filter.segments.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"segment_id": schema.StringAttribute{Computed: true, Description: "Id of the segment."},
					"segment_ns": schema.StringAttribute{Computed: true, Description: "Namespace of the segment."},
					"batch_id":   schema.StringAttribute{Computed: true, Description: "Id of the segment's batch."},
				}},
			},
			"request_id": schema.StringAttribute{
				Computed:      true,
				Description:   "Request id of the job.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"job_type": schema.StringAttribute{
				Computed:      true,
				Description:   "Type of the job: BATCH.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"creation_time_ms": schema.Int64Attribute{
				Computed:      true,
				Description:   "When the job was created, epoch milliseconds.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"update_time_ms": schema.Int64Attribute{
				Computed:    true,
				Description: "When the job last changed, epoch milliseconds.",
			},
			"errors": messagesAttribute("Why the job failed or was cancelled.", "Error code.", "What went wrong."),
			"warnings": messagesAttribute("Notes on a job that did not fail, such as a restart after the engine process "+
				"running it stopped.", "Warning code.", "What happened."),
			"metrics": schema.SingleNestedAttribute{
				Computed:    true,
				Description: "Timings and counters of the job.",
				Attributes: map[string]schema.Attribute{
					"total_time": timingAttribute("The whole job, from its creation to its end (the API's totalTime)."),
					"profile_export_time": timingAttribute("Computing the export (the API's profileExportTime). In the embedded " +
						"engine: reading, merging, filtering and projecting the profiles, and writing the rows into the batch files."),
					"dataset_write_time": timingAttribute("Writing the output into the destination dataset (the API's " +
						"aCPDatasetWriteTime). In the embedded engine: syncing the batch files to disk and committing the " +
						"batches, which makes them visible all at once."),
					"exported_profile_count": schema.Int64Attribute{Computed: true,
						Description: "Rows written: profiles exported (a profile in two segment batches counts twice)."},
					"exported_event_count":   schema.Int64Attribute{Computed: true, Description: "Events written in eventList."},
					"bytes_written":          schema.Int64Attribute{Computed: true, Description: "Bytes of the files written."},
					"excluded_profile_count": schema.Int64Attribute{Computed: true, Description: "Profiles left out because their identity graph has more than 50 identities."},
					"exported_profile_by_namespace": schema.MapAttribute{Computed: true, ElementType: types.Int64Type,
						Description: "Rows written, by the namespace of the profile's identity. The embedded engine names at most " +
							"100 namespaces, the smallest (byte order), and counts the rows of any other under `(other)`."},
				},
			},
		},
	}
}

func (r *exportJobResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentitySchema("Id of the export job, a whole number such as `24115`, as a string.")
}

// adoptedByTriggers replaces the job when its triggers change, unless it is an imported job that
// is given its first triggers.
func adoptedByTriggers(ctx context.Context, req planmodifier.MapRequest, resp *mapplanmodifier.RequiresReplaceIfFuncResponse) {
	imported, diags := req.Private.GetKey(ctx, privateImported)
	resp.Diagnostics.Append(diags...)
	resp.RequiresReplace = !req.StateValue.IsNull() || imported == nil
}

// ValidateConfig checks what the attribute validators cannot see alone.
func (r *exportJobResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var policy types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("merge_policy"), &policy)...)
	if !policy.IsNull() && !policy.IsUnknown() {
		if id, ok := policy.Attributes()["id"].(types.String); ok && id.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("merge_policy").AtName("id"), "Missing merge policy id",
				"merge_policy names a policy by its id, such as experienceplatform_merge_policy.x.id. "+
					"Set merge_policy.id, or remove merge_policy to use the sandbox's default policy.")
		}
	}
	var dest, filter types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("destination"), &dest)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("filter"), &filter)...)
	if resp.Diagnostics.HasError() || dest.IsNull() || dest.IsUnknown() || filter.IsUnknown() {
		return
	}
	perBatch, ok := dest.Attributes()["segment_per_batch"].(types.Bool)
	if !ok || perBatch.IsUnknown() || !perBatch.ValueBool() {
		return
	}
	var segments attr.Value
	if !filter.IsNull() {
		segments = filter.Attributes()["segments"]
	}
	if list, ok := segments.(types.List); ok && (list.IsUnknown() || len(list.Elements()) > 0) {
		return
	}
	resp.Diagnostics.AddAttributeError(path.Root("destination").AtName("segment_per_batch"), "Segment per batch without segments",
		"destination.segment_per_batch = true writes one batch for each segment of filter.segments, and filter.segments "+
			"is empty. List the segments in filter.segments, or set segment_per_batch to false.")
}

// ModifyPlan replaces a job that a refresh found FAILED or CANCELLED (with wait_for_completion =
// false, nobody waited for it to fail): the configuration asks for a job that succeeds.
func (r *exportJobResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() {
		return
	}
	var status types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("status"), &status)...)
	switch status.ValueString() {
	case aepwire.JobFailed, aepwire.JobCancelled:
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("status"), types.StringUnknown())...)
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("status"))
	case aepwire.JobSucceeded:
		// An update of a finished job (its timeouts, wait_for_completion, or an imported job's
		// triggers adopted) does not run it again: what it reported stays known, so that nothing
		// that reads its batch_id or metrics is planned to change. (A change that replaces the job
		// is planned again by Terraform as a create, without the state, which this leaves unknown.)
		var plan, state exportJobResourceModelV0
		resp.Diagnostics.Append(resp.Plan.Get(ctx, &plan)...)
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		if resp.Diagnostics.HasError() {
			return
		}
		plan.exportJobViewModel = state.exportJobViewModel
		resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
	}
}

func newIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *exportJobResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan exportJobResourceModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultExportCreateTimeout)
	resp.Diagnostics.Append(diags...)
	apiReq, diags := plan.request(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	job, err := r.data.backend.CreateExportJob(ctx, apiReq, newIdempotencyKey())
	if err != nil {
		resp.Diagnostics.AddError("Cannot start export job",
			createDetail(fmt.Sprintf("The platform refused the export job into dataset %s.", apiReq.Destination.DatasetID),
				"Check the attributes named in the error below.", err))
		return
	}
	ctx = tflog.SetField(ctx, "job_id", job.ID)
	tflog.Info(ctx, "export job created", map[string]any{"status": job.Status})

	// The job exists: from here on the state must hold it, whatever happens while waiting.
	resp.Diagnostics.Append(plan.setView(ctx, job)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, plan.ID.ValueString())...)
	if resp.Diagnostics.HasError() || !plan.WaitForCompletion.ValueBool() {
		return
	}
	r.wait(ctx, job.ID, timeout, createWait, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// waitPhase is what a wait that does not end SUCCEEDED leaves behind, which differs between create
// (Terraform taints the resource of a create that fails) and update (it does not).
type waitPhase struct {
	timeout string // the timeouts attribute that bounds the wait
	stopped string // what comes next when the wait stops first
	ended   string // what comes next when the job ends FAILED or CANCELLED
}

var (
	createWait = waitPhase{
		timeout: "timeouts.create",
		stopped: "The resource is saved as tainted: the next apply cancels the job and starts a new one, and destroy cancels it.",
		ended:   "The resource is saved as tainted: the next apply starts a new job.",
	}
	updateWait = waitPhase{
		timeout: "timeouts.update",
		stopped: "The job keeps running, and the state keeps wait_for_completion = false: the next plan shows the " +
			"change again, and the next apply waits for it again. Destroy cancels the job.",
		ended: "The next apply replaces it with a new job.",
	}
)

// wait waits, up to timeout, for a job to end and records what it reports in m; it reports
// whether the job ended. A job that does not end SUCCEEDED, or a wait that stops first, is an error
// diagnostic that names the job and says what comes next.
func (r *exportJobResource) wait(ctx context.Context, id int64, timeout time.Duration, phase waitPhase, m *exportJobResourceModelV0, diags *diag.Diagnostics) bool {
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	job, err := r.data.backend.WaitExportJob(waitCtx, id, func(j *aepwire.ExportJob) {
		fields := map[string]any{"status": j.Status}
		if n := j.Metrics.TotalExportedProfileCounter; n != nil {
			fields["exported_profile_count"] = *n
		}
		tflog.Info(ctx, "export job progress", fields)
	})
	if err != nil {
		// Record what is known of the job, then explain why the wait ended.
		if last, gerr := r.data.backend.GetExportJob(context.WithoutCancel(ctx), id); gerr == nil {
			diags.Append(m.setView(ctx, last)...)
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			diags.AddError("Export job timed out",
				fmt.Sprintf("Export job %d did not end within %s (%s); it is %s. %s To wait longer, raise %s.",
					id, timeout, phase.timeout, m.Status.ValueString(), phase.stopped, phase.timeout))
		case ctx.Err() != nil:
			diags.AddError("Wait for export job interrupted",
				fmt.Sprintf("Terraform stopped waiting for export job %d, which is %s. %s", id, m.Status.ValueString(), phase.stopped))
		default:
			diags.AddError("Cannot wait for export job",
				errorDetail(fmt.Sprintf("Waiting for export job %d failed.", id), phase.stopped, err))
		}
		return false
	}
	diags.Append(m.setView(ctx, job)...)
	tflog.Info(ctx, "export job ended", map[string]any{"status": job.Status})
	if job.Status != aepwire.JobSucceeded {
		diags.AddError("Export job "+strings.ToLower(job.Status),
			fmt.Sprintf("Export job %d ended %s:\n%s\n\n%s", id, job.Status, describeJobErrors(job.Errors), phase.ended))
	}
	return true
}

func describeJobErrors(errs []aepwire.JobError) string {
	if len(errs) == 0 {
		return "  (the job reported no error)"
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, fmt.Sprintf("  - %s: %s", e.Code, e.Msg))
	}
	return strings.Join(lines, "\n")
}

func (r *exportJobResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state exportJobResourceModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id, ok := jobID(state.ID, &resp.Diagnostics)
	if !ok {
		return
	}
	job, err := r.data.backend.GetExportJob(ctx, id)
	if readFailed(ctx, resp, state.ID.ValueString(), err, exportJobKind) {
		return
	}
	if state.Destination.IsNull() {
		// Imported: the job's request becomes the configuration it is compared with.
		in, diags := jobInputsOf(ctx, job)
		resp.Diagnostics.Append(diags...)
		state.exportJobInputsModel = in
		state.WaitForCompletion = types.BoolValue(true)
	}
	resp.Diagnostics.Append(state.setView(ctx, job)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, state.ID.ValueString())...)
}

// Update changes only wait_for_completion, timeouts, the triggers that adopt an imported job, and
// the spelling of its field lists.
// Turning wait_for_completion on for a job that still runs waits for it now, under timeouts.update.
func (r *exportJobResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state exportJobResourceModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	watched := state.WaitForCompletion
	state.WaitForCompletion, state.Timeouts, state.Triggers = plan.WaitForCompletion, plan.Timeouts, plan.Triggers
	// The field lists change in place only to another spelling of the same lists (an imported
	// job's, as the platform echoes them, to the configuration's): any other change replaces.
	state.Fields, state.EventList = plan.Fields, plan.EventList
	if !state.Triggers.IsNull() {
		// Adopted: from now on a change of triggers runs the job again.
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, nil)...)
	}
	id, ok := jobID(state.ID, &resp.Diagnostics)
	if !ok {
		return
	}
	// A finished job stays as it was read, and as the plan kept it (ModifyPlan).
	if state.Status.ValueString() != aepwire.JobSucceeded && !r.readAndWait(ctx, id, watched, &state, &resp.Diagnostics) {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, state.ID.ValueString())...)
}

// readAndWait reads an unfinished job into state for its update, and waits for it when
// wait_for_completion was turned on; false when it could not be read.
func (r *exportJobResource) readAndWait(ctx context.Context, id int64, watched types.Bool, state *exportJobResourceModelV0, diags *diag.Diagnostics) bool {
	ctx = tflog.SetField(ctx, "job_id", id)
	job, err := r.data.backend.GetExportJob(ctx, id)
	if err != nil {
		diags.AddError("Cannot read export job", errorDetail(fmt.Sprintf("Reading export job %d failed.", id), "", err))
		return false
	}
	diags.Append(state.setView(ctx, job)...)
	if state.WaitForCompletion.ValueBool() && !aepwire.JobTerminal(job.Status) {
		timeout, d := state.Timeouts.Update(ctx, defaultExportUpdateTimeout)
		diags.Append(d...)
		if !r.wait(ctx, id, timeout, updateWait, state, diags) {
			// Nobody watches the job now: the state says so, and the next plan offers the wait again.
			state.WaitForCompletion = watched
		}
	}
	return true
}

// Delete cancels a job that is still running and waits until it has stopped. A finished or
// missing job needs nothing.
func (r *exportJobResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state exportJobResourceModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id, err := strconv.ParseInt(state.ID.ValueString(), 10, 64)
	if err != nil {
		return // never a job: nothing to cancel
	}
	ctx = tflog.SetField(ctx, "job_id", id)
	job, err := r.data.backend.GetExportJob(ctx, id)
	if aepwire.IsNotFound(err) {
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read export job", errorDetail(fmt.Sprintf("Reading export job %d before cancelling it failed.", id), "", err))
		return
	}
	if aepwire.JobTerminal(job.Status) {
		return
	}
	if err := r.data.backend.CancelExportJob(ctx, id); err != nil && !aepwire.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot cancel export job", errorDetail(fmt.Sprintf("Cancelling export job %d failed.", id), "", err))
		return
	}
	tflog.Info(ctx, "export job cancelled; waiting for it to stop")
	timeout, diags := state.Timeouts.Delete(ctx, defaultExportDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	job, err = r.data.backend.WaitExportJob(waitCtx, id, nil)
	if err != nil && !aepwire.IsNotFound(err) {
		resp.Diagnostics.AddError("Export job did not stop",
			errorDetail(fmt.Sprintf("Export job %d was cancelled but did not stop within %s (timeouts.delete).", id, timeout),
				"Destroy again to wait longer.", err))
		return
	}
	if job != nil {
		tflog.Info(ctx, "export job stopped", map[string]any{"status": job.Status})
	}
}

func (r *exportJobResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, func(id string) string {
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			return badJobID(id)
		}
		return ""
	})
	if !resp.Diagnostics.HasError() {
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, privateImported, []byte("true"))...)
	}
}

// sameFields reports whether two field lists select the same paths: the same text, or the same
// list once the shorthand is expanded. The remote client sends a list expanded (the only form AEP
// documents), so that AEP echoes "person.name,person.gender" for "person(name, gender)": an
// imported job's list is the expanded one.
func sameFields(a, b types.String) bool {
	if a.Equal(b) {
		return true
	}
	if a.IsNull() || a.IsUnknown() || b.IsNull() || b.IsUnknown() {
		return false
	}
	sa, errA := fields.Parse(a.ValueString())
	sb, errB := fields.Parse(b.ValueString())
	return errA == nil && errB == nil && sa.String() == sb.String()
}

// fieldsRequireReplace replaces a job whose field list changes, but not for another spelling of
// the same list (see sameFields): that changes the state in place, to the configuration's.
func fieldsRequireReplace(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !sameFields(req.StateValue, req.PlanValue)
}

// eventListRequiresReplace replaces a job whose event list changes, but not for another spelling
// of the same event fields (fieldsRequireReplace).
func eventListRequiresReplace(ctx context.Context, req planmodifier.ObjectRequest, resp *objectplanmodifier.RequiresReplaceIfFuncResponse) {
	var diags diag.Diagnostics
	st, okState := modelOf[eventListModelV0](ctx, &diags, req.StateValue)
	pl, okPlan := modelOf[eventListModelV0](ctx, &diags, req.PlanValue)
	resp.Diagnostics.Append(diags...)
	resp.RequiresReplace = !okState || !okPlan || diags.HasError() || !sameFields(st.Fields, pl.Fields) ||
		!st.FromIngestTimestamp.Equal(pl.FromIngestTimestamp) || !st.ToIngestTimestamp.Equal(pl.ToIngestTimestamp)
}
