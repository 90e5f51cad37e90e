package aepclient

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// These tests, as the others of this package, run the client against the served engine's strict
// profile, which behaves as AEP does where the engine's own extensions would hide a fault of the
// client.

const jobsPathForTest = "/data/core/ups/export/jobs"

func exportRequest(dest string) aepwire.ExportJobRequest {
	return aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: dest}, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}
}

func (ts *testServer) jobCount(t *testing.T) int {
	t.Helper()
	list, err := ts.engine.ListExportJobs(context.Background(), aepwire.ExportJobQuery{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Records)
}

// A job creation whose try fails in every way a network can (reset before the server read it,
// answer cut off after the server acted, answer lost altogether, a 500, a 503) leaves exactly
// one job, the one the client returns: AEP ignores Idempotency-Key, so nothing may be sent twice
// blindly.
func TestRetriedJobCreationLeavesExactlyOneJob(t *testing.T) {
	for _, faults := range [][]aepserver.Fault{
		{{Reset: true}},
		{{Truncate: true}},
		{{Lost: true}},
		{{Status: http.StatusInternalServerError}},
		{{Status: http.StatusServiceUnavailable}, {Truncate: true}},
		{{Reset: true}, {Lost: true}, {Truncate: true}},
	} {
		var names []string
		for _, f := range faults {
			names = append(names, describeFault(f))
		}
		t.Run(strings.Join(names, ", then "), func(t *testing.T) {
			ts := newTestServer(t, aepserver.Options{})
			c := ts.client(t, nil)
			// A call first, so that the POST goes out on a reused connection, where net/http
			// itself would replay a request it deems idempotent.
			if _, err := c.GetDataset(context.Background(), ts.dest); err != nil {
				t.Fatal(err)
			}
			for _, f := range faults {
				ts.faults.add("POST", jobsPathForTest, f, 1)
			}
			job, err := c.CreateExportJob(context.Background(), exportRequest(ts.dest), "key-1")
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			list, err := ts.engine.ListExportJobs(context.Background(), aepwire.ExportJobQuery{})
			if err != nil || len(list.Records) != 1 || list.Records[0].ID != job.ID {
				t.Errorf("after the create: %d jobs (%v), want exactly job %d", len(list.Records), err, job.ID)
			}
		})
	}
}

func describeFault(f aepserver.Fault) string {
	switch {
	case f.Reset:
		return "reset"
	case f.Truncate:
		return "cut off"
	case f.Lost:
		return "answer lost"
	}
	return fmt.Sprint(f.Status)
}

// When the answer is lost and two jobs of the same request appeared meanwhile, the client cannot
// tell which is its own: it fails, naming both, rather than guess or start a third.
func TestAmbiguousJobCreationFailsSayingWhatToCheck(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	var once sync.Once
	ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
		if r.Method != "POST" || r.URL.Path != jobsPathForTest {
			return nil
		}
		var f *aepserver.Fault
		once.Do(func() {
			// Another client starts the same job just as this one does.
			if _, err := ts.engine.CreateExportJob(context.Background(), exportRequest(ts.dest), ""); err != nil {
				t.Error(err)
			}
			f = &aepserver.Fault{Lost: true}
		})
		return f
	})
	_, err := c.CreateExportJob(context.Background(), exportRequest(ts.dest), "key-1")
	if err == nil {
		t.Fatal("the create adopted one of two look-alike jobs")
	}
	for _, want := range []string{"1, 2", "export jobs", "check which one"} {
		if !strings.Contains(strings.ToLower(err.Error()), want) {
			t.Errorf("err = %v\nwant it to name %q", err, want)
		}
	}
	if n := ts.jobCount(t); n != 2 {
		t.Errorf("%d jobs, want the 2 there were (no third)", n)
	}
}

// Datasets, batches and merge policies have no idempotency key either: a creation whose answer
// is lost is found and adopted, not repeated.
func TestLostCreationAnswersAreAdopted(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	before, _ := ts.engine.ListDatasets(ctx)
	ts.faults.add("POST", "/data/foundation/catalog/dataSets", aepserver.Fault{Truncate: true}, 1)
	ds, err := c.CreateDataset(ctx, aepwire.DatasetRequest{Name: "adopted", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	if err != nil {
		t.Fatalf("dataset: %v", err)
	}
	after, _ := ts.engine.ListDatasets(ctx)
	if len(after) != len(before)+1 || ds.Name != "adopted" {
		t.Errorf("datasets %d → %d, got %+v; want one more, the one returned", len(before), len(after), ds)
	}
	ts.faults.add("POST", "/data/foundation/import/batches", aepserver.Fault{Lost: true}, 1)
	b, err := c.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID, InputFormat: &aepwire.InputFormat{Format: "json"}})
	if err != nil {
		t.Fatalf("batch: %v", err)
	}
	batches, _ := ts.engine.ListBatches(ctx, ds.ID)
	if len(batches) != 1 || batches[0].ID != b.ID {
		t.Errorf("batches of the dataset: %d, want exactly the one returned (%s)", len(batches), b.ID)
	}
	policiesBefore, _ := ts.engine.ListMergePolicies(ctx)
	ts.faults.add("POST", "/data/core/ups/config/mergePolicies", aepserver.Fault{Lost: true}, 1)
	p, err := c.CreateMergePolicy(ctx, aepwire.MergePolicy{Name: "adopted", Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		IdentityGraph: aepwire.IdentityGraph{Type: "pdg"}, AttributeMerge: aepwire.AttributeMerge{Type: "timestampOrdered"}})
	if err != nil {
		t.Fatalf("merge policy: %v", err)
	}
	policiesAfter, _ := ts.engine.ListMergePolicies(ctx)
	if len(policiesAfter) != len(policiesBefore)+1 || p.Name != "adopted" {
		t.Errorf("merge policies %d → %d, got %+v; want one more, the one returned", len(policiesBefore), len(policiesAfter), p)
	}
}

// newBatch creates a profile dataset, and a JSON batch into it that is loading, through c.
func newBatch(t *testing.T, c *Client) (*aepwire.Dataset, *aepwire.Batch) {
	t.Helper()
	ctx := context.Background()
	ds, err := c.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID, InputFormat: &aepwire.InputFormat{Format: "json"}})
	if err != nil {
		t.Fatal(err)
	}
	return ds, b
}

// A JSON array file reaches AEP in a form a JSON batch reads: as JSON Lines, one record a line,
// numbered as the array's elements.
func TestJSONArrayFilesAreSentAsJSONLines(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	ds, b := newBatch(t, c)
	path := filepath.Join(t.TempDir(), "people.json")
	array := "[\n  {\"identityMap\": {\"Email\": [{\"id\": \"a@example.com\"}]}},\n  {\"x\": 1},\n" +
		"  {\n    \"identityMap\": {\"Email\": [{\"id\": \"b@example.com\"}]}\n  }\n]\n"
	if err := os.WriteFile(path, []byte(array), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "people.json", f); err != nil {
		t.Fatalf("upload: %v", err)
	}
	done := ts.complete(t, c, b.ID)
	if done.RecordCount != 2 || done.FailedRecordCount != 1 || len(done.Errors) != 1 || len(done.Errors[0].Rows) != 1 || done.Errors[0].Rows[0] != 2 {
		t.Errorf("the batch: %d records, %d failed, errors %+v; want 2, 1, row 2", done.RecordCount, done.FailedRecordCount, done.Errors)
	}
}

// A batch's file is listed through Data Access, its dataSetFile and then its physical file, and
// downloaded from the link the listing gives (directories and pages: dataaccess_test.go). The
// download accepts any type, as its answer is the file's bytes.
func TestBatchFilesAreListedAndDownloaded(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	var accept atomic.Value
	ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
		if r.URL.Query().Get("path") != "" {
			accept.Store(r.Header.Get("Accept"))
		}
		return nil
	})
	ctx := context.Background()
	ds, b := newBatch(t, c)
	content := `{"identityMap":{"Email":[{"id":"a@example.com"}]}}` + "\n"
	if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "a.json", strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	ts.complete(t, c, b.ID)
	files, err := c.ListBatchFiles(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != "a.json" || files[0].Size != int64(len(content)) {
		t.Fatalf("files = %+v, want a.json of %d bytes", files, len(content))
	}
	got, err := c.Download(ctx, files[0].Location)
	if err != nil || string(got) != content {
		t.Errorf("download: %q, %v", got, err)
	}
	if a, _ := accept.Load().(string); a != "*/*" {
		t.Errorf("the download's Accept is %q, want */*", a)
	}
}

// AEP documents plain comma-separated dot paths: the shorthand is expanded before it is sent.
func TestFieldsAreSentExpanded(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	req := exportRequest(ts.dest)
	req.Fields = "identityMap, person(name, gender)"
	req.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{Fields: "environment(browserDetails(name,version))"}}
	job, err := c.CreateExportJob(context.Background(), req, "")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if job.Fields != "identityMap,person.name,person.gender" ||
		job.AdditionalFields.EventList.Fields != "environment.browserDetails.name,environment.browserDetails.version" {
		t.Errorf("the job has fields %q and event fields %q", job.Fields, job.AdditionalFields.EventList.Fields)
	}
}

// AEP's list takes status NEW, SUCCEEDED and FAILED; the client serves the other statuses by
// listing and filtering itself.
func TestListByStatusesAEPLacks(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	for _, st := range []string{aepwire.JobProcessing, aepwire.JobCancelled, aepwire.JobSucceeded} {
		list, err := c.ListExportJobs(ctx, aepwire.ExportJobQuery{Status: st})
		if err != nil {
			t.Errorf("status %s: %v", st, err)
			continue
		}
		for _, j := range list.Records {
			if j.Status != st {
				t.Errorf("status %s listed job %d, %s", st, j.ID, j.Status)
			}
		}
	}
}

// A page of a status the client filters itself ends where its limit fills, and its next link
// leads on from there, also when that is inside AEP's last page: following the links lists every
// job once.
func TestListByStatusAEPLacksPagesThroughEveryJob(t *testing.T) {
	ts := serveEngineWith(t, aepserver.Options{Strict: true}, exportengine.Options{}) // no runner: jobs stay as made
	c := ts.client(t, nil)
	ctx := context.Background()
	const jobs = 150 // AEP's pages of 100: the second and last holds 50
	var want []int64
	for range jobs {
		job, err := ts.engine.CreateExportJob(ctx, exportRequest(ts.dest), "")
		if err != nil {
			t.Fatal(err)
		}
		want = append([]int64{job.ID}, want...) // newest first
	}
	// All of them running, as AEP's jobs may be: a runner would run them one after the other.
	db, err := sql.Open("sqlite", store.DSN(filepath.Join(ts.engine.DataDir(), "aep.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE export_jobs SET status = ?`, aepwire.JobProcessing); err != nil {
		t.Fatal(err)
	}
	var got []int64
	q := aepwire.ExportJobQuery{Status: aepwire.JobProcessing, Limit: 120}
	for pages := 1; ; pages++ {
		list, err := c.ListExportJobs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range list.Records {
			got = append(got, j.ID)
		}
		if list.Link.Next == "" {
			break
		}
		if pages == 3 {
			t.Fatalf("more than 3 pages of %d jobs, at most 120 a page", jobs)
		}
		q.Offset = list.Page.PageOffset
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listed %d jobs %v\nwant the %d cancelled, newest first: %v", len(got), got, jobs, want)
	}
}

// Batches are removed with Batch Ingestion's ?action=REVERT: Catalog's DELETE is deprecated.
func TestBatchDeletionReverts(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	_, b := newBatch(t, c)
	if err := c.DeleteBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if n := ts.faults.count("DELETE", "/data/foundation/catalog/batches/"+b.ID); n != 0 {
		t.Errorf("%d calls of the deprecated DELETE /batches/{id}", n)
	}
	if n := ts.faults.count("POST", "/data/foundation/import/batches/"+b.ID); n != 1 {
		t.Errorf("%d POST ?action=REVERT, want 1", n)
	}
	if _, err := ts.engine.GetBatch(ctx, b.ID); !aepwire.IsNotFound(err) {
		t.Errorf("the batch is still there: %v", err)
	}
	// A batch already gone is a 404.
	if err := c.DeleteBatch(ctx, b.ID); !aepwire.IsNotFound(err) {
		t.Errorf("deleting it again: %v, want a 404", err)
	}
}

// A wait rides out an outage longer than one call's retries, until its own deadline.
func TestWaitRidesOutAnOutage(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	job, err := c.CreateExportJob(ctx, exportRequest(ts.dest), "")
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("%s/%d", jobsPathForTest, job.ID)
	ts.faults.add("GET", path, aepserver.Fault{Status: http.StatusServiceUnavailable}, 12)
	ts.faults.add("GET", path, aepserver.Fault{Reset: true}, 12)
	done, err := c.WaitExportJob(ctx, job.ID, nil)
	if err != nil || !aepwire.JobTerminal(done.Status) {
		t.Fatalf("the wait through 24 failed polls: %+v, %v", done, err)
	}
}

// A create that never reached the platform says so, and is told from a refusal.
func TestUnreachableIsToldFromRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c, err := New(Config{Endpoint: "http://" + addr, IMSEndpoint: "http://" + addr, ClientID: clientID, AccessToken: "t", OrgID: orgID,
		Clock: newTestClock(t, time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateExportJob(context.Background(), exportRequest("d"), "")
	if !aepwire.NotReached(err) || !strings.Contains(err.Error(), "could not reach") {
		t.Errorf("unreachable: %v, want it told as not reached", err)
	}
	ts := newTestServer(t, aepserver.Options{})
	_, err = ts.client(t, nil).CreateExportJob(context.Background(), exportRequest("no-such-dataset"), "")
	if aepwire.NotReached(err) || aepwire.StatusOf(err) == 0 {
		t.Errorf("refused: %v, want the platform's answer", err)
	}
}

// After the platform restarts, every token it issued is unknown to it: the calls under way
// share one new token, fetched once.
func TestConcurrentCallsAfterARestartShareOneNewToken(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{TokenLifetime: time.Hour})
	c := ts.client(t, nil)
	ctx := context.Background()
	if _, err := c.GetDataset(ctx, ts.dest); err != nil {
		t.Fatal(err)
	}
	// The restart: the server's clock jumps past every token's lifetime.
	ts.srvTime.Advance(2 * time.Hour)
	const calls = 8
	var arrived atomic.Int32
	release := make(chan struct{})
	ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
		if r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/data/foundation/catalog/dataSets/") && arrived.Add(1) == calls {
			close(release)
		}
		if r.Method == "GET" && arrived.Load() <= calls {
			<-release // all calls meet the restarted server at once
		}
		return nil
	})
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			if _, err := c.GetDataset(ctx, ts.dest); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ts.faults.count("POST", "/ims/token/v3"); n != 2 {
		t.Errorf("%d token requests, want 2: the first, and one shared after the restart", n)
	}
}

// Merge policy writes carry x-profile-instance-id, which profile.yaml requires there.
func TestMergePolicyWritesNameTheProfileInstance(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	var seen []string
	var mu sync.Mutex
	ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
		if strings.Contains(r.URL.Path, "/mergePolicies") && r.Method != "GET" {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.Header.Get("x-profile-instance-id"))
			mu.Unlock()
		}
		return nil
	})
	p, err := c.CreateMergePolicy(context.Background(), aepwire.MergePolicy{Name: "p", Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		IdentityGraph: aepwire.IdentityGraph{Type: "none"}, AttributeMerge: aepwire.AttributeMerge{Type: "timestampOrdered"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Name = "q"
	if _, err := c.UpdateMergePolicy(context.Background(), p.ID, *p); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteMergePolicy(context.Background(), p.ID); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if !strings.HasSuffix(s, " ups") {
			t.Errorf("%q: want x-profile-instance-id ups", s)
		}
	}
	if len(seen) != 3 {
		t.Errorf("writes seen: %v", seen)
	}
}

// A merge policy's creation sends profile.yaml's PostMergePolicy, without the fields the platform
// assigns; its update, a PUT that replaces the whole policy, sends the policy as the platform has
// it with the provider's settings in place, so that what the provider does not manage (the
// version, isActiveOnEdge, the sandbox) is not sent back as zero values.
func TestMergePolicyWritesCarryTheirDocumentedBodies(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	bodies := map[string]map[string]any{}
	var mu sync.Mutex
	ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
		if strings.Contains(r.URL.Path, "/mergePolicies") && (r.Method == "POST" || r.Method == "PUT") {
			raw, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(raw))
			var body map[string]any
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Errorf("%s body %s: %v", r.Method, raw, err)
			}
			mu.Lock()
			bodies[r.Method] = body
			mu.Unlock()
		}
		return nil
	})
	settings := func(name, graph string) aepwire.MergePolicy {
		return aepwire.MergePolicy{Name: name, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
			IdentityGraph: aepwire.IdentityGraph{Type: graph}, AttributeMerge: aepwire.AttributeMerge{Type: "timestampOrdered"}}
	}
	p, err := c.CreateMergePolicy(ctx, settings("p", "none"))
	if err != nil {
		t.Fatal(err)
	}
	// Changed elsewhere since: the policy is at version 2.
	if _, err := ts.engine.UpdateMergePolicy(ctx, p.ID, settings("p2", "none")); err != nil {
		t.Fatal(err)
	}
	before, err := c.GetMergePolicy(ctx, p.ID)
	if err != nil || before.Version != 2 {
		t.Fatalf("the policy before the update: %+v, %v", before, err)
	}
	if _, err := c.UpdateMergePolicy(ctx, p.ID, settings("q", "pdg")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var keys []string
	for k := range bodies["POST"] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, " "); got != "attributeMerge default identityGraph isActiveOnEdge name schema" {
		t.Errorf("the creation's body has %s, want PostMergePolicy's fields", got)
	}
	want, err := json.Marshal(before)
	if err != nil {
		t.Fatal(err)
	}
	var wantBody map[string]any
	_ = json.Unmarshal(want, &wantBody)
	wantBody["name"], wantBody["identityGraph"] = "q", map[string]any{"type": "pdg"}
	if !reflect.DeepEqual(bodies["PUT"], wantBody) {
		t.Errorf("the update's body:\n%v\nwant the policy as read, with the new settings:\n%v", bodies["PUT"], wantBody)
	}
}

// AEP answers a cancellation with {"status", "message"} (segmentation.yaml). One it refuses
// (status false) is an error that quotes its message, unless the job has ended meanwhile.
func TestRefusedCancellationIsAnError(t *testing.T) {
	ts := serveEngineWith(t, aepserver.Options{Strict: true}, exportengine.Options{})
	engine, err := url.Parse(ts.url)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("DELETE "+jobsPathForTest+"/{id}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":false,"message":"Export job cannot be cancelled now"}`)
	})
	mux.Handle("/", httputil.NewSingleHostReverseProxy(engine))
	refusing := httptest.NewServer(contracttest.Handler(t, mux))
	t.Cleanup(refusing.Close)
	c := ts.client(t, func(cfg *Config) { cfg.Endpoint = refusing.URL })
	ctx := context.Background()
	job, err := ts.engine.CreateExportJob(ctx, exportRequest(ts.dest), "")
	if err != nil {
		t.Fatal(err)
	}
	err = c.CancelExportJob(ctx, job.ID)
	if err == nil || !strings.Contains(err.Error(), "did not cancel export job") || !strings.Contains(err.Error(), "Export job cannot be cancelled now") {
		t.Errorf("a refused cancellation of a NEW job: %v, want the platform's message", err)
	}
	// Ended meanwhile (here by the engine's own cancellation, after which the strict profile
	// answers 404 for the job, as AEP may): what the caller wanted.
	if err := ts.engine.CancelExportJob(ctx, job.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelExportJob(ctx, job.ID); err != nil {
		t.Errorf("a refused cancellation of an ended job: %v, want none", err)
	}
}

// A batch's completion whose answer was lost is sent again. What AEP answers a repeated
// completion is not documented: where it refuses it, the batch, which reads as completed, is
// taken as completed. A refusal of a batch that is still loading stays an error.
func TestRefusedRepeatOfACompletionIsTakenAsDone(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	for _, lost := range []bool{true, false} {
		ds, b := newBatch(t, c)
		if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "a.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`+"\n")); err != nil {
			t.Fatal(err)
		}
		path := importPath + "/batches/" + b.ID
		if lost {
			ts.faults.add("POST", path, aepserver.Fault{Lost: true}, 1)
		}
		ts.faults.add("POST", path, aepserver.Fault{Status: http.StatusBadRequest}, 1)
		_, err := c.CompleteBatch(ctx, b.ID)
		switch {
		case lost && err != nil:
			t.Errorf("a completion whose repeat was refused: %v, want it taken as done", err)
		case lost && ts.faults.count("POST", path) != 2:
			t.Errorf("%d completions were sent, want the lost one and its repeat", ts.faults.count("POST", path))
		case !lost && aepwire.StatusOf(err) != http.StatusBadRequest:
			t.Errorf("a refused completion of a loading batch: %v, want the 400", err)
		}
		if lost {
			if err := ts.engine.WaitBatch(ctx, b.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}
