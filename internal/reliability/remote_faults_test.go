package reliability

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// faultServer serves an engine over HTTP, as AEP behaves (the strict profile: no idempotency
// key, among others), and injects faults into its requests.
func faultServer(t *testing.T, faults func(r *http.Request) *aepserver.Fault) (*httptest.Server, string) {
	t.Helper()
	dataDir := t.TempDir()
	engine, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: dataDir, RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = engine.Close() })
	srv := httptest.NewServer(aepserver.New(engine, aepserver.Options{
		Credentials: []aepserver.Credential{{ClientID: "faults", ClientSecret: "faults-secret"}},
		OrgID:       "embedded@AdobeOrg",
		Strict:      true,
		Faults:      faults,
	}))
	t.Cleanup(srv.Close)
	return srv, dataDir
}

func remoteProvider(url string) string {
	return fmt.Sprintf(`provider "experienceplatform" {
  endpoint      = %[1]q
  ims_endpoint  = %[1]q
  client_id     = "faults"
  client_secret = "faults-secret"
  org_id        = "embedded@AdobeOrg"
}
`, url)
}

// Every third request of an apply meets a fault: the client retries and the apply succeeds,
// with nothing lost or doubled. A creation whose answer is cut off or lost is not sent again
// (AEP has no idempotency key): what it made is found and adopted.
func TestRemoteFaultsAreRetried(t *testing.T) {
	requireTerraform(t)
	const people = 3000
	data, _ := sampleData(t, people)
	ref := reference(t, people)
	kinds := []struct {
		name  string
		fault aepserver.Fault
	}{
		{"429 Retry-After", aepserver.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", RetryAfterMs: 1000}},
		{"503", aepserver.Fault{Status: http.StatusServiceUnavailable}},
		{"connection reset", aepserver.Fault{Reset: true}},
		{"slow answer (2s)", aepserver.Fault{Delay: 2 * time.Second}},
		{"truncated body", aepserver.Fault{Truncate: true}},
		{"answer lost", aepserver.Fault{Lost: true}},
	}
	var mu sync.Mutex
	var n int
	injected := map[string]int{}
	srv, dataDir := faultServer(t, func(r *http.Request) *aepserver.Fault {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n%3 != 0 {
			return nil
		}
		k := kinds[(n/3)%len(kinds)]
		injected[k.name]++
		return &k.fault
	})
	w := newWorkspace(t, pipeline(remoteProvider(srv.URL), data))
	start := time.Now()
	w.mustRun(applyArgs...)
	took := time.Since(start)
	w.planIsEmpty()
	lost, dup := checkStore(t, dataDir, ref)
	all := jobs(t, dataDir)
	if len(all) != 1 {
		t.Errorf("%d jobs were created, want 1: %s", len(all), describeJobs(all))
	}
	l, d := checkJobs(t, all, ref)
	mu.Lock()
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s ×%d", k.name, injected[k.name]))
		if injected[k.name] == 0 {
			t.Errorf("no %s was injected", k.name)
		}
	}
	mu.Unlock()
	record(t, outcome{"remote: every 3rd request fails (" + strings.Join(parts, ", ") + ")",
		fmt.Sprintf("apply SUCCEEDED in %s, %d job created", took.Round(100*time.Millisecond), len(all)), lost + l, dup + d})
}

// creation reports whether a request creates something, which AEP would create twice if it
// were sent twice.
func creation(r *http.Request) bool {
	return r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, "/dataSets") || strings.HasSuffix(r.URL.Path, "/mergePolicies") ||
		strings.HasSuffix(r.URL.Path, "/export/jobs") || strings.HasSuffix(r.URL.Path, "/import/batches"))
}

// When the answer to creating a dataset is lost after the server acted, the client does not send
// the POST again (that would create two): it finds the dataset and adopts it.
func TestRemoteLostAnswerIsAdopted(t *testing.T) {
	requireTerraform(t)
	var once sync.Once
	srv, dataDir := faultServer(t, func(r *http.Request) *aepserver.Fault {
		var f *aepserver.Fault
		if creation(r) {
			once.Do(func() { f = &aepserver.Fault{Truncate: true} })
		}
		return f
	})
	w := newWorkspace(t, remoteProvider(srv.URL)+oneDataset)
	w.mustRun(applyArgs...)
	w.planIsEmpty()
	created := queryInt(t, db(t, dataDir), `SELECT COUNT(*) FROM datasets`)
	if created != 1 {
		t.Errorf("%d datasets exist, want the 1 the lost answer hid", created)
	}
	record(t, outcome{"remote: the answer to POST /dataSets cut off", "apply SUCCEEDED: the dataset the lost answer hid was " +
		"adopted, not created again (1 dataset exists)", 0, 0})
}

const oneDataset = `
terraform {
  required_providers {
    experienceplatform = { source = "aepkit/experienceplatform" }
  }
}

resource "experienceplatform_dataset" "d" {
  name       = "d"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile" }
}
`

// A server that keeps failing: the apply gives up within the retry bounds with an error that
// says what the server answered.
func TestRemoteFaultsThatPersistFailClearly(t *testing.T) {
	requireTerraform(t)
	srv, _ := faultServer(t, func(r *http.Request) *aepserver.Fault {
		if strings.HasSuffix(r.URL.Path, "/ims/token/v3") {
			return nil
		}
		return &aepserver.Fault{Status: http.StatusServiceUnavailable}
	})
	w := newWorkspace(t, remoteProvider(srv.URL)+oneDataset)
	start := time.Now()
	out, err := w.run(applyArgs...)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("apply succeeded against a server that always answers 503:\n%s", out)
	}
	if !strings.Contains(out, "503") {
		t.Errorf("the error does not say what the server answered:\n%s", out)
	}
	if took > 2*time.Minute {
		t.Errorf("the apply took %s to give up", took)
	}
	record(t, outcome{"remote: every request answered 503", fmt.Sprintf("apply failed after %s: %s", took.Round(100*time.Millisecond),
		firstErrorLine(out)), 0, 0})
}

// firstErrorLine is the summary line of Terraform's first error.
func firstErrorLine(out string) string {
	for _, l := range strings.Split(out, "\n") {
		l = strings.Trim(strings.TrimSpace(l), "│╵╷ ")
		if strings.HasPrefix(l, "Error: ") {
			return strings.TrimPrefix(l, "Error: ")
		}
	}
	return lastLine(out)
}
