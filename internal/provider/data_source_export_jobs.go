package provider

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

var (
	_ datasource.DataSource              = (*exportJobsDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*exportJobsDataSource)(nil)
)

const defaultExportJobsLimit = 100

// NewExportJobsDataSource returns the experienceplatform_export_jobs data source.
func NewExportJobsDataSource() datasource.DataSource {
	return &exportJobsDataSource{dataSourceBase{name: "export_jobs"}}
}

type exportJobsDataSource struct {
	dataSourceBase
}

type exportJobsDataSourceModelV0 struct {
	Status types.String `tfsdk:"status"`
	Limit  types.Int64  `tfsdk:"limit"`
	Jobs   types.List   `tfsdk:"jobs"`
}

type exportJobSummaryModelV0 struct {
	ID                   types.String `tfsdk:"id"`
	Status               types.String `tfsdk:"status"`
	DestinationDatasetID types.String `tfsdk:"destination_dataset_id"`
	BatchID              types.String `tfsdk:"batch_id"`
	MergePolicyID        types.String `tfsdk:"merge_policy_id"`
	CreationTimeMs       types.Int64  `tfsdk:"creation_time_ms"`
	UpdateTimeMs         types.Int64  `tfsdk:"update_time_ms"`
	ExportedProfileCount types.Int64  `tfsdk:"exported_profile_count"`
	Errors               types.List   `tfsdk:"errors"`
}

func (exportJobSummaryModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(exportJobsType(), "jobs")
}

func (d *exportJobsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Lists export jobs, newest first, as GET /export/jobs does, following its pages up to limit.",
		Attributes: map[string]schema.Attribute{
			"status": schema.StringAttribute{
				Optional: true,
				Description: "Only jobs with this status: NEW, PROCESSING, SUCCEEDED or FAILED, or CANCELLED (the embedded " +
					"engine's status of a cancelled job).",
				Validators: []validator.String{stringvalidator.OneOf(aepwire.JobNew, aepwire.JobProcessing, aepwire.JobSucceeded,
					aepwire.JobFailed, aepwire.JobCancelled)},
			},
			"limit": schema.Int64Attribute{
				Optional:    true,
				Description: fmt.Sprintf("At most this many jobs (default %d, at most 1000).", defaultExportJobsLimit),
				Validators:  []validator.Int64{int64validator.Between(1, 1000)},
			},
			"jobs": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The jobs, newest first.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"id":                     schema.StringAttribute{Computed: true, Description: "Id of the job."},
					"status":                 schema.StringAttribute{Computed: true, Description: "Status of the job."},
					"destination_dataset_id": schema.StringAttribute{Computed: true, Description: "Dataset the job writes into."},
					"batch_id":               schema.StringAttribute{Computed: true, Description: "Batch the job writes, without segment_per_batch; null once it failed or was cancelled."},
					"merge_policy_id":        schema.StringAttribute{Computed: true, Description: "Merge policy of the job."},
					"creation_time_ms":       schema.Int64Attribute{Computed: true, Description: "When the job was created, epoch milliseconds."},
					"update_time_ms":         schema.Int64Attribute{Computed: true, Description: "When the job last changed, epoch milliseconds."},
					"exported_profile_count": schema.Int64Attribute{Computed: true, Description: "Rows the job wrote; null until it ends."},
					"errors": schema.ListNestedAttribute{Computed: true, Description: "Why the job failed.",
						NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
							"code": schema.StringAttribute{Computed: true, Description: "Error code."},
							"msg":  schema.StringAttribute{Computed: true, Description: "What went wrong."},
						}}},
				}},
			},
		},
	}
}

func (d *exportJobsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config exportJobsDataSourceModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	limit := defaultExportJobsLimit
	if !config.Limit.IsNull() {
		limit = int(config.Limit.ValueInt64())
	}
	var jobs []aepwire.ExportJob
	var unreadable []string
	q := aepwire.ExportJobQuery{Status: config.Status.ValueString(), Limit: min(limit, defaultExportJobsLimit)}
	for len(jobs) < limit {
		page, err := d.data.backend.ListExportJobs(ctx, q)
		if err != nil {
			resp.Diagnostics.AddError("Cannot list export jobs", errorDetail("Listing export jobs failed.", "", err))
			return
		}
		jobs = append(jobs, page.Records...)
		unreadable = append(unreadable, page.Unreadable...)
		if page.Link.Next == "" || len(page.Records) == 0 {
			break
		}
		q.Offset = nextOffset(page)
	}
	if len(jobs) > limit {
		jobs = jobs[:limit]
	}
	if len(unreadable) > 0 {
		// A job the platform describes in a form this provider cannot read is left out, never
		// silently: the list is still useful, and the warning says what it lacks.
		resp.Diagnostics.AddWarning("Some export jobs could not be read",
			fmt.Sprintf("The platform listed %d export job(s) in a form this provider cannot read; jobs leaves them out:\n  %s\n"+
				"The other jobs are listed.", len(unreadable), strings.Join(unreadable, "\n  ")))
	}
	var diags diag.Diagnostics
	config.Jobs = objectList(ctx, &diags, jobs, func(j aepwire.ExportJob) exportJobSummaryModelV0 {
		return exportJobSummaryModelV0{
			ID:                   types.StringValue(strconv.FormatInt(j.ID, 10)),
			Status:               types.StringValue(j.Status),
			DestinationDatasetID: types.StringValue(j.Destination.DatasetID),
			BatchID:              committedBatch(&j, j.Destination.BatchID),
			MergePolicyID:        types.StringValue(j.MergePolicy.ID),
			CreationTimeMs:       types.Int64Value(j.CreationTime),
			UpdateTimeMs:         types.Int64Value(j.UpdateTime),
			ExportedProfileCount: types.Int64PointerValue(j.Metrics.TotalExportedProfileCounter),
			Errors:               objectList(ctx, &diags, j.Errors, jobMessageOf),
		}
	})
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &config)...)
}

// nextOffset is the offset of the next page: from link.next, as AEP's own clients read it, or
// else the page's offset.
func nextOffset(page *aepwire.ExportJobList) string {
	if u, err := url.Parse(page.Link.Next); err == nil {
		if o := u.Query().Get("offset"); o != "" {
			return o
		}
	}
	return page.Page.PageOffset
}
