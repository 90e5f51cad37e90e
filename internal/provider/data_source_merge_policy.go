package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ datasource.DataSource              = (*mergePolicyDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*mergePolicyDataSource)(nil)
)

// NewMergePolicyDataSource returns the experienceplatform_merge_policy data source.
func NewMergePolicyDataSource() datasource.DataSource {
	return &mergePolicyDataSource{dataSourceBase{name: "merge_policy"}}
}

type mergePolicyDataSource struct {
	dataSourceBase
}

func (d *mergePolicyDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Looks up a merge policy by id: one of the organisation's, or one built into the embedded engine, " +
			"`timestampOrdered-none-mp` or `timestampOrdered-pdg-mp`.",
		Attributes: map[string]schema.Attribute{
			"id":              schema.StringAttribute{Required: true, Description: "Id of the merge policy."},
			"name":            schema.StringAttribute{Computed: true, Description: "Name of the merge policy."},
			"identity_graph":  schema.StringAttribute{Computed: true, Description: "`none` or `pdg`."},
			"attribute_merge": schema.StringAttribute{Computed: true, Description: "`timestampOrdered` or `dataSetPrecedence`."},
			"dataset_order": schema.ListAttribute{Computed: true, ElementType: types.StringType,
				Description: "Dataset ids in precedence order, for `dataSetPrecedence`."},
			"default":      schema.BoolAttribute{Computed: true, Description: "Whether this is the sandbox's default merge policy."},
			"version":      schema.Int64Attribute{Computed: true, Description: "Latest version of the policy."},
			"update_epoch": schema.Int64Attribute{Computed: true, Description: "Time of the last change, epoch seconds."},
		},
	}
}

func (d *mergePolicyDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	lookupObject(ctx, req, resp, &mergePolicyModelV0{}, mergePolicyKind, d.data.backend.GetMergePolicy)
}
