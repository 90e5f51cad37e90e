package provider

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

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
	return &exportJobsDataSource{}
}

type exportJobsDataSource struct {
	data *providerData
}

type exportJobsDataSourceModelV0 struct {
	Status types.String `tfsdk:"status"`
	Limit  types.Int64  `tfsdk:"limit"`
	Jobs   types.List   `tfsdk:"jobs"`
}

var exportJobSummaryAttrTypes = map[string]attr.Type{
	"id":                     types.StringType,
	"status":                 types.StringType,
	"destination_dataset_id": types.StringType,
	"batch_id":               types.StringType,
	"merge_policy_id":        types.StringType,
	"creation_time_ms":       types.Int64Type,
	"update_time_ms":         types.Int64Type,
	"exported_profile_count": types.Int64Type,
	"errors":                 types.ListType{ElemType: types.ObjectType{AttrTypes: jobMessageAttrTypes}},
}

func (d *exportJobsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_export_jobs"
}

func (d *exportJobsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Lists export jobs, newest first, as GET /export/jobs does, following its pages up to limit.",
		Attributes: map[string]schema.Attribute{
			"status": schema.StringAttribute{
				Optional:    true,
				Description: "Only jobs with this status: NEW, PROCESSING, SUCCEEDED, FAILED or CANCELLED.",
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

func (d *exportJobsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configureData(&resp.Diagnostics, req.ProviderData)
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
	q := aepwire.ExportJobQuery{Status: config.Status.ValueString(), Limit: min(limit, defaultExportJobsLimit)}
	for len(jobs) < limit {
		page, err := d.data.backend.ListExportJobs(ctx, q)
		if err != nil {
			resp.Diagnostics.AddError("Cannot list export jobs", errorDetail("Listing export jobs failed.", "", err))
			return
		}
		jobs = append(jobs, page.Records...)
		if page.Link.Next == "" || len(page.Records) == 0 {
			break
		}
		q.Offset = nextOffset(page)
	}
	if len(jobs) > limit {
		jobs = jobs[:limit]
	}
	var diags diag.Diagnostics
	elems := make([]attr.Value, 0, len(jobs))
	for i := range jobs {
		j := &jobs[i]
		elems = append(elems, objectValue(&diags, exportJobSummaryAttrTypes, map[string]attr.Value{
			"id":                     types.StringValue(strconv.FormatInt(j.ID, 10)),
			"status":                 types.StringValue(j.Status),
			"destination_dataset_id": types.StringValue(j.Destination.DatasetID),
			"batch_id":               committedBatch(j, j.Destination.BatchID),
			"merge_policy_id":        types.StringValue(j.MergePolicy.ID),
			"creation_time_ms":       types.Int64Value(j.CreationTime),
			"update_time_ms":         types.Int64Value(j.UpdateTime),
			"exported_profile_count": types.Int64PointerValue(j.Metrics.TotalExportedProfileCounter),
			"errors":                 messagesValue(&diags, j.Errors),
		}))
	}
	config.Jobs = listValue(&diags, types.ObjectType{AttrTypes: exportJobSummaryAttrTypes}, elems)
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
