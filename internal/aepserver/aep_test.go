package aepserver

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// newFixtureWith serves an engine with opts; contract, when set, validates every exchange
// against Adobe's specifications (for tests that send only valid requests).
func newFixtureWith(t *testing.T, opts Options, contract bool) *fixture {
	t.Helper()
	return newFixtureOf(t, opts, contract, true)
}

// newFixtureOf is newFixtureWith with an engine that runs jobs, or one whose jobs stay NEW.
func newFixtureOf(t *testing.T, opts Options, contract, runJobs bool) *fixture {
	t.Helper()
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: t.TempDir(), RunJobs: runJobs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	opts.AccessTokens = map[string]string{"tok": "c"}
	opts.OrgID = "o@AdobeOrg"
	var h http.Handler = New(e, opts)
	if contract {
		h = contracttest.Handler(t, h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{engine: e, srv: srv, token: "tok"}
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%d %s: %v", resp.StatusCode, body, err)
	}
}

// ingest makes a profile dataset with one successful batch of twoProfiles (and a record that fails).
func (f *fixture) ingest(t *testing.T) (batchID string) {
	t.Helper()
	ctx := context.Background()
	ds, err := f.engine.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		Tags: map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.engine.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.engine.UploadBatchFile(ctx, b.ID, ds.ID, "p.json", strings.NewReader(twoProfiles)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.engine.CompleteBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	return b.ID
}

func (f *fixture) exportDataset(t *testing.T) string {
	t.Helper()
	ds, err := f.engine.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "x", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion}})
	if err != nil {
		t.Fatal(err)
	}
	return ds.ID
}

const twoProfiles = `{"identityMap":{"Email":[{"id":"a@example.com","primary":true}]},"person":{"name":{"firstName":"A"}}}
{"identityMap":{"Email":[{"id":"b@example.com","primary":true}]},"person":{"name":{"firstName":"B"}}}
{"person":{"name":{"firstName":"no identity"}}}
`

// The seed lists jobs at /export/jobs/ (with the slash), and link.next uses that path too.
func TestJobListAnswersAtTheSeedsPath(t *testing.T) {
	f := newFixtureWith(t, Options{}, false)
	dest := f.exportDataset(t)
	for range 3 {
		if _, err := f.engine.CreateExportJob(context.Background(), aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: dest},
			Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}, ""); err != nil {
			t.Fatal(err)
		}
	}
	resp := f.call(t, "GET", "/data/core/ups/export/jobs/?limit=2", "", nil)
	var page aepwire.ExportJobList
	decodeJSON(t, resp, &page)
	if resp.StatusCode != 200 || len(page.Records) != 2 || page.Link.Next == "" {
		t.Fatalf("GET /export/jobs/: %d %+v", resp.StatusCode, page)
	}
	next, err := url.Parse(page.Link.Next)
	if err != nil {
		t.Fatal(err)
	}
	resp = f.call(t, "GET", "/data/core/ups"+next.Path+"?"+next.RawQuery, "", nil)
	var rest aepwire.ExportJobList
	decodeJSON(t, resp, &rest)
	if resp.StatusCode != 200 || len(rest.Records) != 1 || rest.Link.Next != "" {
		t.Errorf("following link.next %q: %d %+v", page.Link.Next, resp.StatusCode, rest)
	}
}

// Without x-sandbox-name, AEP works in the organisation's default (production) sandbox.
func TestMissingSandboxHeaderIsTheDefaultSandbox(t *testing.T) {
	f := newFixtureWith(t, Options{Sandboxes: []string{"prod", "dev"}}, false)
	resp := f.call(t, "GET", "/data/core/ups/config/mergePolicies/"+aepwire.MergePolicyDefaultNone, "", nil, "x-sandbox-name")
	if resp.StatusCode != 200 {
		t.Errorf("without x-sandbox-name: %d, want 200 in the default sandbox", resp.StatusCode)
	}
}

// The seed documents start, page and sort on the job list.
func TestJobListTakesStartPageAndSort(t *testing.T) {
	f := newFixtureWith(t, Options{}, false)
	dest := f.exportDataset(t)
	var ids []int64
	for range 5 {
		job, err := f.engine.CreateExportJob(context.Background(), aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: dest},
			Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, job.ID)
	}
	list := func(query string) []int64 {
		t.Helper()
		resp := f.call(t, "GET", "/data/core/ups/export/jobs?"+query, "", nil)
		var page aepwire.ExportJobList
		decodeJSON(t, resp, &page)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", query, resp.StatusCode)
		}
		var got []int64
		for _, r := range page.Records {
			got = append(got, r.ID)
		}
		return got
	}
	// Newest first by default; start skips, page takes the n-th page of limit.
	if got := list("start=1&limit=2"); len(got) != 2 || got[0] != ids[3] || got[1] != ids[2] {
		t.Errorf("start=1&limit=2: %v, want %d %d", got, ids[3], ids[2])
	}
	if got := list("page=2&limit=2"); len(got) != 2 || got[0] != ids[2] || got[1] != ids[1] {
		t.Errorf("page=2&limit=2: %v, want %d %d", got, ids[2], ids[1])
	}
	if got := list("sort=id:asc&limit=3"); len(got) != 3 || got[0] != ids[0] || got[2] != ids[2] {
		t.Errorf("sort=id:asc&limit=3: %v, want the three oldest, oldest first", got)
	}
	if got := list("sort=updateTime:desc"); len(got) != 5 {
		t.Errorf("sort=updateTime:desc: %v", got)
	}
	if resp := f.call(t, "GET", "/data/core/ups/export/jobs?sort=color:asc", "", nil); resp.StatusCode != 400 {
		t.Errorf("sort by an unknown field: %d, want 400", resp.StatusCode)
	}
	// Limits, starts and pages past any list: the page is as large as a page may be, or empty.
	huge := strconv.Itoa(math.MaxInt64)
	for query, want := range map[string]int{
		"limit=" + huge: 5,
		"page=3&limit=" + strconv.Itoa(math.MaxInt64/2): 0,
		"start=" + huge + "&limit=" + huge:              0,
		"page=" + huge + "&limit=2":                     0,
		"sort=id:asc&limit=" + huge:                     5,
	} {
		if got := list(query); len(got) != want {
			t.Errorf("%s: %d jobs, want %d", query, len(got), want)
		}
	}
}

// Catalog lists batches without a dataSet filter, and filters by creation time.
func TestBatchListNeedsNoDataset(t *testing.T) {
	f := newFixtureWith(t, Options{}, true)
	b1 := f.ingest(t)
	b2 := f.ingest(t)
	resp := f.call(t, "GET", "/data/foundation/catalog/batches", "", nil)
	var all map[string]*aepwire.Batch
	decodeJSON(t, resp, &all)
	if resp.StatusCode != 200 || all[b1] == nil || all[b2] == nil {
		t.Fatalf("GET /batches: %d, %d batches", resp.StatusCode, len(all))
	}
	after := all[b2].Created
	resp = f.call(t, "GET", "/data/foundation/catalog/batches?createdAfter="+strconv.FormatInt(after-1, 10), "", nil)
	var recent map[string]*aepwire.Batch
	decodeJSON(t, resp, &recent)
	if recent[b2] == nil || (all[b1].Created < after && recent[b1] != nil) {
		t.Errorf("createdAfter: %v", recent)
	}
	// orderBy reads as the dataset list's does (TestDatasetListTakesOrderBy), newest first by default.
	if resp := f.call(t, "GET", "/data/foundation/catalog/batches?orderBy=sideways:name", "", nil); resp.StatusCode != 400 {
		t.Errorf("orderBy=sideways:name: %d, want 400", resp.StatusCode)
	}
}

// Catalog lists datasets oldest first, or as orderBy says: the remote client looks for a dataset
// whose creation's answer was lost among the newest (desc:created).
func TestDatasetListTakesOrderBy(t *testing.T) {
	c := clock.NewFake(time.Unix(1_800_000_000, 0))
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: t.TempDir(), Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv := httptest.NewServer(contracttest.Handler(t, New(e, Options{AccessTokens: map[string]string{"tok": "c"}, OrgID: "o@AdobeOrg"})))
	t.Cleanup(srv.Close)
	f := &fixture{engine: e, srv: srv, token: "tok"}
	var ids []string
	for i := range 3 {
		ds, err := e.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: fmt.Sprint("d", i),
			SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds.ID)
		c.Advance(time.Second)
	}
	// The first dataset is the last updated.
	later := "later"
	if _, err := e.UpdateDataset(context.Background(), ids[0], aepwire.DatasetPatch{Description: &later}); err != nil {
		t.Fatal(err)
	}
	first := func(query string) string {
		t.Helper()
		resp := f.call(t, "GET", "/data/foundation/catalog/dataSets?limit=1&"+query, "", nil)
		var page map[string]*aepwire.Dataset
		decodeJSON(t, resp, &page)
		if resp.StatusCode != 200 || len(page) != 1 {
			t.Fatalf("%s: %d, %d datasets", query, resp.StatusCode, len(page))
		}
		for id := range page {
			return id
		}
		return ""
	}
	for query, want := range map[string]string{"": ids[0], "orderBy=asc:created": ids[0], "orderBy=desc:created": ids[2],
		"orderBy=desc:created,updated": ids[2], "orderBy=desc:updated": ids[0], "orderBy=asc:updated": ids[1],
		"orderBy=desc:created&start=1": ids[1]} {
		if got := first(query); got != want {
			t.Errorf("%q: first %s, want %s", query, got, want)
		}
	}
	if resp := f.call(t, "GET", "/data/foundation/catalog/dataSets?orderBy=sideways:name", "", nil); resp.StatusCode != 400 {
		t.Errorf("orderBy=sideways:name: %d, want 400", resp.StatusCode)
	}
}

// Batch ingestion's ?action=REVERT undoes a batch: Catalog's DELETE /batches/{id} is deprecated.
func TestBatchRevert(t *testing.T) {
	f := newFixtureWith(t, Options{}, true)
	b := f.ingest(t)
	resp := f.call(t, "POST", "/data/foundation/import/batches/"+b+"?action=REVERT", "", nil)
	if resp.StatusCode != 200 {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("REVERT: %d %s", resp.StatusCode, body)
	}
	if _, err := f.engine.GetBatch(context.Background(), b); !aepwire.IsNotFound(err) {
		t.Errorf("after REVERT the batch reads %v, want it gone", err)
	}
}

// COMPLETE answers at once with the batch, as the spec declares and as AEP answers it: processing
// while it is ingested in the background (held here after its first segment run), then success.
func TestCompleteAnswersWithTheBatchBeforeItIsIngested(t *testing.T) {
	ctx := context.Background()
	inRun, release := make(chan struct{}), make(chan struct{})
	var runs atomic.Int32
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: t.TempDir(), RunBytes: 4096, Hooks: exportengine.Hooks{
		AfterSegmentRun: func() {
			if runs.Add(1) == 1 {
				close(inRun)
				<-release
			}
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var released sync.Once
	let := func() { released.Do(func() { close(release) }) }
	t.Cleanup(func() { let(); _ = e.Close() })
	srv := httptest.NewServer(contracttest.Handler(t, New(e, Options{AccessTokens: map[string]string{"tok": "c"}, OrgID: "o@AdobeOrg"})))
	t.Cleanup(srv.Close)
	f := &fixture{engine: e, srv: srv, token: "tok"}

	ds, _ := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		Tags: map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}})
	b, _ := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
	const records = 500
	var lines strings.Builder
	for i := range records {
		fmt.Fprintf(&lines, `{"identityMap":{"Email":[{"id":"p%03d@example.com"}]},"i":%d}`+"\n", i, i)
	}
	f.call(t, "PUT", "/data/foundation/import/batches/"+b.ID+"/datasets/"+ds.ID+"/files/p.json", lines.String(),
		map[string]string{"Content-Type": "application/octet-stream"})
	resp := f.call(t, "POST", "/data/foundation/import/batches/"+b.ID+"?action=COMPLETE", "", nil)
	var got aepwire.Batch
	decodeJSON(t, resp, &got)
	if resp.StatusCode != 200 || got.ID != b.ID || got.Status != aepwire.BatchProcessing {
		t.Errorf("COMPLETE: %d %+v; want the batch, processing", resp.StatusCode, got)
	}
	<-inRun
	var read map[string]aepwire.Batch
	decodeJSON(t, f.call(t, "GET", "/data/foundation/catalog/batches/"+b.ID, "", nil), &read)
	if st := read[b.ID].Status; st != aepwire.BatchProcessing {
		t.Errorf("the batch while it is ingested: %q, want processing", st)
	}
	let()
	if err := e.WaitBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	decodeJSON(t, f.call(t, "GET", "/data/foundation/catalog/batches/"+b.ID, "", nil), &read)
	if after := read[b.ID]; after.Status != aepwire.BatchSuccess || after.RecordCount != records {
		t.Errorf("the batch after: %+v; want success with %d records", after, records)
	}
}

// A FAILED job keeps destination.batchId (empty when it has none) and its errors' callStack.
func TestFailedJobKeepsItsShape(t *testing.T) {
	f := newFixtureWith(t, Options{}, true)
	dest := f.exportDataset(t)
	job, err := f.engine.CreateExportJob(context.Background(), aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: dest},
		Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.engine.DeleteDataset(context.Background(), dest); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if j, err := f.engine.WaitExportJob(ctx, job.ID, nil); err != nil || j.Status != aepwire.JobFailed {
		t.Fatalf("the job without its dataset: %+v, %v", j, err)
	}
	resp := f.call(t, "GET", "/data/core/ups/export/jobs/"+strconv.FormatInt(job.ID, 10), "", nil)
	var raw struct {
		Destination map[string]any   `json:"destination"`
		Errors      []map[string]any `json:"errors"`
	}
	decodeJSON(t, resp, &raw)
	if _, ok := raw.Destination["batchId"]; !ok {
		t.Errorf("destination of the FAILED job: %v, want batchId", raw.Destination)
	}
	if len(raw.Errors) == 0 {
		t.Fatal("the FAILED job has no errors")
	}
	for _, e := range raw.Errors {
		if _, ok := e["callStack"]; !ok {
			t.Errorf("error %v has no callStack", e)
		}
	}
}

// Every route answers as Adobe's specifications say, in both profiles: each call here is valid,
// and the contract checks judge the request and the answer.
func TestEveryRouteMeetsTheSpecs(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(map[bool]string{false: "engine profile", true: "strict profile"}[strict], func(t *testing.T) {
			f := newFixtureWith(t, Options{Strict: strict}, true)
			ok := func(resp *http.Response, want int) {
				t.Helper()
				if resp.StatusCode != want {
					body, _ := io.ReadAll(resp.Body)
					t.Errorf("%s %s: %d %s, want %d", resp.Request.Method, resp.Request.URL, resp.StatusCode, body, want)
				}
			}
			json := map[string]string{"Content-Type": "application/json"}
			// Catalog.
			resp := f.call(t, "POST", "/data/foundation/catalog/dataSets", `{"name":"p","schemaRef":{"id":"`+aepwire.SchemaProfile+
				`","contentType":"`+aepwire.DefaultSchemaContentType+`"},"tags":{"unifiedProfile":["enabled:true"]}}`, json)
			ok(resp, 201)
			var refs []string
			decodeJSON(t, resp, &refs)
			ds := refs[0][strings.LastIndexByte(refs[0], '/')+1:]
			ok(f.call(t, "GET", "/data/foundation/catalog/dataSets?limit=10&start=0&orderBy=desc:created", "", nil), 200)
			ok(f.call(t, "GET", "/data/foundation/catalog/dataSets/"+ds, "", nil), 200)
			ok(f.call(t, "PATCH", "/data/foundation/catalog/dataSets/"+ds, `{"description":"d"}`, json), 200)
			// Batch ingestion, Catalog batches, Data Access.
			resp = f.call(t, "POST", "/data/foundation/import/batches", `{"datasetId":"`+ds+`","inputFormat":{"format":"json"}}`, json)
			ok(resp, 201)
			var b aepwire.Batch
			decodeJSON(t, resp, &b)
			ok(f.call(t, "PUT", "/data/foundation/import/batches/"+b.ID+"/datasets/"+ds+"/files/p.json", twoProfiles,
				map[string]string{"Content-Type": "application/octet-stream"}), 200)
			ok(f.call(t, "POST", "/data/foundation/import/batches/"+b.ID+"?action=COMPLETE", "", nil), 200)
			if err := f.engine.WaitBatch(t.Context(), b.ID); err != nil {
				t.Fatal(err)
			}
			ok(f.call(t, "GET", "/data/foundation/catalog/batches?dataSet="+ds+"&limit=5", "", nil), 200)
			ok(f.call(t, "GET", "/data/foundation/catalog/batches/"+b.ID, "", nil), 200)
			resp = f.call(t, "GET", "/data/foundation/export/batches/"+b.ID+"/files?start=0&limit=10", "", nil)
			ok(resp, 200)
			var files aepwire.DataSetFileList
			decodeJSON(t, resp, &files)
			if len(files.Data) == 1 {
				u, _ := url.Parse(files.Data[0].Links.Self.Href)
				ok(f.call(t, "GET", u.Path, "", nil), 200)
				ok(f.call(t, "GET", u.Path+"?path=p.json", "", map[string]string{"Range": "bytes=0-9"}), 206)
				ok(f.call(t, "HEAD", u.Path+"?path=p.json", "", nil), 200)
			}
			// Merge policies.
			policy := `{"name":"m","schema":{"name":"_xdm.context.profile"},"identityGraph":{"type":"pdg"},` +
				`"attributeMerge":{"type":"timestampOrdered"},"default":false}`
			instance := map[string]string{"Content-Type": "application/json", "x-profile-instance-id": "ups"}
			resp = f.call(t, "POST", "/data/core/ups/config/mergePolicies", policy, instance)
			ok(resp, 200)
			var p aepwire.MergePolicy
			decodeJSON(t, resp, &p)
			ok(f.call(t, "GET", "/data/core/ups/config/mergePolicies?limit=2", "", nil), 200)
			ok(f.call(t, "GET", "/data/core/ups/config/mergePolicies/"+p.ID, "", nil), 200)
			ok(f.call(t, "PUT", "/data/core/ups/config/mergePolicies/"+p.ID, strings.Replace(policy, `"m"`, `"n"`, 1), instance), 200)
			ok(f.call(t, "PATCH", "/data/core/ups/config/mergePolicies/"+p.ID, `[{"op":"add","path":"/name","value":"o"}]`, instance), 200)
			ok(f.call(t, "DELETE", "/data/core/ups/config/mergePolicies/"+p.ID, "", nil), 200)
			// Export jobs.
			dest := f.exportDataset(t)
			resp = f.call(t, "POST", "/data/core/ups/export/jobs", `{"fields":"identityMap,person.name","destination":{"datasetId":"`+dest+
				`","segmentPerBatch":false},"schema":{"name":"_xdm.context.profile"},"mergePolicy":{"id":"`+aepwire.MergePolicyDefaultPDG+
				`","version":1},"filter":{"emptyProfiles":false},"additionalFields":{"eventList":{"fields":"timestamp"}}}`, instance)
			ok(resp, 200)
			var job aepwire.ExportJob
			decodeJSON(t, resp, &job)
			wctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if _, err := f.engine.WaitExportJob(wctx, job.ID, nil); err != nil {
				t.Fatal(err)
			}
			ok(f.call(t, "GET", "/data/core/ups/export/jobs?limit=5&status=SUCCEEDED", "", nil), 200)
			ok(f.call(t, "GET", "/data/core/ups/export/jobs/"+strconv.FormatInt(job.ID, 10), "", nil), 200)
			ok(f.call(t, "DELETE", "/data/core/ups/export/jobs/"+strconv.FormatInt(job.ID, 10), "", nil), 200)
			// Undo the batch, then the dataset.
			ok(f.call(t, "POST", "/data/foundation/import/batches/"+b.ID+"?action=REVERT", "", nil), 200)
			ok(f.call(t, "DELETE", "/data/foundation/catalog/dataSets/"+ds, "", nil), 200)
		})
	}
}

// GET /batches reads a page of what its filters keep from the database: of one dataset, of a
// status (in any case), in either order, and page after page without a batch twice or missed.
func TestBatchListFiltersAndPages(t *testing.T) {
	f := newFixtureWith(t, Options{}, true)
	ctx := context.Background()
	b1, b2 := f.ingest(t), f.ingest(t)
	if err := f.engine.WaitBatch(ctx, b1); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.WaitBatch(ctx, b2); err != nil {
		t.Fatal(err)
	}
	first, err := f.engine.GetBatch(ctx, b1)
	if err != nil {
		t.Fatal(err)
	}
	dataset := first.RelatedObjects[0].ID
	loading, err := f.engine.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: dataset})
	if err != nil {
		t.Fatal(err)
	}
	list := func(query string) map[string]*aepwire.Batch {
		t.Helper()
		resp := f.call(t, "GET", "/data/foundation/catalog/batches?"+query, "", nil)
		var m map[string]*aepwire.Batch
		decodeJSON(t, resp, &m)
		return m
	}
	keys := func(m map[string]*aepwire.Batch) string { return strings.Join(slices.Sorted(maps.Keys(m)), " ") }
	sorted := func(ids ...string) string { return strings.Join(slices.Sorted(slices.Values(ids)), " ") }
	for query, want := range map[string]string{
		"dataSet=" + dataset:                     sorted(b1, loading.ID),
		"dataSet=" + dataset + "&status=success": b1,
		"status=LOADING":                         loading.ID,
		"status=success":                         sorted(b1, b2),
	} {
		if got := keys(list(query)); got != want {
			t.Errorf("%s: %s, want %s", query, got, want)
		}
	}
	// Newest first unless orderBy says otherwise; ties by id.
	var all []*aepwire.Batch
	for _, id := range []string{b1, b2, loading.ID} {
		b, err := f.engine.GetBatch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b)
	}
	slices.SortFunc(all, func(a, b *aepwire.Batch) int {
		return cmp.Or(cmp.Compare(b.Created, a.Created), strings.Compare(a.ID, b.ID))
	})
	for start := range 4 {
		page := list("limit=1&start=" + strconv.Itoa(start))
		want := ""
		if start < len(all) {
			want = all[start].ID
		}
		if got := keys(page); got != want {
			t.Errorf("page %d of one: %s, want %s", start, got, want)
		}
	}
	oldest := slices.MinFunc(all, func(a, b *aepwire.Batch) int {
		return cmp.Or(cmp.Compare(a.Created, b.Created), strings.Compare(a.ID, b.ID))
	})
	if got := keys(list("limit=1&orderBy=asc:created")); got != oldest.ID {
		t.Errorf("orderBy=asc:created&limit=1: %s, want the oldest, %s", got, oldest.ID)
	}
}
