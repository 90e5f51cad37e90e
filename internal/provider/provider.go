// Package provider is the Terraform layer of the experienceplatform provider: schemas, models,
// CRUD and diagnostics. It reaches the platform only through backend.Backend.
package provider

import (
	"context"
	"os"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// Environment variables that configure the provider when the configuration does not.
const (
	envDataDir = "AEP_DATA_DIR"
)

// defaultDataDir is the embedded engine's data directory when neither data_dir nor AEP_DATA_DIR
// is set, relative to the directory Terraform runs in, like .terraform.
const defaultDataDir = ".aep"

// Ensure the implementations satisfy the interfaces.
var (
	_ provider.Provider = (*experiencePlatformProvider)(nil)
	_ backend.Backend   = (*exportengine.Engine)(nil)
)

type experiencePlatformProvider struct {
	version string
	engines *engineRegistry
}

// providerData is what Configure hands to every resource and data source.
type providerData struct {
	backend backend.Backend
}

type providerModelV0 struct {
	DataDir types.String `tfsdk:"data_dir"`
}

// New returns the provider factory. Every provider it makes shares one registry of open engines,
// so that repeated configurations in one process (as in acceptance tests) reuse the engine of a
// data directory instead of opening it again.
func New(version string) func() provider.Provider {
	engines := newEngineRegistry()
	return func() provider.Provider {
		return &experiencePlatformProvider{version: version, engines: engines}
	}
}

func (p *experiencePlatformProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "experienceplatform"
	resp.Version = p.version
}

func (p *experiencePlatformProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		Description: "Manages Adobe Experience Platform export datasets and profile export jobs, " +
			"either in the embedded export engine (the default) or through the AEP REST API.",
		Attributes: map[string]schema.Attribute{
			"data_dir": schema.StringAttribute{
				Optional: true,
				Description: "Directory of the embedded engine: its database and the files of its batches. " +
					"Created when missing; several Terraform runs may share it at once. " +
					"Defaults to the `" + envDataDir + "` environment variable, else `" + defaultDataDir +
					"` in the directory Terraform runs in. A relative path is resolved against that directory.",
			},
		},
	}
}

func (p *experiencePlatformProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if config.DataDir.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("data_dir"), "Unknown data directory",
			"The provider cannot open the embedded engine because data_dir depends on a value that is known "+
				"only after apply. Set data_dir to a literal path, or use the "+envDataDir+" environment variable.")
		return
	}

	dataDir := config.DataDir.ValueString()
	if dataDir == "" {
		dataDir = os.Getenv(envDataDir)
	}
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	engine, err := p.engines.open(ctx, dataDir)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("data_dir"), "Cannot open the embedded engine",
			"The embedded engine could not open its data directory "+dataDir+". Check that the directory "+
				"is writable and was not written by a newer provider version.\n\nOriginal error: "+err.Error())
		return
	}
	tflog.Debug(ctx, "opened embedded engine", map[string]any{"data_dir": engine.DataDir()})

	data := &providerData{backend: engine}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *experiencePlatformProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDatasetResource,
		NewBatchResource,
		NewMergePolicyResource,
		NewExportJobResource,
	}
}

func (p *experiencePlatformProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{
		NewDatasetDataSource,
		NewMergePolicyDataSource,
		NewExportJobDataSource,
		NewExportJobsDataSource,
		NewBatchFilesDataSource,
	}
}
