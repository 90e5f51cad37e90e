package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
)

var (
	_ datasource.DataSource              = (*datasetDataSource)(nil)
	_ datasource.DataSourceWithConfigure = (*datasetDataSource)(nil)
)

// NewDatasetDataSource returns the experienceplatform_dataset data source.
func NewDatasetDataSource() datasource.DataSource {
	return &datasetDataSource{dataSourceBase{name: "dataset"}}
}

type datasetDataSource struct {
	dataSourceBase
}

func (d *datasetDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Looks up a Catalog dataset by id.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Required:    true,
				Description: "Catalog id of the dataset.",
			},
			"name": schema.StringAttribute{
				Computed:    true,
				Description: "Name of the dataset.",
			},
			"description": schema.StringAttribute{
				Computed:    true,
				Description: "Description of the dataset; null when it has none.",
			},
			"schema_ref": schema.SingleNestedAttribute{
				Computed:    true,
				Description: "The XDM schema of the dataset.",
				Attributes: map[string]schema.Attribute{
					"id": schema.StringAttribute{
						Computed:    true,
						Description: "The schema's URI.",
					},
					"content_type": schema.StringAttribute{
						Computed:    true,
						Description: "Content type of the schema reference.",
					},
				},
			},
			"tags": schema.MapAttribute{
				Computed:    true,
				ElementType: tagsType.ElemType,
				Description: "Catalog tags, without `unifiedProfile` (see `profile_enabled`) and the platform's `adobe/` tags.",
			},
			"profile_enabled": schema.BoolAttribute{
				Computed:    true,
				Description: "Whether the dataset is enabled for Real-Time Customer Profile.",
			},
			"version": schema.StringAttribute{
				Computed:    true,
				Description: "Catalog version of the dataset.",
			},
			"created_ms": schema.Int64Attribute{
				Computed:    true,
				Description: "Creation time, epoch milliseconds.",
			},
			"updated_ms": schema.Int64Attribute{
				Computed:    true,
				Description: "Time of the last change, epoch milliseconds.",
			},
			"state": schema.StringAttribute{
				Computed:    true,
				Description: "Catalog state of the dataset.",
			},
		},
	}
}

func (d *datasetDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	lookupObject(ctx, req, resp, &datasetResourceModelV0{}, datasetKind, d.data.backend.GetDataset)
}
