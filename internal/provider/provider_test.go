package provider

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// testAccProtoV6ProviderFactories runs the provider in the test process; Terraform reattaches to it.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"experienceplatform": providerserver.NewProtocol6WithError(New("test")()),
}

// testEnv is one acceptance test's embedded engine: a private data directory, and an engine of
// the test's own on it to arrange and inspect data behind Terraform's back, as another process would.
type testEnv struct {
	dataDir string
	engine  *exportengine.Engine
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: dir})
	if err != nil {
		t.Fatalf("opening the test's engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return &testEnv{dataDir: dir, engine: e}
}

// config prefixes a configuration with the provider block for the test's data directory.
func (env *testEnv) config(body string) string {
	return fmt.Sprintf("provider \"experienceplatform\" {\n  data_dir = %q\n}\n\n%s", env.dataDir, body)
}

// datasets returns the ids of every dataset in the test's data directory.
func (env *testEnv) datasets(t *testing.T) ([]string, error) {
	t.Helper()
	list, err := env.engine.ListDatasets(context.Background())
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, ds := range list {
		ids[i] = ds.ID
	}
	return ids, nil
}
