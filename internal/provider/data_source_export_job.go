package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	rschema "github.com/hashicorp/terraform-plugin-framework/resource/schema"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

var (
	_ datasource.DataSource              = (*exportJobDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*exportJobDataSource)(nil)
)

// NewExportJobDataSource returns the experienceplatform_export_job data source.
func NewExportJobDataSource() datasource.DataSource {
	return &exportJobDataSource{dataSourceBase{name: "export_job"}}
}

type exportJobDataSource struct {
	dataSourceBase
}

type exportJobDataSourceModelV0 struct {
	exportJobInputsModel
	exportJobViewModel
}

func (m *exportJobDataSourceModelV0) fill(ctx context.Context, job *aepwire.ExportJob) diag.Diagnostics {
	var diags, d diag.Diagnostics
	m.exportJobInputsModel, diags = jobInputsOf(ctx, job)
	m.exportJobViewModel, d = jobViewOf(ctx, job)
	diags.Append(d...)
	return diags
}

func (d *exportJobDataSource) Schema(ctx context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	attrs := exportJobComputedAttributes(ctx)
	attrs["id"] = schema.StringAttribute{Required: true, Description: "Id of the export job."}
	resp.Schema = schema.Schema{
		Description: "Looks up an export job by id: its status, batches and metrics, and the request it was created with.",
		Attributes:  attrs,
	}
}

// echoedDescriptions describe the request as a job echoes it, where the resource's descriptions
// say what to set or leave out. Keys are attribute paths.
var echoedDescriptions = map[string]string{
	"fields":                     "The profile fields the job exports, as comma-separated dot paths; null when it exports whole profiles.",
	"merge_policy":               "The merge policy the job used: the one it named, or the sandbox's default when it named none.",
	"merge_policy.id":            "Id of the merge policy.",
	"merge_policy.version":       "Version of the merge policy the job used.",
	"filter":                     "Which profiles the job exports; null when it exports every profile that has at least one profile record.",
	"filter.segments.segment_ns": "Namespace of the segment; null when the request named none, which means `ups`.",
	"filter.segments.status": "Membership statuses that qualify; null when the request named none, which means " +
		"realized and existing.",
	"event_list": "The experience events the job adds to each row, as `eventList`, ordered by timestamp; null when " +
		"rows have no events.",
	"event_list.fields":              "The event fields the job exports; null for whole events.",
	"event_list.to_ingest_timestamp": "Only events ingested strictly before this RFC 3339 time.",
	"destination.segment_per_batch":  "Whether the job writes one batch a segment of filter.segments (see batches) instead of one batch.",
	"schema_name":                    "Schema of the exported profiles.",
}

// exportJobComputedAttributes is the resource's schema with every attribute computed: the
// request as the job echoes it, and what the job reports.
func exportJobComputedAttributes(ctx context.Context) map[string]schema.Attribute {
	var rs resource.SchemaResponse
	(&exportJobResource{}).Schema(ctx, resource.SchemaRequest{}, &rs)
	out := map[string]schema.Attribute{}
	for name, a := range rs.Schema.Attributes {
		switch name {
		case "triggers", "wait_for_completion", "timeouts":
			continue
		}
		out[name] = computedAttribute(name, a)
	}
	return out
}

// computedAttribute turns the resource attribute at path p into a computed data source attribute.
func computedAttribute(p string, a rschema.Attribute) schema.Attribute {
	desc := a.GetDescription()
	if echoed, ok := echoedDescriptions[p]; ok {
		desc = echoed
	}
	switch a := a.(type) {
	case rschema.StringAttribute:
		return schema.StringAttribute{Computed: true, Description: desc}
	case rschema.Int64Attribute:
		return schema.Int64Attribute{Computed: true, Description: desc}
	case rschema.BoolAttribute:
		return schema.BoolAttribute{Computed: true, Description: desc}
	case rschema.MapAttribute:
		return schema.MapAttribute{Computed: true, Description: desc, ElementType: a.ElementType}
	case rschema.ListAttribute:
		return schema.ListAttribute{Computed: true, Description: desc, ElementType: a.ElementType}
	case rschema.SingleNestedAttribute:
		return schema.SingleNestedAttribute{Computed: true, Description: desc, Attributes: computedAttributes(p, a.Attributes)}
	case rschema.ListNestedAttribute:
		return schema.ListNestedAttribute{Computed: true, Description: desc,
			NestedObject: schema.NestedAttributeObject{Attributes: computedAttributes(p, a.NestedObject.Attributes)}}
	}
	panic(fmt.Sprintf("computedAttribute: unexpected %T", a))
}

func computedAttributes(parent string, in map[string]rschema.Attribute) map[string]schema.Attribute {
	out := map[string]schema.Attribute{}
	for name, a := range in {
		out[name] = computedAttribute(parent+"."+name, a)
	}
	return out
}

func (d *exportJobDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config exportJobDataSourceModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	id, ok := jobID(config.ID, &resp.Diagnostics)
	if !ok {
		return
	}
	job, err := d.data.backend.GetExportJob(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read export job",
			errorDetail(fmt.Sprintf("Looking up export job %d failed.", id), "Check that the id names an existing job.", err))
		return
	}
	resp.Diagnostics.Append(config.fill(ctx, job)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &config)...)
}
