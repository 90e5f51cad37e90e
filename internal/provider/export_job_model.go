package provider

import (
	"context"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The attribute types of an export job's nested attributes, shared by the resource and the data
// sources.
var (
	mergePolicyRefAttrTypes = map[string]attr.Type{"id": types.StringType, "version": types.Int64Type}
	segmentFilterAttrTypes  = map[string]attr.Type{
		"segment_id": types.StringType, "segment_ns": types.StringType, "status": types.ListType{ElemType: types.StringType},
	}
	qualificationTimeAttrTypes = map[string]attr.Type{"start_time": types.StringType, "end_time": types.StringType}
	exportFilterAttrTypes      = map[string]attr.Type{
		"from_ingest_timestamp":      types.StringType,
		"empty_profiles":             types.BoolType,
		"segments":                   types.ListType{ElemType: types.ObjectType{AttrTypes: segmentFilterAttrTypes}},
		"segment_qualification_time": types.ObjectType{AttrTypes: qualificationTimeAttrTypes},
	}
	eventListAttrTypes = map[string]attr.Type{
		"fields": types.StringType, "from_ingest_timestamp": types.StringType, "to_ingest_timestamp": types.StringType,
	}
	destinationAttrTypes  = map[string]attr.Type{"dataset_id": types.StringType, "segment_per_batch": types.BoolType}
	exportBatchAttrTypes  = map[string]attr.Type{"segment_id": types.StringType, "segment_ns": types.StringType, "batch_id": types.StringType}
	jobMessageAttrTypes   = map[string]attr.Type{"code": types.StringType, "msg": types.StringType}
	timingAttrTypes       = map[string]attr.Type{"start_ms": types.Int64Type, "end_ms": types.Int64Type, "total_ms": types.Int64Type}
	exportMetricsAttrType = map[string]attr.Type{
		"total_time":                    types.ObjectType{AttrTypes: timingAttrTypes},
		"profile_export_time":           types.ObjectType{AttrTypes: timingAttrTypes},
		"dataset_write_time":            types.ObjectType{AttrTypes: timingAttrTypes},
		"exported_profile_count":        types.Int64Type,
		"exported_event_count":          types.Int64Type,
		"bytes_written":                 types.Int64Type,
		"excluded_profile_count":        types.Int64Type,
		"exported_profile_by_namespace": types.MapType{ElemType: types.Int64Type},
	}
)

type mergePolicyRefModelV0 struct {
	ID      types.String `tfsdk:"id"`
	Version types.Int64  `tfsdk:"version"`
}

type exportFilterModelV0 struct {
	FromIngestTimestamp      types.String `tfsdk:"from_ingest_timestamp"`
	EmptyProfiles            types.Bool   `tfsdk:"empty_profiles"`
	Segments                 types.List   `tfsdk:"segments"`
	SegmentQualificationTime types.Object `tfsdk:"segment_qualification_time"`
}

type segmentFilterModelV0 struct {
	SegmentID types.String `tfsdk:"segment_id"`
	SegmentNs types.String `tfsdk:"segment_ns"`
	Status    types.List   `tfsdk:"status"`
}

type qualificationTimeModelV0 struct {
	StartTime types.String `tfsdk:"start_time"`
	EndTime   types.String `tfsdk:"end_time"`
}

type eventListModelV0 struct {
	Fields              types.String `tfsdk:"fields"`
	FromIngestTimestamp types.String `tfsdk:"from_ingest_timestamp"`
	ToIngestTimestamp   types.String `tfsdk:"to_ingest_timestamp"`
}

type destinationModelV0 struct {
	DatasetID       types.String `tfsdk:"dataset_id"`
	SegmentPerBatch types.Bool   `tfsdk:"segment_per_batch"`
}

// jobInputs are the request attributes of an export job.
type jobInputs struct {
	Fields      types.String
	MergePolicy types.Object
	Filter      types.Object
	EventList   types.Object
	Destination types.Object
	SchemaName  types.String
}

var objectAsOptions = basetypes.ObjectAsOptions{}

// request builds the API request from the inputs; every value is known at apply time.
func (in jobInputs) request(ctx context.Context) (aepwire.ExportJobRequest, diag.Diagnostics) {
	var diags diag.Diagnostics
	req := aepwire.ExportJobRequest{Fields: in.Fields.ValueString(), Schema: aepwire.ExportSchema{Name: in.SchemaName.ValueString()}}
	if req.Schema.Name == "" {
		req.Schema.Name = aepwire.ProfileSchemaName
	}
	if !in.MergePolicy.IsNull() && !in.MergePolicy.IsUnknown() {
		var mp mergePolicyRefModelV0
		diags.Append(in.MergePolicy.As(ctx, &mp, objectAsOptions)...)
		req.MergePolicy = &aepwire.MergePolicyRef{ID: mp.ID.ValueString()}
		if !mp.Version.IsNull() && !mp.Version.IsUnknown() {
			v := mp.Version.ValueInt64()
			req.MergePolicy.Version = &v
		}
	}
	if !in.Filter.IsNull() {
		var f exportFilterModelV0
		diags.Append(in.Filter.As(ctx, &f, objectAsOptions)...)
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
		if !f.SegmentQualificationTime.IsNull() {
			var q qualificationTimeModelV0
			diags.Append(f.SegmentQualificationTime.As(ctx, &q, objectAsOptions)...)
			req.Filter.SegmentQualificationTime = &aepwire.SegmentQualificationTime{StartTime: q.StartTime.ValueString(), EndTime: q.EndTime.ValueString()}
		}
	}
	if !in.EventList.IsNull() {
		var el eventListModelV0
		diags.Append(in.EventList.As(ctx, &el, objectAsOptions)...)
		list := &aepwire.EventList{Fields: el.Fields.ValueString()}
		if !el.FromIngestTimestamp.IsNull() || !el.ToIngestTimestamp.IsNull() {
			list.Filter = &aepwire.EventListFilter{FromIngestTimestamp: el.FromIngestTimestamp.ValueString(), ToIngestTimestamp: el.ToIngestTimestamp.ValueString()}
		}
		req.AdditionalFields = &aepwire.AdditionalFields{EventList: list}
	}
	var d destinationModelV0
	diags.Append(in.Destination.As(ctx, &d, objectAsOptions)...)
	req.Destination = aepwire.ExportDestination{DatasetID: d.DatasetID.ValueString(), SegmentPerBatch: d.SegmentPerBatch.ValueBool()}
	return req, diags
}

// jobInputsOf renders the request a job echoes as attributes: for import, and for the data source.
func jobInputsOf(ctx context.Context, job *aepwire.ExportJob) (jobInputs, diag.Diagnostics) {
	var diags diag.Diagnostics
	in := jobInputs{Fields: optionalString(job.Fields), SchemaName: types.StringValue(job.Schema.Name)}
	version := types.Int64Null()
	if job.MergePolicy.Version != nil {
		version = types.Int64Value(*job.MergePolicy.Version)
	}
	in.MergePolicy = objectValue(&diags, mergePolicyRefAttrTypes, map[string]attr.Value{"id": types.StringValue(job.MergePolicy.ID), "version": version})
	in.Filter = types.ObjectNull(exportFilterAttrTypes)
	if f := job.Filter; f != nil {
		segments := types.ListNull(types.ObjectType{AttrTypes: segmentFilterAttrTypes})
		if f.Segments != nil {
			var elems []attr.Value
			for _, s := range f.Segments {
				status := types.ListNull(types.StringType)
				if s.Status != nil {
					var d diag.Diagnostics
					status, d = types.ListValueFrom(ctx, types.StringType, s.Status)
					diags.Append(d...)
				}
				elems = append(elems, objectValue(&diags, segmentFilterAttrTypes, map[string]attr.Value{
					"segment_id": types.StringValue(s.SegmentID), "segment_ns": optionalString(s.SegmentNs), "status": status,
				}))
			}
			segments = listValue(&diags, types.ObjectType{AttrTypes: segmentFilterAttrTypes}, elems)
		}
		qual := types.ObjectNull(qualificationTimeAttrTypes)
		if q := f.SegmentQualificationTime; q != nil {
			qual = objectValue(&diags, qualificationTimeAttrTypes, map[string]attr.Value{
				"start_time": optionalString(q.StartTime), "end_time": optionalString(q.EndTime),
			})
		}
		empty := types.BoolNull()
		if f.EmptyProfiles {
			empty = types.BoolValue(true)
		}
		in.Filter = objectValue(&diags, exportFilterAttrTypes, map[string]attr.Value{
			"from_ingest_timestamp": optionalString(f.FromIngestTimestamp), "empty_profiles": empty,
			"segments": segments, "segment_qualification_time": qual,
		})
	}
	in.EventList = types.ObjectNull(eventListAttrTypes)
	if af := job.AdditionalFields; af != nil && af.EventList != nil {
		el := af.EventList
		var from, to string
		if el.Filter != nil {
			from, to = el.Filter.FromIngestTimestamp, el.Filter.ToIngestTimestamp
		}
		in.EventList = objectValue(&diags, eventListAttrTypes, map[string]attr.Value{
			"fields": optionalString(el.Fields), "from_ingest_timestamp": optionalString(from), "to_ingest_timestamp": optionalString(to),
		})
	}
	in.Destination = objectValue(&diags, destinationAttrTypes, map[string]attr.Value{
		"dataset_id": types.StringValue(job.Destination.DatasetID), "segment_per_batch": types.BoolValue(job.Destination.SegmentPerBatch),
	})
	return in, diags
}

// jobView is what an export job reports of itself.
type jobView struct {
	ID             types.String
	Status         types.String
	BatchID        types.String
	Batches        types.List
	RequestID      types.String
	JobType        types.String
	CreationTimeMs types.Int64
	UpdateTimeMs   types.Int64
	Errors         types.List
	Warnings       types.List
	Metrics        types.Object
}

// committedBatch is a batch id of a job as batch_id reports it: null once the job failed or was
// cancelled, as its batches were never committed, although the platform still names them.
func committedBatch(job *aepwire.ExportJob, id string) types.String {
	if job.Status == aepwire.JobFailed || job.Status == aepwire.JobCancelled {
		return types.StringNull()
	}
	return optionalString(id)
}

func jobViewOf(job *aepwire.ExportJob) (jobView, diag.Diagnostics) {
	var diags diag.Diagnostics
	v := jobView{
		ID:             types.StringValue(strconv.FormatInt(job.ID, 10)),
		Status:         types.StringValue(job.Status),
		BatchID:        committedBatch(job, job.Destination.BatchID),
		RequestID:      types.StringValue(job.RequestID),
		JobType:        types.StringValue(job.JobType),
		CreationTimeMs: types.Int64Value(job.CreationTime),
		UpdateTimeMs:   types.Int64Value(job.UpdateTime),
		Errors:         messagesValue(&diags, job.Errors),
		Warnings:       messagesValue(&diags, job.Warnings),
	}
	v.Batches = types.ListNull(types.ObjectType{AttrTypes: exportBatchAttrTypes})
	if job.Destination.SegmentPerBatch {
		var elems []attr.Value
		for _, b := range job.Destination.Batches {
			elems = append(elems, objectValue(&diags, exportBatchAttrTypes, map[string]attr.Value{
				"segment_id": types.StringValue(b.SegmentID), "segment_ns": types.StringValue(b.SegmentNs), "batch_id": committedBatch(job, b.BatchID),
			}))
		}
		v.Batches = listValue(&diags, types.ObjectType{AttrTypes: exportBatchAttrTypes}, elems)
	}
	m := job.Metrics
	byNS := types.MapNull(types.Int64Type)
	if m.ExportedProfileByNamespaceCounter != nil {
		elems := map[string]attr.Value{}
		for ns, n := range m.ExportedProfileByNamespaceCounter {
			elems[ns] = types.Int64Value(n)
		}
		var d diag.Diagnostics
		byNS, d = types.MapValue(types.Int64Type, elems)
		diags.Append(d...)
	}
	v.Metrics = objectValue(&diags, exportMetricsAttrType, map[string]attr.Value{
		"total_time":                    timingValue(&diags, m.TotalTime),
		"profile_export_time":           timingValue(&diags, m.ProfileExportTime),
		"dataset_write_time":            timingValue(&diags, m.ACPDatasetWriteTime),
		"exported_profile_count":        types.Int64PointerValue(m.TotalExportedProfileCounter),
		"exported_event_count":          types.Int64PointerValue(m.ExportedEventCounter),
		"bytes_written":                 types.Int64PointerValue(m.BytesWritten),
		"excluded_profile_count":        types.Int64PointerValue(m.ExcludedProfileCount),
		"exported_profile_by_namespace": byNS,
	})
	return v, diags
}

func timingValue(diags *diag.Diagnostics, t *aepwire.FeedbackMetrics) types.Object {
	if t == nil {
		return types.ObjectNull(timingAttrTypes)
	}
	end, total := types.Int64Null(), types.Int64Null()
	if t.EndTimeInMs != 0 {
		end, total = types.Int64Value(t.EndTimeInMs), types.Int64Value(t.TotalTimeInMs)
	}
	return objectValue(diags, timingAttrTypes, map[string]attr.Value{"start_ms": types.Int64Value(t.StartTimeInMs), "end_ms": end, "total_ms": total})
}

func messagesValue(diags *diag.Diagnostics, msgs []aepwire.JobError) types.List {
	elems := []attr.Value{}
	for _, e := range msgs {
		elems = append(elems, objectValue(diags, jobMessageAttrTypes, map[string]attr.Value{
			"code": types.StringValue(e.Code), "msg": types.StringValue(e.Msg),
		}))
	}
	return listValue(diags, types.ObjectType{AttrTypes: jobMessageAttrTypes}, elems)
}

func objectValue(diags *diag.Diagnostics, t map[string]attr.Type, v map[string]attr.Value) types.Object {
	o, d := types.ObjectValue(t, v)
	diags.Append(d...)
	return o
}

func listValue(diags *diag.Diagnostics, t attr.Type, elems []attr.Value) types.List {
	if elems == nil {
		elems = []attr.Value{}
	}
	l, d := types.ListValue(t, elems)
	diags.Append(d...)
	return l
}
