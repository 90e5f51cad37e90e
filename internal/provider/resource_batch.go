package provider

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

var (
	_ resource.Resource                   = (*batchResource)(nil)
	_ resource.ResourceWithConfigure      = (*batchResource)(nil)
	_ resource.ResourceWithImportState    = (*batchResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*batchResource)(nil)
	_ resource.ResourceWithValidateConfig = (*batchResource)(nil)
	_ resource.ResourceWithIdentity       = (*batchResource)(nil)
)

// NewBatchResource returns the experienceplatform_batch resource.
func NewBatchResource() resource.Resource {
	return &batchResource{resourceBase{name: "batch"}}
}

type batchResource struct {
	resourceBase
}

// A batch also goes when its dataset is deleted.
var batchKind = objectKind{name: "batch", recreate: "ingest the files again"}

type batchResourceModelV0 struct {
	ID                types.String   `tfsdk:"id"`
	DatasetID         types.String   `tfsdk:"dataset_id"`
	Files             types.List     `tfsdk:"files"`
	Format            types.String   `tfsdk:"format"`
	ContentSHA256     types.String   `tfsdk:"content_sha256"`
	Status            types.String   `tfsdk:"status"`
	RecordCount       types.Int64    `tfsdk:"record_count"`
	FailedRecordCount types.Int64    `tfsdk:"failed_record_count"`
	Errors            types.List     `tfsdk:"errors"`
	IngestTimeMs      types.Int64    `tfsdk:"ingest_time_ms"`
	IngestedAt        types.String   `tfsdk:"ingested_at"`
	CompletedAt       types.String   `tfsdk:"completed_at"`
	Timeouts          timeouts.Value `tfsdk:"timeouts"`
}

type batchErrorModelV0 struct {
	Line   types.Int64  `tfsdk:"line"`
	Reason types.String `tfsdk:"reason"`
	Code   types.String `tfsdk:"code"`
	File   types.String `tfsdk:"file"`
}

func (batchErrorModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(batchType(), "errors")
}

// Batches of AEP are processed asynchronously after they are completed; these bound the wait.
var (
	batchPoll           = backoff{min: 200 * time.Millisecond, max: 10 * time.Second}
	defaultBatchTimeout = 60 * time.Minute
)

func (r *batchResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "A batch of records ingested from local files into a dataset, with the Batch Ingestion API: " +
			"create runs create, upload and complete, and waits until the batch has succeeded. Every record is " +
			"validated; a bad record fails alone and is listed in errors. A batch with no valid record fails, and " +
			"so does the apply, naming the first reasons. Records of profile-enabled profile and experience-event " +
			"datasets feed the profile store that export jobs read. Changing the files' contents (content_sha256) " +
			"or any input ingests a new batch; destroy deletes the batch and the records it contributed.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:      true,
				Description:   "Catalog id of the batch (32 hexadecimal characters).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"dataset_id": schema.StringAttribute{
				Required:      true,
				Description:   "Id of the dataset to ingest into. Datasets on the profile union schema take no batches.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"files": schema.ListAttribute{
				Required:    true,
				ElementType: types.StringType,
				Description: "Paths of the files to ingest, relative to the directory Terraform runs in (use " +
					"`${path.module}` for files beside the configuration). Each file is JSON Lines (one record a " +
					"line) or one JSON array of records. Files are uploaded under their base names, which must differ, " +
					"and are read in file-name order: records of later files count as later.",
				Validators: []validator.List{
					listvalidator.SizeAtLeast(1),
					listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1)),
				},
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplaceIf(
					func(_ context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
						// An imported batch has no files in state: adopting the configuration's is no change.
						resp.RequiresReplace = !req.StateValue.IsNull()
					},
					"Changing the files ingests a new batch.", "Changing the files ingests a new batch.")},
			},
			"format": schema.StringAttribute{
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString("json"),
				Description:   "Format of the files. Only `json` (JSON Lines or a JSON array) is supported, the default.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
				Validators:    []validator.String{stringvalidator.OneOf("json")},
			},
			"content_sha256": schema.StringAttribute{
				Computed: true,
				Description: "SHA-256 over the files' names and contents, as they were ingested. A plan computes it " +
					"again: when the contents changed, the plan replaces the batch, so the new contents are ingested, " +
					"and the new hash is known after apply (as is a new batch's). A new or replaced batch ingests its " +
					"files as they are at apply; a batch updated in place (a change of `timeouts`, an imported batch " +
					"adopting its files) whose files change between plan and apply is refused by Terraform: plan again.",
			},
			"status": schema.StringAttribute{
				Computed: true,
				Description: "Status of the batch: `success` or `failed` once ingested. A batch whose create was " +
					"interrupted is saved tainted with the status it had then, such as `loading` or `processing`.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"record_count": schema.Int64Attribute{
				Computed:      true,
				Description:   "Number of records accepted.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"failed_record_count": schema.Int64Attribute{
				Computed:      true,
				Description:   "Number of records refused.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"errors": schema.ListNestedAttribute{
				Computed:      true,
				Description:   "Why records were refused: the first 100 failed records.",
				PlanModifiers: []planmodifier.List{listplanmodifier.UseStateForUnknown()},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"line": schema.Int64Attribute{
							Computed:    true,
							Description: "The record's 1-based line in its file, or its 1-based index when the file is a JSON array.",
						},
						"reason": schema.StringAttribute{
							Computed:    true,
							Description: "Why the record was refused.",
						},
						"code": schema.StringAttribute{
							Computed:    true,
							Description: "Error code of the reason, such as `INGEST-1003` for a record without identity.",
						},
						"file": schema.StringAttribute{
							Computed:    true,
							Description: "Base name of the record's file when the batch has several files; null otherwise.",
						},
					},
				},
			},
			"ingest_time_ms": schema.Int64Attribute{
				Computed: true,
				Description: "Ingest time of the batch, epoch milliseconds: the time that the ingest-time filters of " +
					"export jobs compare against. Later batches have later ingest times. AEP reports no ingest time of its " +
					"own: in remote mode this is when the batch completed (Catalog's `completed`), which follows the " +
					"ingestion of its records. Null when the platform reports no time at all.",
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
			},
			"ingested_at": schema.StringAttribute{
				Computed: true,
				Description: "The ingest time as RFC 3339 in UTC with milliseconds, for the ingest-time filters of " +
					"experienceplatform_export_job: `event_list = { from_ingest_timestamp = experienceplatform_batch.x.ingested_at }` " +
					"exports only events ingested after this batch. Batches are ingested in the order Terraform creates them, " +
					"in parallel when nothing orders them: use depends_on when one batch must be ingested after another. " +
					"In remote mode it is the batch's completion (see ingest_time_ms): a `to_ingest_timestamp` set from it " +
					"includes the batch's own events.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"completed_at": schema.StringAttribute{
				Computed:      true,
				Description:   "When the batch completed, RFC 3339 in UTC with milliseconds.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"timeouts": timeouts.Attributes(ctx, timeouts.Opts{Create: true, CreateDescription: "How long to wait " +
				"for the batch to be ingested (default 60m)."}),
		},
	}
}

func (r *batchResource) IdentitySchema(_ context.Context, _ resource.IdentitySchemaRequest, resp *resource.IdentitySchemaResponse) {
	resp.IdentitySchema = idIdentitySchema("Catalog id of the batch.")
}

// ValidateConfig checks the file list at plan time: names must be distinct, files must exist and
// look like JSON.
func (r *batchResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var files types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("files"), &files)...)
	if resp.Diagnostics.HasError() || files.IsNull() || files.IsUnknown() {
		return
	}
	seen := map[string]int{}
	for i, elem := range files.Elements() {
		s, ok := elem.(types.String)
		at := path.Root("files").AtListIndex(i)
		if ok && s.IsNull() {
			addNullFileError(&resp.Diagnostics, i)
			continue
		}
		if !ok || s.IsUnknown() || s.ValueString() == "" {
			continue
		}
		name := filepath.Base(s.ValueString())
		if j, dup := seen[name]; dup {
			resp.Diagnostics.AddAttributeError(at, "Duplicate file name",
				fmt.Sprintf("Files %d and %d are both named %q. Files are uploaded under their base names, which "+
					"must differ: rename one of them.", j, i, name))
			continue
		}
		seen[name] = i
		if err := sniffJSONFile(s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(at, "Unusable batch file", err.Error())
		}
	}
}

// sniffJSONFile checks that a file exists and starts like JSON Lines or a JSON array.
func sniffJSONFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("cannot open %s: %w. Paths are relative to the directory Terraform runs in; use "+
			"\"${path.module}/...\" for files beside the configuration", p, errors.Unwrap(err))
	}
	defer f.Close()
	r := bufio.NewReader(f)
	if b, _ := r.Peek(3); bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = r.Discard(3)
	}
	for {
		c, err := r.ReadByte()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s is empty: a batch file holds JSON Lines (one JSON object a line) or one JSON array", p)
		}
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", p, err)
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{', '[':
			return nil
		}
		return fmt.Errorf("%s is not JSON: it starts with %q, where JSON Lines start with '{' and a JSON array "+
			"with '['. Convert it to JSON Lines (one JSON object a line)", p, c)
	}
}

// ModifyPlan replaces the batch when the contents of its files changed since it was ingested.
// content_sha256 is planned as it is in the state when they did not change; for a new batch, or
// one that is replaced, it is known after apply, taken of the files as Create reads them, so that
// a file changed between plan and apply is ingested as it is then (a value planned here would
// make Terraform refuse the apply as an inconsistent final plan, after destroying the batch it
// replaces). A batch updated in place (timeouts, or an imported batch adopting its files) keeps
// its planned hash: a file changed after that plan is refused by Terraform at the apply, which
// the provider cannot tell from the plan.
func (r *batchResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return // destroy
	}
	var files types.List
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("files"), &files)...)
	if resp.Diagnostics.HasError() || files.IsUnknown() {
		return
	}
	paths, known := filePaths(files, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	unknown := func() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("content_sha256"), types.StringUnknown())...)
	}
	if !known {
		unknown() // a path made by this apply: the files are read when it is known
		return
	}
	sum, err := contentSHA256(paths)
	if err != nil {
		addUnreadableFilesError(&resp.Diagnostics, err)
		return
	}
	if req.State.Raw.IsNull() {
		unknown()
		return
	}
	var prior types.String
	resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("content_sha256"), &prior)...)
	switch {
	case prior.IsNull():
		// An imported batch has no known content; the configuration's files are adopted as they are.
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("content_sha256"), sum)...)
	case prior.ValueString() != sum:
		resp.RequiresReplace = append(resp.RequiresReplace, path.Root("content_sha256"))
		unknown()
	default:
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("content_sha256"), sum)...)
	}
}

// addUnreadableFilesError reports files that could not be hashed, at plan or at apply.
func addUnreadableFilesError(diags *diag.Diagnostics, err error) {
	diags.AddAttributeError(path.Root("files"), "Cannot read batch files",
		errorDetail("The files could not be read to compute their content hash.", "Check that every file exists and is readable.", err))
}

// addNullFileError reports files[i] null: ValidateConfig does, and ModifyPlan for a value that
// validation could not see.
func addNullFileError(diags *diag.Diagnostics, i int) {
	diags.AddAttributeError(path.Root("files").AtListIndex(i), "Invalid batch file",
		fmt.Sprintf("files[%d] is null: every entry of files is the path of a file to ingest. Remove the entry, or give it a path.", i))
}

// filePaths reads the paths of files, a known list: known is false when one of them is not known
// yet (made by this apply); a null entry is an error on its index.
func filePaths(files types.List, diags *diag.Diagnostics) (paths []string, known bool) {
	known = true
	for i, e := range files.Elements() {
		v, ok := e.(types.String)
		switch {
		case !ok:
			diags.AddAttributeError(path.Root("files").AtListIndex(i), "Invalid batch file", fmt.Sprintf("files[%d] is not a string.", i))
		case v.IsNull():
			addNullFileError(diags, i)
		case v.IsUnknown():
			known = false
		default:
			paths = append(paths, v.ValueString())
		}
	}
	return paths, known
}

// contentSHA256 hashes the files in the order the engine reads them (by base name), each as its
// name, its length and its contents, so that no two different sets of files hash alike.
func contentSHA256(paths []string) (string, error) {
	sorted := slices.Clone(paths)
	slices.SortFunc(sorted, func(a, b string) int { return strings.Compare(filepath.Base(a), filepath.Base(b)) })
	h := sha256.New()
	for _, p := range sorted {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		st, err := f.Stat()
		if err == nil {
			name := filepath.Base(p)
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(name))))
			h.Write([]byte(name))
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(st.Size())))
			_, err = io.Copy(h, f)
		}
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (r *batchResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan batchResourceModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultBatchTimeout)
	resp.Diagnostics.Append(diags...)
	var paths []string
	resp.Diagnostics.Append(plan.Files.ElementsAs(ctx, &paths, false)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// The hash of the files as they are read now, before they are sent: should one change while
	// it is sent, the next plan finds its contents changed and ingests it again.
	sum, err := contentSHA256(paths)
	if err != nil {
		addUnreadableFilesError(&resp.Diagnostics, err)
		return
	}
	plan.ContentSHA256 = types.StringValue(sum)
	// ctx ends with Ctrl-C; waitCtx also at the timeout. Telling them apart says which happened.
	waitCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	datasetID := plan.DatasetID.ValueString()
	b, err := r.data.backend.CreateBatch(waitCtx, aepwire.BatchRequest{
		DatasetID:   datasetID,
		InputFormat: &aepwire.InputFormat{Format: plan.Format.ValueString()},
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("dataset_id"), "Cannot create batch",
			createDetail(fmt.Sprintf("The platform refused a batch into dataset %s.", datasetID),
				"Check that the dataset exists and is a profile, experience-event or other non-union dataset.", err))
		return
	}
	ctx = tflog.SetField(ctx, "batch_id", b.ID)
	tflog.Info(ctx, "created batch", map[string]any{"dataset_id": datasetID})

	// The batch exists: from here on the state holds it, whatever stops this apply, unless it is
	// deleted here. Terraform saves the state of a create that fails as tainted, so the next apply
	// deletes such a batch and ingests the files again, and destroy deletes it.
	r.record(ctx, &plan, b, resp)

	for i, p := range paths {
		if err := uploadFile(waitCtx, r.data, b.ID, datasetID, p); err != nil {
			// A batch that will never be completed is of no use: remove it rather than leave it loading.
			what := "the batch was discarded"
			if r.discard(ctx, b.ID, "unfinished") {
				resp.State.RemoveResource(ctx)
			} else {
				what = "the batch could not be discarded and is saved as tainted: the next apply deletes it"
			}
			resp.Diagnostics.AddAttributeError(path.Root("files").AtListIndex(i), "Cannot upload batch file",
				errorDetail(fmt.Sprintf("Uploading %s into batch %s failed; %s.", p, b.ID, what), "", err))
			return
		}
		tflog.Debug(ctx, "uploaded batch file", map[string]any{"file": p})
	}

	b, err = r.data.backend.CompleteBatch(waitCtx, b.ID)
	if err == nil && !aepwire.BatchTerminal(b.Status) {
		id := b.ID
		err = poll(waitCtx, r.data.clock, batchPoll, func(ctx context.Context) (bool, error) {
			var gerr error
			b, gerr = r.data.backend.GetBatch(ctx, id)
			if gerr != nil {
				return false, gerr
			}
			tflog.Debug(ctx, "waiting for batch", map[string]any{"status": b.Status})
			return aepwire.BatchTerminal(b.Status), nil
		})
	}
	if err != nil {
		r.interrupted(ctx, &plan, timeout, err, resp)
		return
	}
	if b.Status == aepwire.BatchAbandoned {
		// Another engine gave up on the batch while this apply was uploading or completing it.
		if r.discard(ctx, b.ID, "abandoned") {
			resp.State.RemoveResource(ctx)
		}
		why := "it was left loading too long"
		if len(b.Errors) > 0 {
			why = b.Errors[0].Description + " (" + b.Errors[0].Code + ")"
		}
		resp.Diagnostics.AddError("Batch abandoned",
			fmt.Sprintf("Batch %s into dataset %s was ended abandoned before it completed: %s.\n\n"+
				"Apply again to ingest the files into a new batch.", b.ID, datasetID, why))
		return
	}
	tflog.Info(ctx, "batch completed", map[string]any{"status": b.Status,
		"records": b.RecordCount, "failed_records": b.FailedRecordCount})

	r.record(ctx, &plan, b, resp)
	if !aepwire.BatchSucceeded(b.Status) {
		resp.Diagnostics.AddError("Batch failed", batchFailure(b, datasetID))
	}
}

// batchFailure says why a batch that ended failed did: all its records failed, and the files
// must be fixed; or none did, and the platform failed the batch itself (a fault of its own, such
// as the served engine's INGEST-1500), so that the same files may go through in a new batch; or
// it held no record at all, and said nothing, and the files are to be checked.
func batchFailure(b *aepwire.Batch, datasetID string) string {
	if b.FailedRecordCount > 0 || b.RecordCount > 0 {
		return fmt.Sprintf("Batch %s into dataset %s ingested no record: all %d failed.\n\n%s\n\nFix the files and "+
			"apply again; the failed batch is replaced.", b.ID, datasetID, b.FailedRecordCount, firstReasons(b, 5))
	}
	reasons := firstReasons(b, 5)
	if reasons == "" {
		return fmt.Sprintf("Batch %s into dataset %s failed, with no record in it and no reason given: its files may hold "+
			"no record (an empty JSON array, or blank lines only).\n\nCheck the files and apply again; the failed batch is "+
			"replaced.", b.ID, datasetID)
	}
	return fmt.Sprintf("Batch %s into dataset %s failed, with no record of it failed: the platform ended it so.\n\n%s\n\n"+
		"Apply again to ingest the files into a new batch; the failed batch is replaced.", b.ID, datasetID, reasons)
}

// record puts the batch as it is now into the state, with its identity.
func (r *batchResource) record(ctx context.Context, m *batchResourceModelV0, b *aepwire.Batch, resp *resource.CreateResponse) {
	save(ctx, m, b, b.ID, &resp.State, resp.Identity, &resp.Diagnostics)
}

// interrupted reports a create that stopped after the batch was completed, or while completing it:
// the platform may still ingest it, so it stays in the state, tainted, as it is now.
func (r *batchResource) interrupted(ctx context.Context, m *batchResourceModelV0, timeout time.Duration, err error, resp *resource.CreateResponse) {
	id := m.ID.ValueString()
	if b, gerr := r.data.backend.GetBatch(context.WithoutCancel(ctx), id); gerr == nil {
		r.record(ctx, m, b, resp)
	}
	status := m.Status.ValueString()
	after := "The batch is saved in the state as tainted: the next apply deletes it (with any records the platform " +
		"ingested from it meanwhile) and ingests the files into a new batch, and destroy deletes it. If it succeeds " +
		"meanwhile, `terraform untaint` keeps it instead."
	switch {
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		resp.Diagnostics.AddError("Batch timed out",
			fmt.Sprintf("Batch %s was not ingested within %s (timeouts.create); it is %s, and the platform may still "+
				"ingest it. %s To wait longer, raise timeouts.create.", id, timeout, status, after))
	case ctx.Err() != nil:
		resp.Diagnostics.AddError("Wait for batch interrupted",
			fmt.Sprintf("Terraform stopped waiting for batch %s, which is %s; the platform may still ingest it. %s",
				id, status, after))
	default:
		resp.Diagnostics.AddError("Cannot complete batch",
			errorDetail(fmt.Sprintf("Completing batch %s, or waiting for it to be ingested, failed; it is %s.", id, status),
				after, err))
	}
}

// discard deletes a batch that create leaves behind (what says why), even once ctx is done, and
// reports whether it is gone. A failure is only logged, since create reports its own error.
func (r *batchResource) discard(ctx context.Context, id, what string) bool {
	err := r.data.backend.DeleteBatch(context.WithoutCancel(ctx), id)
	if err != nil && !aepwire.IsNotFound(err) {
		tflog.Warn(ctx, "could not delete the "+what+" batch", map[string]any{"error": err.Error()})
		return false
	}
	return true
}

func uploadFile(ctx context.Context, data *providerData, batchID, datasetID, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return data.backend.UploadBatchFile(ctx, batchID, datasetID, filepath.Base(p), f)
}

// firstReasons lists up to n record errors of a batch, one a line.
func firstReasons(b *aepwire.Batch, n int) string {
	var lines []string
	for _, e := range b.Errors[:min(n, len(b.Errors))] {
		where := ""
		if e.File != "" {
			where = e.File + " "
		}
		if len(e.Rows) > 0 {
			where += fmt.Sprintf("line %d", e.Rows[0])
		}
		if where != "" {
			where += ": "
		}
		lines = append(lines, "  - "+where+e.Description+" ("+e.Code+")")
	}
	if len(b.Errors) > n {
		lines = append(lines, fmt.Sprintf("  (and %d more; see the errors attribute)", b.FailedRecordCount-int64(n)))
	}
	return strings.Join(lines, "\n")
}

func (r *batchResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readObject(ctx, req, resp, &batchResourceModelV0{}, batchKind, r.data.backend.GetBatch)
}

// Update happens only when an imported batch adopts the configuration's files, or timeouts change:
// there is nothing to do on the platform.
func (r *batchResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state batchResourceModelV0
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	state.Files, state.ContentSHA256, state.Timeouts = plan.Files, plan.ContentSHA256, plan.Timeouts
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	resp.Diagnostics.Append(setIdentity(ctx, resp.Identity, state.ID.ValueString())...)
}

func (r *batchResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	deleteObject(ctx, req, resp, batchKind, r.data.backend.DeleteBatch)
}

func (r *batchResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	importByID(ctx, req, resp, nil)
	// The timeouts object must be present (as null) for the model to read.
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("timeouts"), timeouts.Value{
		Object: types.ObjectNull(map[string]attr.Type{"create": types.StringType}),
	})...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("files"), types.ListNull(types.StringType))...)
}

// fill sets the computed attributes from the batch. files and content_sha256 are what was
// ingested, which the platform does not report back.
func (m *batchResourceModelV0) fill(ctx context.Context, b *aepwire.Batch) diag.Diagnostics {
	m.ID = types.StringValue(b.ID)
	if id := b.DatasetID(); id != "" {
		// A batch as created may not name its dataset yet: the configuration's stands.
		m.DatasetID = types.StringValue(id)
	}
	if b.InputFormat != nil && b.InputFormat.Format != "" {
		m.Format = types.StringValue(b.InputFormat.Format)
	}
	m.Status = types.StringValue(b.Status)
	m.RecordCount = types.Int64Value(b.RecordCount)
	m.FailedRecordCount = types.Int64Value(b.FailedRecordCount)
	var diags diag.Diagnostics
	m.IngestTimeMs, m.IngestedAt = types.Int64Null(), types.StringNull()
	if ingest := ingestTime(b); ingest > 0 {
		m.IngestTimeMs, m.IngestedAt = types.Int64Value(ingest), types.StringValue(formatMillis(ingest))
	} else if aepwire.BatchSucceeded(b.Status) {
		diags.AddWarning("Batch without an ingest time",
			fmt.Sprintf("The platform reported no time for batch %s (no ingestTime, completed or metrics.endTime), so "+
				"ingest_time_ms and ingested_at are null. An export filter set from them is null too, and is left out: "+
				"such a job exports events of every time.", b.ID))
	}
	m.CompletedAt = types.StringNull()
	if b.Completed > 0 {
		m.CompletedAt = types.StringValue(formatMillis(b.Completed))
	}
	m.Errors = objectList(ctx, &diags, b.Errors, func(e aepwire.BatchError) batchErrorModelV0 {
		line := types.Int64Null()
		if len(e.Rows) > 0 {
			line = types.Int64Value(e.Rows[0])
		}
		return batchErrorModelV0{Line: line, Reason: types.StringValue(e.Description), Code: types.StringValue(e.Code), File: optionalString(e.File)}
	})
	if m.ContentSHA256.IsUnknown() {
		m.ContentSHA256 = types.StringNull()
	}
	return diags
}

// ingestTime is when a batch's records were ingested, as far as the platform tells: the embedded
// engine's ingestTime; on AEP, which reports none, the batch's completion (Catalog's completed,
// else its metrics' endTime), which comes after its records were ingested. Zero when unknown.
func ingestTime(b *aepwire.Batch) int64 {
	switch {
	case b.IngestTime > 0:
		return b.IngestTime
	case b.Completed > 0:
		return b.Completed
	case b.Metrics != nil && b.Metrics.EndTime > 0:
		return b.Metrics.EndTime
	}
	return 0
}

// formatMillis renders epoch milliseconds as RFC 3339 in UTC with milliseconds.
func formatMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
