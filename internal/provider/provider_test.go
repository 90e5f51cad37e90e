package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// pauseFile is the file whose presence in a test's data directory holds its exports running
// (see exportengine.PauseExportsWhile), so that a test can act on a running job.
const pauseFile = "test-pause-exports"

func TestMain(m *testing.M) {
	// The provider under test spawns this test binary as its engine worker.
	if dir := os.Getenv(exportengine.WorkerEnv); dir != "" {
		exportengine.PauseExportsWhile(filepath.Join(dir, pauseFile))
		os.Exit(exportengine.WorkerMain())
	}
	// Workers of finished tests go away soon, before their data directories are removed.
	_ = os.Setenv(exportengine.WorkerIdleEnv, "300ms")
	os.Exit(m.Run())
}

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
	t.Cleanup(func() {
		_ = e.Close()
		// The worker must be gone before the directory is removed (cleanups run last first).
		deadline := time.Now().Add(30 * time.Second)
		for exportengine.WorkerRunning(dir) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		// A worker writes to its log only when something went wrong.
		if log, err := os.ReadFile(filepath.Join(dir, "worker.log")); err == nil && len(log) > 0 {
			t.Errorf("the engine worker reported:\n%s", log)
		}
	})
	return &testEnv{dataDir: dir, engine: e}
}

// pauseExports holds the exports of the test's worker before their second chunk, until the
// returned function (also run at cleanup) lets them go.
func (env *testEnv) pauseExports(t *testing.T) (resume func()) {
	t.Helper()
	p := filepath.Join(env.dataDir, pauseFile)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	resume = func() { _ = os.Remove(p) }
	t.Cleanup(resume)
	return resume
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
