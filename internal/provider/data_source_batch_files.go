package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

var (
	_ datasource.DataSource              = (*batchFilesDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*batchFilesDataSource)(nil)
)

// NewBatchFilesDataSource returns the experienceplatform_batch_files data source.
func NewBatchFilesDataSource() datasource.DataSource {
	return &batchFilesDataSource{dataSourceBase{name: "batch_files"}}
}

type batchFilesDataSource struct {
	dataSourceBase
}

type batchFilesDataSourceModelV0 struct {
	BatchID types.String `tfsdk:"batch_id"`
	Files   types.List   `tfsdk:"files"`
}

type batchFileModelV0 struct {
	FileID    types.String `tfsdk:"file_id"`
	Name      types.String `tfsdk:"name"`
	SizeBytes types.Int64  `tfsdk:"size_bytes"`
	Records   types.Int64  `tfsdk:"records"`
	Path      types.String `tfsdk:"path"`
}

func (batchFileModelV0) attrTypes() map[string]attr.Type {
	return nestedAttrTypes(batchFilesType(), "files")
}

func (d *batchFilesDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "The files of a batch, such as the JSON Lines files an export job wrote (Data Access API).",
		Attributes: map[string]schema.Attribute{
			"batch_id": schema.StringAttribute{Required: true, Description: "Id of the batch, such as an export job's batch_id."},
			"files": schema.ListNestedAttribute{
				Computed:    true,
				Description: "The batch's files, in name order.",
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"file_id":    schema.StringAttribute{Computed: true, Description: "Data Access id of the file ({batch id}-{n})."},
					"name":       schema.StringAttribute{Computed: true, Description: "Name of the file, such as part-00000.json."},
					"size_bytes": schema.Int64Attribute{Computed: true, Description: "Size of the file in bytes."},
					"records": schema.Int64Attribute{Computed: true, Description: "Records (rows) in the file. In remote " +
						"mode, the count AEP reports for the file's dataset file, when that dataset file is this one file; " +
						"null when AEP reports no count for it."},
					"path": schema.StringAttribute{Computed: true,
						Description: "Where to read the file: a local path with the embedded engine, the Data Access URL in remote mode."},
				}},
			},
		},
	}
}

// batchFileRecords is the record count of a file. Data Access counts records per dataset file,
// and only a dataset file of one file tells a file's count: the client reports 0 otherwise, which
// a file with contents cannot hold.
func batchFileRecords(remote bool, f aepwire.BatchFile) types.Int64 {
	if remote && f.Records == 0 && f.Size > 0 {
		return types.Int64Null()
	}
	return types.Int64Value(f.Records)
}

func (d *batchFilesDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var config batchFilesDataSourceModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	files, err := d.data.backend.ListBatchFiles(ctx, config.BatchID.ValueString())
	if err != nil {
		fix := "Check that the id names an existing batch."
		if job := d.jobWriting(ctx, config.BatchID.ValueString(), err); job != nil {
			fix = fmt.Sprintf("The batch is the output of export job %d, which is %s: its files are listed once the job has "+
				"succeeded. Read them after the job ends: set wait_for_completion = true on the export job, or read them in a "+
				"later apply.", job.ID, job.Status)
		}
		resp.Diagnostics.AddError("Cannot list batch files",
			errorDetail(fmt.Sprintf("Listing the files of batch %s failed.", config.BatchID.ValueString()), fix, err))
		return
	}
	var diags diag.Diagnostics
	config.Files = objectList(ctx, &diags, files, func(f aepwire.BatchFile) batchFileModelV0 {
		return batchFileModelV0{FileID: types.StringValue(f.ID), Name: types.StringValue(f.Name), SizeBytes: types.Int64Value(f.Size),
			Records: batchFileRecords(d.data.remote, f), Path: types.StringValue(f.Location)}
	})
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &config)...)
}

// jobWriting is the export job, among the newest hundred, that has not ended and writes the batch
// id that was not found (err): a batch being written is not listed until its job succeeds.
func (d *batchFilesDataSource) jobWriting(ctx context.Context, id string, err error) *aepwire.ExportJob {
	if !aepwire.IsNotFound(err) {
		return nil
	}
	page, err := d.data.backend.ListExportJobs(ctx, aepwire.ExportJobQuery{Limit: 100})
	if err != nil {
		return nil
	}
	for i, job := range page.Records {
		if job.Destination.BatchID == id && !aepwire.JobTerminal(job.Status) {
			return &page.Records[i]
		}
	}
	return nil
}
