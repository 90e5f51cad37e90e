package provider

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepclient"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
)

func TestMain(m *testing.M) {
	// The provider under test spawns this test binary as its engine worker.
	if dir := os.Getenv(exportengine.WorkerEnv); dir != "" {
		os.Exit(exportengine.WorkerMain(exportengine.Options{Hooks: pauseHooks(dir)}))
	}
	// Workers of finished tests go away soon, before their data directories are removed.
	_ = os.Setenv(exportengine.WorkerIdleEnv, "300ms")
	os.Exit(contracttest.Main(m))
}

// pauseLockFile is the lock in a test's data directory that holds its exports running, so that a
// test can act on a running job: while the test holds it (pauseExports), an export of the test's
// engines (its own, and the provider's worker) waits before its first chunk of profiles, until the
// test lets go or the job is cancelled.
const pauseLockFile = "test-pause-exports.lock"

func pauseHooks(dataDir string) exportengine.Hooks {
	path := filepath.Join(dataDir, pauseLockFile)
	return exportengine.Hooks{BeforeExportChunk: func(ctx context.Context, seq int) {
		if seq != 0 {
			return
		}
		free := make(chan struct{})
		go func() {
			// Blocks while the test holds the lock; past a cancelled job it ends when the test lets go.
			if l, err := filelock.Wait(path, filelock.Shared); err == nil {
				_ = l.Unlock()
			}
			close(free)
		}()
		select {
		case <-free:
		case <-ctx.Done():
		}
	}}
}

// testEngines are the engines the providers under test open: one per data directory, as in
// one provider process.
var testEngines = newEngineRegistry()

// testAccProtoV6ProviderFactories runs the provider in the test process; Terraform reattaches to it.
var testAccProtoV6ProviderFactories = (&testProvider{}).factories()

// testProvider makes providers under test whose backend is wrapped (when wrap is set), and keeps
// the servers it made, so that a test can stop them as Terraform does on Ctrl-C.
type testProvider struct {
	wrap    func(backend.Backend) backend.Backend
	mu      sync.Mutex
	servers []tfprotov6.ProviderServer
}

func (tp *testProvider) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"experienceplatform": func() (tfprotov6.ProviderServer, error) {
			p := &experiencePlatformProvider{version: "test", engines: testEngines, wrapBackend: tp.wrap}
			s, err := providerserver.NewProtocol6WithError(p)()
			tp.mu.Lock()
			tp.servers = append(tp.servers, s)
			tp.mu.Unlock()
			return s, err
		},
	}
}

// interrupt stops every provider server made so far, as Terraform does when Ctrl-C is pressed: the
// operations they run see their context end.
func (tp *testProvider) interrupt() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for _, s := range tp.servers {
		_, _ = s.StopProvider(context.Background(), &tfprotov6.StopProviderRequest{})
	}
}

// testEnv is one acceptance test's platform: a private data directory, and an engine of the
// test's own on it to arrange and inspect data behind Terraform's back, as another process would.
// In remote mode, the provider reaches that engine through the HTTP API, served on a loopback
// port.
type testEnv struct {
	mode    string
	dataDir string
	engine  *exportengine.Engine
	server  *httptest.Server
	client  *aepclient.Client
}

// The credentials of remote mode.
const (
	testClientID     = "test-client"
	testClientSecret = "test-secret-4f0c"
	testOrgID        = "test@AdobeOrg"
)

// forEachMode runs a test against the embedded engine and against the served engine.
func forEachMode(t *testing.T, test func(t *testing.T, env *testEnv)) {
	for _, mode := range []string{"embedded", "remote"} {
		t.Run(mode, func(t *testing.T) { test(t, newTestEnv(t, mode)) })
	}
}

func newTestEnv(t *testing.T, mode string) *testEnv {
	t.Helper()
	dir := t.TempDir()
	// In remote mode the served engine runs the jobs itself; embedded, the provider's worker does.
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: dir, RunJobs: mode == "remote",
		Hooks: pauseHooks(dir)})
	if err != nil {
		t.Fatalf("opening the test's engine: %v", err)
	}
	t.Cleanup(func() {
		_ = e.Close()
		// The worker must be gone before the directory is removed (cleanups run last first).
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exportengine.WaitWorkerExit(ctx, dir); err != nil {
			t.Errorf("the engine worker did not exit: %v", err)
		}
		// A worker writes to its log only when something went wrong.
		if log, err := os.ReadFile(filepath.Join(dir, "worker.log")); err == nil && len(log) > 0 {
			t.Errorf("the engine worker reported:\n%s", log)
		}
	})
	env := &testEnv{mode: mode, dataDir: dir, engine: e}
	if mode == "remote" {
		// The served engine behaves as AEP does (Strict), and Adobe's specifications judge every
		// exchange.
		env.server = httptest.NewServer(contracttest.Handler(t, aepserver.New(e, aepserver.Options{
			Credentials: []aepserver.Credential{{ClientID: testClientID, ClientSecret: testClientSecret}},
			OrgID:       testOrgID,
			Strict:      true,
			Log: func(format string, args ...any) {
				if os.Getenv("AEP_TEST_SERVER_LOG") != "" {
					t.Logf("server: "+format, args...)
				}
			},
		})))
		t.Cleanup(env.server.Close)
		env.client, err = aepclient.New(aepclient.Config{Endpoint: env.server.URL, IMSEndpoint: env.server.URL,
			ClientID: testClientID, ClientSecret: testClientSecret, OrgID: testOrgID})
		if err != nil {
			t.Fatal(err)
		}
	}
	return env
}

// providerBlock is the provider configuration of the test's mode.
func (env *testEnv) providerBlock() string {
	if env.mode == "remote" {
		return fmt.Sprintf(`provider "experienceplatform" {
  endpoint         = %q
  ims_endpoint     = %q
  client_id        = %q
  client_secret    = %q
  org_id           = %q
  poll_interval_ms = 50
}`, env.server.URL, env.server.URL, testClientID, testClientSecret, testOrgID)
	}
	return fmt.Sprintf("provider \"experienceplatform\" {\n  data_dir = %q\n}", env.dataDir)
}

// config prefixes a configuration with the provider block.
func (env *testEnv) config(body string) string {
	return env.providerBlock() + "\n\n" + body
}

// readBatchFile reads a batch file from the location the provider reported: a local path, or a
// Data Access URL.
func (env *testEnv) readBatchFile(location string) ([]byte, error) {
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		return env.client.Download(context.Background(), location)
	}
	return os.ReadFile(location)
}

// pauseExports holds the exports of the test's engines before their first chunk of profiles (see
// pauseHooks), until the returned function (also run at cleanup) lets them go.
func (env *testEnv) pauseExports(t *testing.T) (resume func()) {
	t.Helper()
	l, ok, err := filelock.TryLock(filepath.Join(env.dataDir, pauseLockFile), filelock.Exclusive)
	if err != nil || !ok {
		t.Fatalf("pausing the test's exports: %v (already paused: %v)", err, !ok)
	}
	var once sync.Once
	resume = func() { once.Do(func() { _ = l.Unlock() }) }
	t.Cleanup(resume)
	return resume
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
