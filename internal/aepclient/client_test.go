package aepclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

const (
	clientID = "client-1"
	secret   = "s3cret-value"
	orgID    = "org@AdobeOrg"
)

// faultPlan hands out injected faults to the requests that match, in order; funcs see every
// request first.
type faultPlan struct {
	mu     sync.Mutex
	faults []plannedFault
	funcs  []func(*http.Request) *aepserver.Fault
	seen   map[string]int // requests by "METHOD path prefix"
}

// addFunc has f look at every request (outside the plan's lock, so that it may block); a
// non-nil answer is the request's fault.
func (p *faultPlan) addFunc(f func(*http.Request) *aepserver.Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.funcs = append(p.funcs, f)
}

type plannedFault struct {
	method, prefix string
	fault          *aepserver.Fault
}

func (p *faultPlan) add(method, prefix string, f aepserver.Fault, times int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range times {
		p.faults = append(p.faults, plannedFault{method, prefix, &f})
	}
}

func (p *faultPlan) next(r *http.Request) *aepserver.Fault {
	p.mu.Lock()
	funcs := p.funcs
	p.mu.Unlock()
	for _, f := range funcs {
		if fault := f(r); fault != nil {
			p.mu.Lock()
			p.countLocked(r)
			p.mu.Unlock()
			return fault
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countLocked(r)
	for i, f := range p.faults {
		if f.method == r.Method && strings.HasPrefix(r.URL.Path, f.prefix) {
			p.faults = append(p.faults[:i], p.faults[i+1:]...)
			return f.fault
		}
	}
	return nil
}

func (p *faultPlan) countLocked(r *http.Request) {
	if p.seen == nil {
		p.seen = map[string]int{}
	}
	p.seen[r.Method+" "+r.URL.Path]++
}

func (p *faultPlan) count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen[method+" "+path]
}

// testClock is a fake clock that moves forward whenever the client waits on it, at once, and
// records how long each wait was.
type testClock struct {
	*clock.Fake
	mu    sync.Mutex
	waits []time.Duration
}

// newTestClock returns a clock that runs until the test ends.
func newTestClock(t *testing.T, at time.Time) *testClock {
	c := &testClock{Fake: clock.NewFake(at)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c.BlockUntil(ctx, 1) == nil {
			if due, ok := c.NextDeadline(); ok {
				c.Set(due)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func (c *testClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
	return c.Fake.NewTimer(d)
}

func (c *testClock) recorded() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

type testServer struct {
	engine  *exportengine.Engine
	url     string
	faults  *faultPlan
	clock   *testClock  // the client's
	srvTime *clock.Fake // the server's
	dest    string
}

// newTestServer serves an engine as AEP behaves (the strict profile), for the client to be
// judged by.
func newTestServer(t *testing.T, opts aepserver.Options) *testServer {
	t.Helper()
	opts.Strict = true
	return serveEngine(t, opts)
}

// serveEngine serves an engine with opts as they are: without Strict, with the engine's own
// documented extensions.
func serveEngine(t *testing.T, opts aepserver.Options) *testServer {
	t.Helper()
	return serveEngineWith(t, opts, exportengine.Options{RunJobs: true})
}

// serveEngineWith serves an engine opened with engineOpts (in a data directory of the test's).
func serveEngineWith(t *testing.T, opts aepserver.Options, engineOpts exportengine.Options) *testServer {
	t.Helper()
	engineOpts.DataDir = t.TempDir()
	e, err := exportengine.Open(context.Background(), engineOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ts := &testServer{engine: e, faults: &faultPlan{}, clock: newTestClock(t, time.Unix(1_800_000_000, 0)),
		srvTime: clock.NewFake(time.Unix(1_800_000_000, 0))}
	if opts.Credentials == nil {
		opts.Credentials = []aepserver.Credential{{ClientID: clientID, ClientSecret: secret}}
	}
	if opts.OrgID == "" {
		opts.OrgID = orgID
	}
	opts.Faults = ts.faults.next
	opts.Clock = ts.srvTime
	srv := httptest.NewServer(contracttest.Handler(t, aepserver.New(e, opts)))
	t.Cleanup(srv.Close)
	ts.url = srv.URL
	ds, err := e.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "export", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion}})
	if err != nil {
		t.Fatal(err)
	}
	ts.dest = ds.ID
	return ts
}

// complete completes a batch through c, as AEP does it: the answer comes at once, and the batch
// is ingested in the background. It waits for the ingestion, and returns the batch as c reads it.
func (ts *testServer) complete(t *testing.T, c *Client, id string) *aepwire.Batch {
	t.Helper()
	ctx := context.Background()
	if _, err := c.CompleteBatch(ctx, id); err != nil {
		t.Fatalf("completing batch %s: %v", id, err)
	}
	if err := ts.engine.WaitBatch(ctx, id); err != nil {
		t.Fatal(err)
	}
	b, err := c.GetBatch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (ts *testServer) client(t *testing.T, change func(*Config)) *Client {
	t.Helper()
	cfg := Config{Endpoint: ts.url, IMSEndpoint: ts.url, ClientID: clientID, ClientSecret: secret, OrgID: orgID,
		Clock: ts.clock, RequestTimeout: 5 * time.Second}
	if change != nil {
		change(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const policyPath = "/data/core/ups/config/mergePolicies/" + aepwire.MergePolicyDefaultNone

func TestTokenIsCachedAndRenewedBeforeExpiry(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{TokenLifetime: 100 * time.Second})
	c := ts.client(t, nil)
	ctx := context.Background()
	for range 3 {
		if _, err := c.GetMergePolicy(ctx, aepwire.MergePolicyDefaultNone); err != nil {
			t.Fatal(err)
		}
	}
	if n := ts.faults.count("POST", "/ims/token/v3"); n != 1 {
		t.Errorf("%d token requests for three calls, want 1", n)
	}
	// A tenth of the lifetime before expiry, the token is renewed.
	ts.clock.Advance(91 * time.Second)
	if _, err := c.GetMergePolicy(ctx, aepwire.MergePolicyDefaultNone); err != nil {
		t.Fatal(err)
	}
	if n := ts.faults.count("POST", "/ims/token/v3"); n != 2 {
		t.Errorf("%d token requests after 91 s of a 100 s token, want 2", n)
	}
}

func TestTokenRejectedByServerIsRenewedOnce(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{TokenLifetime: 100 * time.Second})
	c := ts.client(t, nil)
	ctx := context.Background()
	if _, err := c.GetMergePolicy(ctx, aepwire.MergePolicyDefaultNone); err != nil {
		t.Fatal(err)
	}
	// The server's clock runs ahead: it sees the token as expired before the client does.
	ts.srvTime.Advance(200 * time.Second)
	if _, err := c.GetMergePolicy(ctx, aepwire.MergePolicyDefaultNone); err != nil {
		t.Fatalf("after the server expired the token: %v", err)
	}
	if n := ts.faults.count("POST", "/ims/token/v3"); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

func TestRetriesHonourRetryAfter(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ts.faults.add("GET", policyPath, aepserver.Fault{Status: 429, RetryAfter: "3"}, 1)
	ts.faults.add("GET", policyPath, aepserver.Fault{Status: 429, RetryAfterMs: 1500}, 1)
	ts.faults.add("GET", policyPath, aepserver.Fault{Status: 503}, 1)
	if _, err := c.GetMergePolicy(context.Background(), aepwire.MergePolicyDefaultNone); err != nil {
		t.Fatalf("after two 429s and a 503: %v", err)
	}
	if n := ts.faults.count("GET", policyPath); n != 4 {
		t.Errorf("%d tries, want 4", n)
	}
	s := ts.clock.recorded()
	if len(s) != 3 || s[0] != 3*time.Second || s[1] != 1500*time.Millisecond || s[2] <= 0 || s[2] > 10*time.Second {
		t.Errorf("waits %v, want 3s (Retry-After), 1.5s (retryAfterMs), then a backoff", s)
	}
}

func TestRetriesBrokenConnectionsAndSlowAnswers(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, func(cfg *Config) { cfg.RequestTimeout = 200 * time.Millisecond })
	ts.faults.add("GET", policyPath, aepserver.Fault{Reset: true}, 1)
	ts.faults.add("GET", policyPath, aepserver.Fault{Truncate: true}, 1)
	ts.faults.add("GET", policyPath, aepserver.Fault{Delay: 2 * time.Second}, 1)
	p, err := c.GetMergePolicy(context.Background(), aepwire.MergePolicyDefaultNone)
	if err != nil || p.ID != aepwire.MergePolicyDefaultNone {
		t.Fatalf("after a reset, a truncated body and a timeout: %v, %v", p, err)
	}
	if n := ts.faults.count("GET", policyPath); n != 4 {
		t.Errorf("%d tries, want 4", n)
	}
}

func TestRetriesRunOut(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ts.faults.add("GET", policyPath, aepserver.Fault{Status: 503}, 10)
	_, err := c.GetMergePolicy(context.Background(), aepwire.MergePolicyDefaultNone)
	if err == nil || !strings.Contains(err.Error(), "failed after 5 attempts") || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("err = %v, want a 503 after 5 attempts", err)
	}
	if n := ts.faults.count("GET", policyPath); n != 5 {
		t.Errorf("%d tries, want 5", n)
	}
}

// The served engine's own profile honours Idempotency-Key, but the client does not rely on it:
// the job a lost answer hid is adopted, not created again.
func TestExportJobIsNotCreatedTwiceByARetriedPost(t *testing.T) {
	ts := serveEngine(t, aepserver.Options{})
	c := ts.client(t, nil)
	// The server creates the job, and the answer is lost on the way back.
	ts.faults.add("POST", "/data/core/ups/export/jobs", aepserver.Fault{Truncate: true}, 1)
	req := aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: ts.dest}, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}
	job, err := c.CreateExportJob(context.Background(), req, "key-123")
	if err != nil {
		t.Fatal(err)
	}
	list, err := ts.engine.ListExportJobs(context.Background(), aepwire.ExportJobQuery{})
	if err != nil || len(list.Records) != 1 || list.Records[0].ID != job.ID {
		t.Errorf("jobs after a retried create: %+v, %v; want only job %d", list, err, job.ID)
	}
	if n := ts.faults.count("POST", "/data/core/ups/export/jobs"); n != 1 {
		t.Errorf("%d tries, want 1", n)
	}
}

func TestPostIsNotSentAgainOnceItMayHaveActed(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ts.faults.add("POST", "/data/foundation/catalog/dataSets", aepserver.Fault{Truncate: true}, 1)
	ds, err := c.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "x", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	if err != nil || ds.Name != "x" {
		t.Errorf("create whose answer broke: %+v, %v; want the dataset it made", ds, err)
	}
	if n := ts.faults.count("POST", "/data/foundation/catalog/dataSets"); n != 1 {
		t.Errorf("%d tries of a non-idempotent POST whose answer broke, want 1", n)
	}
	// A 503 means the request was not processed: that is retried.
	ts.faults.add("POST", "/data/foundation/catalog/dataSets", aepserver.Fault{Status: 503}, 1)
	if _, err := c.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "y", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}}); err != nil {
		t.Errorf("create after a 503: %v", err)
	}
}

func TestConnectionRefusedIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	ck := newTestClock(t, time.Now())
	c, err := New(Config{Endpoint: "http://" + addr, IMSEndpoint: "http://" + addr, ClientID: clientID, AccessToken: "t", OrgID: orgID,
		Clock: ck})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetDataset(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "failed after 5 attempts") || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("err = %v, want connection refused after 5 attempts", err)
	}
	if n := len(ck.recorded()); n != 4 {
		t.Errorf("%d waits, want 4", n)
	}
}

func TestCredentialErrorsNameTheSetting(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{AccessTokens: map[string]string{"static-token": clientID}})
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"wrong secret", func(c *Config) { c.ClientSecret = "nope" },
			[]string{"refused the credentials (401 invalid_client: invalid client_id parameter or invalid client_secret parameter)", "client_secret (AEP_CLIENT_SECRET)"}},
		{"unknown client", func(c *Config) { c.ClientID = "who" }, []string{"invalid client_id parameter", "client_id (AEP_CLIENT_ID)"}},
		{"bad static token", func(c *Config) { c.ClientSecret, c.AccessToken = "", "forged" },
			[]string{"401 Unauthorized (401013): Oauth token is not valid", "check access_token (AEP_ACCESS_TOKEN)"}},
		{"token of another client", func(c *Config) { c.ClientSecret, c.AccessToken, c.ClientID = "", "static-token", "other-client" },
			[]string{"403 Forbidden (403003)", "client_id (AEP_CLIENT_ID) must be the client the token was issued to"}},
		{"wrong organisation", func(c *Config) { c.OrgID = "other@AdobeOrg" }, []string{"403 Forbidden (403027)", "check org_id (AEP_ORG_ID)"}},
		{"unknown sandbox", func(c *Config) { c.Sandbox = "dev" }, []string{"403 Forbidden (403025)", "check sandbox_name (AEP_SANDBOX_NAME)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ts.client(t, tc.change).GetDataset(context.Background(), ts.dest)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant it to contain %q", err, w)
				}
			}
			var apiErr *aepwire.Error
			if errors.As(err, &apiErr) && apiErr.RequestID == "" {
				t.Errorf("the error carries no request id: %v", err)
			}
		})
	}
	// The static token of the right client works.
	c := ts.client(t, func(c *Config) { c.ClientSecret, c.AccessToken = "", "static-token" })
	if _, err := c.GetDataset(context.Background(), ts.dest); err != nil {
		t.Errorf("with the static token: %v", err)
	}
}

func TestNotFoundIsRecognisable(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"dataset":      func() error { _, err := c.GetDataset(ctx, "000000000000000000000000"); return err },
		"batch":        func() error { _, err := c.GetBatch(ctx, "00000000000000000000000000000000"); return err },
		"merge policy": func() error { _, err := c.GetMergePolicy(ctx, "nope"); return err },
		"export job":   func() error { _, err := c.GetExportJob(ctx, 999); return err },
		"delete job":   func() error { return c.CancelExportJob(ctx, 999) },
	} {
		if err := call(); !aepwire.IsNotFound(err) {
			t.Errorf("%s: %v, want a 404", name, err)
		}
	}
}

// The client's log hears method, path, status and timing, never a secret.
func TestLogsCarryNoSecrets(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	var mu sync.Mutex
	var lines []string
	c := ts.client(t, func(cfg *Config) {
		cfg.Log = func(_ context.Context, msg string, fields map[string]any) {
			mu.Lock()
			defer mu.Unlock()
			lines = append(lines, msg+" "+fmtFields(fields))
		}
	})
	if _, err := c.GetDataset(context.Background(), ts.dest); err != nil {
		t.Fatal(err)
	}
	token := c.tokens.valid()
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "GET") || !strings.Contains(all, "/data/foundation/catalog/dataSets/") || !strings.Contains(all, "status") {
		t.Errorf("the log misses the request: %s", all)
	}
	for _, s := range []string{secret, token} {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("the log holds a secret:\n%s", all)
		}
	}
}
