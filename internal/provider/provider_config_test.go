package provider

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// checkDatasetIn opens the embedded engine of the data directory dir, as the provider left it, for
// a check of the dataset at datasetAddr.
func checkDatasetIn(dir string, check func(e *exportengine.Engine, id string) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: dir})
		if err != nil {
			return err
		}
		defer e.Close()
		return check(e, s.RootModule().Resources[datasetAddr].Primary.ID)
	}
}

// Without data_dir the provider uses AEP_DATA_DIR. The test sets the environment of the whole
// process, so it does not run in parallel.
func TestAccProvider_dataDirFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(envDataDir, dir)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
resource "experienceplatform_dataset" "test" {
  name       = "In the env dir"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}`,
			Check: checkDatasetIn(dir, func(e *exportengine.Engine, id string) error {
				if _, err := e.GetDataset(context.Background(), id); err != nil {
					return fmt.Errorf("the dataset is not in %s=%s: %w", envDataDir, dir, err)
				}
				return nil
			}),
		}},
	})
}

// The embedded engine works in sandbox_name: what it creates there is invisible from another
// sandbox of the same data directory.
func TestAccProvider_sandboxName(t *testing.T) {
	dir := t.TempDir()
	resource.ParallelTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `
provider "experienceplatform" {
  data_dir     = "` + dir + `"
  sandbox_name = "dev"
}

resource "experienceplatform_dataset" "test" {
  name       = "In dev"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}`,
			Check: checkDatasetIn(dir, func(e *exportengine.Engine, id string) error {
				if _, err := e.GetDataset(aepwire.WithSandbox(context.Background(), "dev"), id); err != nil {
					return fmt.Errorf("the dataset is not in sandbox dev: %w", err)
				}
				if _, err := e.GetDataset(context.Background(), id); !aepwire.IsNotFound(err) {
					return fmt.Errorf("the dataset of dev from prod: %w, want not found", err)
				}
				return nil
			}),
		}},
	})
}

func TestAccProvider_badSandboxName(t *testing.T) {
	resource.ParallelTest(t, configFails(`
provider "experienceplatform" {
  data_dir     = "`+t.TempDir()+`"
  sandbox_name = "Dev Team"
}

data "experienceplatform_dataset" "test" {
  id = "000000000000000000000000"
}`, "Invalid sandbox name", "Dev Team", "lower-case letters, digits"))
}

func TestAccProvider_unusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	resource.ParallelTest(t, configFails(`
provider "experienceplatform" {
  data_dir = "`+file+`"
}

data "experienceplatform_dataset" "test" {
  id = "000000000000000000000000"
}`, "Cannot open the embedded engine", "not-a-directory", "Check that the directory is writable"))
}

func TestAccProvider_remoteSettings(t *testing.T) {
	for _, env := range []string{envEndpoint, envClientID, envClientSecret, envAccessToken, envOrgID, envDataDir} {
		t.Setenv(env, "")
	}
	dataset := `
resource "experienceplatform_dataset" "test" {
  name       = "x"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}`
	for name, tc := range map[string]struct {
		provider string
		want     []string
	}{
		"nothing but the endpoint": {`endpoint = "http://127.0.0.1:1"`, []string{
			"Missing client_id", "Remote mode (endpoint http://127.0.0.1:1) needs the client id", "AEP_CLIENT_ID",
			"Missing org_id", "AEP_ORG_ID", "Missing client_secret", "AEP_CLIENT_SECRET"}},
		"data_dir with endpoint": {`endpoint = "http://127.0.0.1:1"
  data_dir = "x"`, []string{"Conflicting data_dir", "Remove data_dir to use the remote API, or remove endpoint to use the embedded engine"}},
		"secret and token": {`endpoint = "http://127.0.0.1:1"
  client_id = "c"
  org_id = "o@AdobeOrg"
  client_secret = "s"
  access_token = "t"`, []string{"Conflicting credentials", "Keep one"}},
		"not a URL": {`endpoint = "platform.adobe.io"
  client_id = "c"
  org_id = "o@AdobeOrg"
  client_secret = "s"`, []string{"Invalid remote configuration", `endpoint "platform.adobe.io" is not an http(s) URL`}},
	} {
		t.Run(name, func(t *testing.T) {
			resource.Test(t, configFails("provider \"experienceplatform\" {\n  "+tc.provider+"\n}\n"+dataset, tc.want...))
		})
	}
}

// imsLine sets ims_endpoint to the endpoint, unless the credentials set it.
func imsLine(creds, endpoint string) string {
	if strings.Contains(creds, "ims_endpoint") {
		return ""
	}
	return fmt.Sprintf("  ims_endpoint = %q\n", endpoint)
}

// Wrong credentials fail at the first call, with a message that names the setting to fix.
func TestAccProvider_remoteCredentials(t *testing.T) {
	env := newTestEnv(t, "remote")
	dataset := `
resource "experienceplatform_dataset" "test" {
  name       = "x"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}`
	// An endpoint nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	for name, tc := range map[string]struct {
		creds    string
		want     []string
		endpoint string
	}{
		"wrong secret": {`client_id = "` + testClientID + `"
  client_secret = "wrong"
  org_id = "` + testOrgID + `"`, []string{"refused the credentials", "invalid client_secret parameter", "check client_id (AEP_CLIENT_ID) and client_secret (AEP_CLIENT_SECRET)"}, ""},
		"forged token": {`client_id = "` + testClientID + `"
  access_token = "forged"
  org_id = "` + testOrgID + `"`, []string{"401 Unauthorized (401013)", "check access_token (AEP_ACCESS_TOKEN)"}, ""},
		"wrong org": {`client_id = "` + testClientID + `"
  client_secret = "` + testClientSecret + `"
  org_id = "someone-else@AdobeOrg"`, []string{"403 Forbidden (403027)", "check org_id (AEP_ORG_ID)"}, ""},
		"unreachable endpoint": {`client_id = "` + testClientID + `"
  client_secret = "` + testClientSecret + `"
  org_id = "` + testOrgID + `"`, []string{"nothing was created", closed, "connection refused"}, closed},
		// IMS answers, the API does not: the create never reached the platform, which is not a refusal.
		"unreachable API": {`client_id = "` + testClientID + `"
  client_secret = "` + testClientSecret + `"
  ims_endpoint = "` + env.server.URL + `"
  org_id = "` + testOrgID + `"`, []string{"nothing was created", "could not reach the platform at " + closed}, closed},
	} {
		t.Run(name, func(t *testing.T) {
			endpoint := env.server.URL
			if tc.endpoint != "" {
				endpoint = tc.endpoint
			}
			resource.Test(t, configFails(fmt.Sprintf("provider \"experienceplatform\" {\n  endpoint = %q\n%s  %s\n}\n%s",
				endpoint, imsLine(tc.creds, endpoint), tc.creds, dataset), tc.want...))
		})
	}
}

// configure runs the provider's Configure on a configuration of the given attributes (the others
// null), as Terraform would.
func configure(t *testing.T, attrs map[string]tftypes.Value) *provider.ConfigureResponse {
	t.Helper()
	ctx := context.Background()
	p := &experiencePlatformProvider{version: "test", engines: testEngines}
	var schemaResp provider.SchemaResponse
	p.Schema(ctx, provider.SchemaRequest{}, &schemaResp)
	typ := schemaResp.Schema.Type().TerraformType(ctx).(tftypes.Object)
	values := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		values[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range attrs {
		values[name] = v
	}
	var resp provider.ConfigureResponse
	p.Configure(ctx, provider.ConfigureRequest{Config: tfsdk.Config{Schema: schemaResp.Schema, Raw: tftypes.NewValue(typ, values)}}, &resp)
	return &resp
}

// Credentials without an endpoint (AEP_ENDPOINT missing in CI, say) select the embedded engine:
// a warning says so, names the settings (never their values) and how to reach AEP.
func TestProvider_remoteSettingsWithoutEndpoint(t *testing.T) {
	for _, env := range []string{envEndpoint, envIMSEndpoint, envClientID, envClientSecret, envAccessToken, envOrgID, envSandboxName, envDataDir} {
		t.Setenv(env, "")
	}
	str := func(s string) tftypes.Value { return tftypes.NewValue(tftypes.String, s) }
	for name, tc := range map[string]struct {
		env   map[string]string
		attrs map[string]tftypes.Value
		want  string // the settings the warning names; "" for no warning
	}{
		"credentials in the configuration": {
			attrs: map[string]tftypes.Value{"client_id": str("ci-client"), "client_secret": str("s3cret-value")},
			want:  "client_id, client_secret",
		},
		"credentials in the environment": {
			env:  map[string]string{envClientID: "ci-client", envAccessToken: "t0ken-value", envOrgID: "o@AdobeOrg"},
			want: "AEP_CLIENT_ID, AEP_ACCESS_TOKEN, AEP_ORG_ID",
		},
		"a poll interval": {
			attrs: map[string]tftypes.Value{"poll_interval_ms": tftypes.NewValue(tftypes.Number, 500)},
			want:  "poll_interval_ms",
		},
		"the embedded engine alone": {},
		"a sandbox name, which the embedded engine reads": {
			attrs: map[string]tftypes.Value{"sandbox_name": str("dev")},
		},
		"remote mode": {
			attrs: map[string]tftypes.Value{"endpoint": str("http://127.0.0.1:1"), "client_id": str("c"),
				"client_secret": str("s3cret-value"), "org_id": str("o@AdobeOrg")},
		},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			attrs := map[string]tftypes.Value{}
			maps.Copy(attrs, tc.attrs)
			dataDir := t.TempDir()
			if _, remote := attrs["endpoint"]; !remote {
				attrs["data_dir"] = str(dataDir)
			}
			resp := configure(t, attrs)
			if resp.Diagnostics.HasError() {
				t.Fatalf("Configure failed: %v", resp.Diagnostics)
			}
			warnings := resp.Diagnostics.Warnings()
			if tc.want == "" {
				if len(warnings) != 0 {
					t.Fatalf("want no warning, got %v", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("want one warning, got %v", warnings)
			}
			w := warnings[0]
			detail := w.Detail()
			for _, phrase := range []string{"These settings of remote mode are set: " + tc.want + ".",
				"uses the embedded engine, whose data is in " + dataDir, "AEP_ENDPOINT", `endpoint = "https://platform.adobe.io"`} {
				if !strings.Contains(detail, phrase) {
					t.Errorf("the warning does not say %q:\n%s: %s", phrase, w.Summary(), detail)
				}
			}
			for _, secret := range []string{"s3cret-value", "t0ken-value"} {
				if strings.Contains(w.Summary()+detail, secret) {
					t.Errorf("the warning shows a secret:\n%s", detail)
				}
			}
		})
	}
}
