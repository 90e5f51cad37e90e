// Package provider is the Terraform layer of the experienceplatform provider: schemas, models,
// CRUD and diagnostics. It reaches the platform only through backend.Backend.
package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepclient"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// Environment variables that configure the provider when the configuration does not.
const (
	envDataDir      = "AEP_DATA_DIR"
	envEndpoint     = "AEP_ENDPOINT"
	envIMSEndpoint  = "AEP_IMS_ENDPOINT"
	envClientID     = "AEP_CLIENT_ID"
	envClientSecret = "AEP_CLIENT_SECRET"
	envAccessToken  = "AEP_ACCESS_TOKEN"
	envOrgID        = "AEP_ORG_ID"
	envSandboxName  = "AEP_SANDBOX_NAME"
)

// defaultDataDir is the embedded engine's data directory when neither data_dir nor AEP_DATA_DIR
// is set, relative to the directory Terraform runs in, like .terraform.
const defaultDataDir = ".aep"

const (
	defaultPollIntervalMs = 1000
	minPollIntervalMs     = 10
)

// remoteOnly starts the description of a setting that only remote mode reads.
const remoteOnly = "Remote mode only. "

// Ensure the implementations satisfy the interfaces.
var (
	_ provider.Provider                   = (*experiencePlatformProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*experiencePlatformProvider)(nil)
	_ backend.Backend                     = (*exportengine.Engine)(nil)
	_ backend.Backend                     = (*aepclient.Client)(nil)
)

type experiencePlatformProvider struct {
	version string
	engines *engineRegistry
	// wrapBackend, when set, stands between the resources and the platform: tests use it to make
	// the platform slow or faulty at a chosen call.
	wrapBackend func(backend.Backend) backend.Backend
	clock       clock.Clock // nil: the wall clock
}

// providerData is what Configure hands to every resource and data source.
type providerData struct {
	backend backend.Backend
	remote  bool        // the backend is the AEP REST API (or an engine served over it)
	clock   clock.Clock // times the provider's own waits
}

type providerModelV0 struct {
	DataDir        types.String `tfsdk:"data_dir"`
	Endpoint       types.String `tfsdk:"endpoint"`
	IMSEndpoint    types.String `tfsdk:"ims_endpoint"`
	ClientID       types.String `tfsdk:"client_id"`
	ClientSecret   types.String `tfsdk:"client_secret"`
	AccessToken    types.String `tfsdk:"access_token"`
	OrgID          types.String `tfsdk:"org_id"`
	SandboxName    types.String `tfsdk:"sandbox_name"`
	PollIntervalMs types.Int64  `tfsdk:"poll_interval_ms"`
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
			"either in the embedded export engine (the default) or through the AEP REST API (with endpoint).",
		Attributes: map[string]schema.Attribute{
			"data_dir": schema.StringAttribute{
				Optional: true,
				Description: "Embedded engine only. Directory of the embedded engine: its database and the files of every " +
					"batch, which are the platform's data, not a cache (see the data directory guide). Created when missing; " +
					"several Terraform runs may share it at once. Defaults to the `" + envDataDir + "` environment variable, " +
					"else `" + defaultDataDir + "` in the directory Terraform runs in; a relative path is resolved against that " +
					"directory. Setting it together with `endpoint` (or `" + envEndpoint + "`) is an error.",
			},
			"endpoint": schema.StringAttribute{
				Optional: true,
				Description: "Base URL of the AEP REST API, such as `https://platform.adobe.io`, or of an engine served " +
					"with `terraform-provider-experienceplatform -serve`. Setting it (or `" + envEndpoint + "`) selects " +
					"remote mode; leave it out for the embedded engine. The settings below marked remote mode only are " +
					"ignored without it, with a warning.",
			},
			"ims_endpoint": schema.StringAttribute{
				Optional: true,
				Description: remoteOnly + "Base URL of Adobe IMS, which issues the OAuth server-to-server tokens. Defaults to `" +
					envIMSEndpoint + "`, else `" + aepclient.DefaultIMSEndpoint + "`.",
			},
			"client_id": schema.StringAttribute{
				Optional: true,
				Description: remoteOnly + "Client id of the OAuth server-to-server credential, also sent as the API key " +
					"(`x-api-key`). Defaults to `" + envClientID + "`.",
			},
			"client_secret": schema.StringAttribute{
				Optional:    true,
				Sensitive:   true,
				Description: remoteOnly + "Client secret of the OAuth server-to-server credential. Defaults to `" + envClientSecret + "`. Never logged.",
			},
			"access_token": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				Description: remoteOnly + "An access token to use as it is, instead of obtaining one with client_secret. Defaults to `" +
					envAccessToken + "`. Never logged.",
			},
			"org_id": schema.StringAttribute{
				Optional:    true,
				Description: remoteOnly + "IMS organisation id (`x-gw-ims-org-id`), such as `12345@AdobeOrg`. Defaults to `" + envOrgID + "`.",
			},
			"sandbox_name": schema.StringAttribute{
				Optional: true,
				Description: "Sandbox to work in (`x-sandbox-name`). Defaults to `" + envSandboxName + "`, else `prod`. The " +
					"embedded engine keeps each sandbox's objects apart in its data directory, as AEP does.",
			},
			"poll_interval_ms": schema.Int64Attribute{
				Optional: true,
				Description: fmt.Sprintf(remoteOnly+"Upper bound, in milliseconds, on the wait between two status polls of an "+
					"export job: polls start closer together and the wait between them grows up to this. "+
					"At least %d; defaults to %d. The embedded engine needs no polling: it tells the provider when a job ends.",
					minPollIntervalMs, defaultPollIntervalMs),
				Validators: []validator.Int64{int64validator.AtLeast(minPollIntervalMs)},
			},
		},
	}
}

// ValidateConfig refuses settings of the two modes together, at plan time.
func (p *experiencePlatformProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var config providerModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !config.DataDir.IsNull() && !config.Endpoint.IsNull() {
		conflictingDataDir(&resp.Diagnostics)
	}
	if !config.ClientSecret.IsNull() && !config.AccessToken.IsNull() {
		conflictingCredentials(&resp.Diagnostics)
	}
}

func conflictingDataDir(diags *diag.Diagnostics) {
	diags.AddAttributeError(path.Root("data_dir"), "Conflicting data_dir",
		"data_dir is the embedded engine's directory, and endpoint (or "+envEndpoint+") selects remote mode. "+
			"Remove data_dir to use the remote API, or remove endpoint to use the embedded engine.")
}

func conflictingCredentials(diags *diag.Diagnostics) {
	diags.AddAttributeError(path.Root("access_token"), "Conflicting credentials",
		"Both a client secret and an access token are set (in the configuration or the environment). Keep one: "+
			"client_secret obtains and renews tokens; access_token is used as it is.")
}

// setting resolves one setting: the configuration, else the environment variable.
func setting(resp *provider.ConfigureResponse, attr string, v types.String, env string) string {
	if v.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root(attr), "Unknown "+attr,
			fmt.Sprintf("The provider cannot be configured because %s depends on a value known only after apply. "+
				"Set it to a literal, or use the %s environment variable.", attr, env))
		return ""
	}
	if s := v.ValueString(); s != "" {
		return s
	}
	return os.Getenv(env)
}

func (p *experiencePlatformProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var config providerModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	endpoint := setting(resp, "endpoint", config.Endpoint, envEndpoint)
	if resp.Diagnostics.HasError() {
		return
	}
	var b backend.Backend
	if endpoint == "" {
		b = p.configureEmbedded(ctx, config, resp)
	} else {
		b = p.configureRemote(ctx, config, endpoint, resp)
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if p.wrapBackend != nil {
		b = p.wrapBackend(b)
	}
	data := &providerData{backend: b, remote: endpoint != "", clock: clock.Or(p.clock)}
	resp.ResourceData = data
	resp.DataSourceData = data
}

func (p *experiencePlatformProvider) configureEmbedded(ctx context.Context, config providerModelV0, resp *provider.ConfigureResponse) backend.Backend {
	dataDir := setting(resp, "data_dir", config.DataDir, envDataDir)
	if resp.Diagnostics.HasError() {
		return nil
	}
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	sandbox := setting(resp, "sandbox_name", config.SandboxName, envSandboxName)
	if resp.Diagnostics.HasError() {
		return nil
	}
	if sandbox == "" {
		sandbox = aepwire.DefaultSandbox
	}
	if err := exportengine.CheckSandboxName(sandbox); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("sandbox_name"), "Invalid sandbox name",
			"Set sandbox_name (or "+envSandboxName+") to a sandbox name such as prod or dev-team.\n\nOriginal error: "+err.Error())
		return nil
	}
	engine, err := p.engines.open(ctx, dataDir, sandbox)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("data_dir"), "Cannot open the embedded engine",
			"The embedded engine could not open its data directory "+dataDir+". Check that the directory "+
				"is writable and was not written by a newer provider version.\n\nOriginal error: "+err.Error())
		return nil
	}
	tflog.Debug(ctx, "opened embedded engine", map[string]any{"data_dir": engine.DataDir(), "sandbox": engine.Sandbox()})
	if set := remoteSettings(config); len(set) > 0 {
		// Most likely AEP_ENDPOINT is missing where the credentials are not, and an apply would
		// otherwise succeed against a local database without a word.
		resp.Diagnostics.AddWarning("Remote settings without an endpoint",
			fmt.Sprintf("These settings of remote mode are set: %s. No endpoint is, so the provider ignores them "+
				"and uses the embedded engine, whose data is in %s.\n\nTo manage Adobe Experience Platform, set "+
				"endpoint = \"https://platform.adobe.io\" in the provider block, or %s in the environment. To use the "+
				"embedded engine, unset them.", strings.Join(set, ", "), engine.DataDir(), envEndpoint))
	}
	return engine
}

// remoteSettings names the settings of remote mode that are set, in the configuration or the
// environment (never their values).
func remoteSettings(config providerModelV0) []string {
	var set []string
	for _, s := range []struct {
		attr, env string
		v         types.String
	}{
		{"client_id", envClientID, config.ClientID},
		{"client_secret", envClientSecret, config.ClientSecret},
		{"access_token", envAccessToken, config.AccessToken},
		{"org_id", envOrgID, config.OrgID},
		{"ims_endpoint", envIMSEndpoint, config.IMSEndpoint},
	} {
		switch {
		case s.v.ValueString() != "":
			set = append(set, s.attr)
		case os.Getenv(s.env) != "":
			set = append(set, s.env)
		}
	}
	if !config.PollIntervalMs.IsNull() {
		set = append(set, "poll_interval_ms")
	}
	return set
}

func (p *experiencePlatformProvider) configureRemote(ctx context.Context, config providerModelV0, endpoint string, resp *provider.ConfigureResponse) backend.Backend {
	if !config.DataDir.IsNull() {
		conflictingDataDir(&resp.Diagnostics)
		return nil
	}
	cfg := aepclient.Config{
		Endpoint:     endpoint,
		IMSEndpoint:  setting(resp, "ims_endpoint", config.IMSEndpoint, envIMSEndpoint),
		ClientID:     setting(resp, "client_id", config.ClientID, envClientID),
		ClientSecret: setting(resp, "client_secret", config.ClientSecret, envClientSecret),
		AccessToken:  setting(resp, "access_token", config.AccessToken, envAccessToken),
		OrgID:        setting(resp, "org_id", config.OrgID, envOrgID),
		Sandbox:      setting(resp, "sandbox_name", config.SandboxName, envSandboxName),
		PollInterval: defaultPollIntervalMs * time.Millisecond,
	}
	if resp.Diagnostics.HasError() {
		return nil
	}
	if !config.PollIntervalMs.IsNull() && !config.PollIntervalMs.IsUnknown() {
		cfg.PollInterval = time.Duration(config.PollIntervalMs.ValueInt64()) * time.Millisecond
	}
	missing := func(attr, env, what string) {
		resp.Diagnostics.AddAttributeError(path.Root(attr), "Missing "+attr,
			fmt.Sprintf("Remote mode (endpoint %s) needs %s. Set %s in the provider block, or the %s environment variable.",
				endpoint, what, attr, env))
	}
	if cfg.ClientID == "" {
		missing("client_id", envClientID, "the client id of an OAuth server-to-server credential, which is also the API key")
	}
	if cfg.OrgID == "" {
		missing("org_id", envOrgID, "the IMS organisation id, such as 12345@AdobeOrg")
	}
	if cfg.ClientSecret == "" && cfg.AccessToken == "" {
		missing("client_secret", envClientSecret, "a client secret to obtain tokens with (or an access_token)")
	}
	if cfg.ClientSecret != "" && cfg.AccessToken != "" {
		conflictingCredentials(&resp.Diagnostics)
	}
	if resp.Diagnostics.HasError() {
		return nil
	}
	secrets := nonEmpty([]string{cfg.ClientSecret, cfg.AccessToken})
	cfg.Log = func(ctx context.Context, msg string, fields map[string]any) {
		tflog.Debug(tflog.MaskAllFieldValuesStrings(tflog.MaskMessageStrings(ctx, secrets...), secrets...), msg, fields)
	}
	client, err := aepclient.New(cfg)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("endpoint"), "Invalid remote configuration",
			"The remote API client could not be configured: "+err.Error())
		return nil
	}
	tflog.Debug(ctx, "configured remote API", map[string]any{"endpoint": endpoint, "sandbox": cfg.Sandbox})
	return client
}

func nonEmpty(ss []string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
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
