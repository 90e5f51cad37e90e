package provider

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// exportJobInputsModel is the request of an export job: the resource's inputs, and the request a
// job echoes, which import and the data source report.
type exportJobInputsModel struct {
	Fields      types.String `tfsdk:"fields"`
	MergePolicy types.Object `tfsdk:"merge_policy"`
	Filter      types.Object `tfsdk:"filter"`
	EventList   types.Object `tfsdk:"event_list"`
	Destination types.Object `tfsdk:"destination"`
	SchemaName  types.String `tfsdk:"schema_name"`
}

// exportJobViewModel is what an export job reports of itself.
type exportJobViewModel struct {
	ID             types.String `tfsdk:"id"`
	Status         types.String `tfsdk:"status"`
	BatchID        types.String `tfsdk:"batch_id"`
	Batches        types.List   `tfsdk:"batches"`
	RequestID      types.String `tfsdk:"request_id"`
	JobType        types.String `tfsdk:"job_type"`
	CreationTimeMs types.Int64  `tfsdk:"creation_time_ms"`
	UpdateTimeMs   types.Int64  `tfsdk:"update_time_ms"`
	Errors         types.List   `tfsdk:"errors"`
	Warnings       types.List   `tfsdk:"warnings"`
	Metrics        types.Object `tfsdk:"metrics"`
}

type mergePolicyRefModelV0 struct {
	ID      types.String `tfsdk:"id"`
	Version types.Int64  `tfsdk:"version"`
}

func (mergePolicyRefModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "merge_policy")
}

type exportFilterModelV0 struct {
	FromIngestTimestamp      types.String `tfsdk:"from_ingest_timestamp"`
	EmptyProfiles            types.Bool   `tfsdk:"empty_profiles"`
	Segments                 types.List   `tfsdk:"segments"`
	SegmentQualificationTime types.Object `tfsdk:"segment_qualification_time"`
}

func (exportFilterModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "filter")
}

type segmentFilterModelV0 struct {
	SegmentID types.String `tfsdk:"segment_id"`
	SegmentNs types.String `tfsdk:"segment_ns"`
	Status    types.List   `tfsdk:"status"`
}

func (segmentFilterModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "filter", "segments")
}

type qualificationTimeModelV0 struct {
	StartTime types.String `tfsdk:"start_time"`
	EndTime   types.String `tfsdk:"end_time"`
}

func (qualificationTimeModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "filter", "segment_qualification_time")
}

type eventListModelV0 struct {
	Fields              types.String `tfsdk:"fields"`
	FromIngestTimestamp types.String `tfsdk:"from_ingest_timestamp"`
	ToIngestTimestamp   types.String `tfsdk:"to_ingest_timestamp"`
}

func (eventListModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "event_list")
}

type destinationModelV0 struct {
	DatasetID       types.String `tfsdk:"dataset_id"`
	SegmentPerBatch types.Bool   `tfsdk:"segment_per_batch"`
}

func (destinationModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "destination")
}

type exportBatchModelV0 struct {
	SegmentID types.String `tfsdk:"segment_id"`
	SegmentNs types.String `tfsdk:"segment_ns"`
	BatchID   types.String `tfsdk:"batch_id"`
}

func (exportBatchModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "batches")
}

type jobMessageModelV0 struct {
	Code types.String `tfsdk:"code"`
	Msg  types.String `tfsdk:"msg"`
}

func (jobMessageModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "errors")
}

func jobMessageOf(e aepwire.JobError) jobMessageModelV0 {
	return jobMessageModelV0{Code: types.StringValue(e.Code), Msg: types.StringValue(e.Msg)}
}

type timingModelV0 struct {
	StartMs types.Int64 `tfsdk:"start_ms"`
	EndMs   types.Int64 `tfsdk:"end_ms"`
	TotalMs types.Int64 `tfsdk:"total_ms"`
}

func (timingModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "metrics", "total_time")
}

type exportMetricsModelV0 struct {
	TotalTime                  types.Object `tfsdk:"total_time"`
	ProfileExportTime          types.Object `tfsdk:"profile_export_time"`
	DatasetWriteTime           types.Object `tfsdk:"dataset_write_time"`
	ExportedProfileCount       types.Int64  `tfsdk:"exported_profile_count"`
	ExportedEventCount         types.Int64  `tfsdk:"exported_event_count"`
	BytesWritten               types.Int64  `tfsdk:"bytes_written"`
	ExcludedProfileCount       types.Int64  `tfsdk:"excluded_profile_count"`
	ExportedProfileByNamespace types.Map    `tfsdk:"exported_profile_by_namespace"`
}

func (exportMetricsModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobType(), "metrics")
}

// jobID is an export job's id from its attribute; a malformed one is an error diagnostic.
func jobID(v types.String, diags *diag.Diagnostics) (int64, bool) {
	id, err := strconv.ParseInt(v.ValueString(), 10, 64)
	if err != nil {
		diags.AddError("Invalid export job id", badJobID(v.ValueString()))
	}
	return id, err == nil
}

func badJobID(id string) string {
	return fmt.Sprintf("%q is not an export job id: job ids are whole numbers, such as 24115.", id)
}

// request builds the API request from the inputs; every value is known at apply time.
func (in exportJobInputsModel) request(ctx context.Context) (aepwire.ExportJobRequest, diag.Diagnostics) {
	var diags diag.Diagnostics
	req := aepwire.ExportJobRequest{Fields: in.Fields.ValueString(), Schema: aepwire.ExportSchema{Name: in.SchemaName.ValueString()}}
	if req.Schema.Name == "" {
		req.Schema.Name = aepwire.ProfileSchemaName
	}
	if mp, ok := modelOf[mergePolicyRefModelV0](ctx, &diags, in.MergePolicy); ok {
		req.MergePolicy = &aepwire.MergePolicyRef{ID: mp.ID.ValueString()}
		if !mp.Version.IsUnknown() {
			req.MergePolicy.Version = mp.Version.ValueInt64Pointer()
		}
	}
	if f, ok := modelOf[exportFilterModelV0](ctx, &diags, in.Filter); ok {
		req.Filter = &aepwire.ExportFilter{FromIngestTimestamp: f.FromIngestTimestamp.ValueString(), EmptyProfiles: f.EmptyProfiles.ValueBool()}
		if !f.Segments.IsNull() {
			var segs []segmentFilterModelV0
			diags.Append(f.Segments.ElementsAs(ctx, &segs, false)...)
			req.Filter.Segments = []aepwire.SegmentFilter{}
			for _, s := range segs {
				sf := aepwire.SegmentFilter{SegmentID: s.SegmentID.ValueString(), SegmentNs: s.SegmentNs.ValueString()}
				if !s.Status.IsNull() {
					diags.Append(s.Status.ElementsAs(ctx, &sf.Status, false)...)
				}
				req.Filter.Segments = append(req.Filter.Segments, sf)
			}
		}
		if q, ok := modelOf[qualificationTimeModelV0](ctx, &diags, f.SegmentQualificationTime); ok {
			req.Filter.SegmentQualificationTime = &aepwire.SegmentQualificationTime{StartTime: q.StartTime.ValueString(), EndTime: q.EndTime.ValueString()}
		}
	}
	if el, ok := modelOf[eventListModelV0](ctx, &diags, in.EventList); ok {
		list := &aepwire.EventList{Fields: el.Fields.ValueString()}
		if !el.FromIngestTimestamp.IsNull() || !el.ToIngestTimestamp.IsNull() {
			list.Filter = &aepwire.EventListFilter{FromIngestTimestamp: el.FromIngestTimestamp.ValueString(), ToIngestTimestamp: el.ToIngestTimestamp.ValueString()}
		}
		req.AdditionalFields = &aepwire.AdditionalFields{EventList: list}
	}
	if d, ok := modelOf[destinationModelV0](ctx, &diags, in.Destination); ok {
		req.Destination = aepwire.ExportDestination{DatasetID: d.DatasetID.ValueString(), SegmentPerBatch: d.SegmentPerBatch.ValueBool()}
	}
	return req, diags
}

// jobInputsOf renders the request a job echoes as attributes: for import, and for the data source.
func jobInputsOf(ctx context.Context, job *aepwire.ExportJob) (exportJobInputsModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := exportJobInputsModel{
		Fields:     optionalString(job.Fields),
		SchemaName: types.StringValue(job.Schema.Name),
		MergePolicy: objectValue(ctx, &diags, mergePolicyRefModelV0{
			ID: types.StringValue(job.MergePolicy.ID), Version: types.Int64PointerValue(job.MergePolicy.Version),
		}),
		Filter:    nullObject[exportFilterModelV0](),
		EventList: nullObject[eventListModelV0](),
		Destination: objectValue(ctx, &diags, destinationModelV0{
			DatasetID: types.StringValue(job.Destination.DatasetID), SegmentPerBatch: types.BoolValue(job.Destination.SegmentPerBatch),
		}),
	}
	if f := job.Filter; f != nil {
		m := exportFilterModelV0{
			FromIngestTimestamp:      optionalString(f.FromIngestTimestamp),
			EmptyProfiles:            types.BoolNull(),
			Segments:                 nullList[segmentFilterModelV0](),
			SegmentQualificationTime: nullObject[qualificationTimeModelV0](),
		}
		if f.EmptyProfiles {
			m.EmptyProfiles = types.BoolValue(true)
		}
		if f.Segments != nil {
			m.Segments = objectList(ctx, &diags, f.Segments, func(s aepwire.SegmentFilter) segmentFilterModelV0 {
				return segmentFilterModelV0{SegmentID: types.StringValue(s.SegmentID), SegmentNs: optionalString(s.SegmentNs),
					Status: optionalStringList(ctx, &diags, s.Status)}
			})
		}
		if q := f.SegmentQualificationTime; q != nil {
			m.SegmentQualificationTime = objectValue(ctx, &diags, qualificationTimeModelV0{
				StartTime: optionalString(q.StartTime), EndTime: optionalString(q.EndTime),
			})
		}
		in.Filter = objectValue(ctx, &diags, m)
	}
	if af := job.AdditionalFields; af != nil && af.EventList != nil {
		m := eventListModelV0{Fields: optionalString(af.EventList.Fields), FromIngestTimestamp: types.StringNull(), ToIngestTimestamp: types.StringNull()}
		if f := af.EventList.Filter; f != nil {
			m.FromIngestTimestamp, m.ToIngestTimestamp = optionalString(f.FromIngestTimestamp), optionalString(f.ToIngestTimestamp)
		}
		in.EventList = objectValue(ctx, &diags, m)
	}
	return in, diags
}

// committedBatch is a batch id of a job as batch_id reports it: null once the job failed or was
// cancelled, as its batches were never committed, although the platform still names them.
func committedBatch(job *aepwire.ExportJob, id string) types.String {
	if job.Status == aepwire.JobFailed || job.Status == aepwire.JobCancelled {
		return types.StringNull()
	}
	return optionalString(id)
}

// jobViewOf renders what a job reports of itself as attributes.
func jobViewOf(ctx context.Context, job *aepwire.ExportJob) (exportJobViewModel, diag.Diagnostics) {
	var diags diag.Diagnostics
	v := exportJobViewModel{
		ID:             types.StringValue(strconv.FormatInt(job.ID, 10)),
		Status:         types.StringValue(job.Status),
		BatchID:        committedBatch(job, job.Destination.BatchID),
		Batches:        nullList[exportBatchModelV0](),
		RequestID:      types.StringValue(job.RequestID),
		JobType:        types.StringValue(job.JobType),
		CreationTimeMs: types.Int64Value(job.CreationTime),
		UpdateTimeMs:   types.Int64Value(job.UpdateTime),
		Errors:         objectList(ctx, &diags, job.Errors, jobMessageOf),
		Warnings:       objectList(ctx, &diags, job.Warnings, jobMessageOf),
	}
	if job.Destination.SegmentPerBatch {
		v.Batches = objectList(ctx, &diags, job.Destination.Batches, func(b aepwire.ExportBatch) exportBatchModelV0 {
			return exportBatchModelV0{SegmentID: types.StringValue(b.SegmentID), SegmentNs: types.StringValue(b.SegmentNs), BatchID: committedBatch(job, b.BatchID)}
		})
	}
	m := job.Metrics
	byNS := types.MapNull(types.Int64Type)
	if m.ExportedProfileByNamespaceCounter != nil {
		var d diag.Diagnostics
		byNS, d = types.MapValueFrom(ctx, types.Int64Type, m.ExportedProfileByNamespaceCounter)
		diags.Append(d...)
	}
	v.Metrics = objectValue(ctx, &diags, exportMetricsModelV0{
		TotalTime:                  timingValue(ctx, &diags, m.TotalTime),
		ProfileExportTime:          timingValue(ctx, &diags, m.ProfileExportTime),
		DatasetWriteTime:           timingValue(ctx, &diags, m.ACPDatasetWriteTime),
		ExportedProfileCount:       types.Int64PointerValue(m.TotalExportedProfileCounter),
		ExportedEventCount:         types.Int64PointerValue(m.ExportedEventCounter),
		BytesWritten:               types.Int64PointerValue(m.BytesWritten),
		ExcludedProfileCount:       types.Int64PointerValue(m.ExcludedProfileCount),
		ExportedProfileByNamespace: byNS,
	})
	return v, diags
}

// timingValue is a phase of a job; end and total are null while it runs.
func timingValue(ctx context.Context, diags *diag.Diagnostics, t *aepwire.FeedbackMetrics) types.Object {
	if t == nil {
		return nullObject[timingModelV0]()
	}
	m := timingModelV0{StartMs: types.Int64Value(t.StartTimeInMs), EndMs: types.Int64Null(), TotalMs: types.Int64Null()}
	if t.EndTimeInMs != 0 {
		m.EndMs, m.TotalMs = types.Int64Value(t.EndTimeInMs), types.Int64Value(t.TotalTimeInMs)
	}
	return objectValue(ctx, diags, m)
}

// optionalStringList is a list of strings, null for a nil slice.
func optionalStringList(ctx context.Context, diags *diag.Diagnostics, ss []string) types.List {
	if ss == nil {
		return types.ListNull(types.StringType)
	}
	l, d := types.ListValueFrom(ctx, types.StringType, ss)
	diags.Append(d...)
	return l
}
