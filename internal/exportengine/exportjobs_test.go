package exportengine

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// jobEnv is an engine that runs jobs, with a union destination and some profiles.
type jobEnv struct {
	e       *Engine
	clock   clock.Clock
	dest    string
	crm     string
	web     string
	dataDir string
}

func newJobEnv(t *testing.T, opts Options) *jobEnv {
	t.Helper()
	env := &jobEnv{clock: opts.Clock, dataDir: opts.DataDir}
	if env.clock == nil {
		env.clock = newFakeClock()
	}
	if env.dataDir == "" {
		env.dataDir = t.TempDir()
	}
	opts.DataDir, opts.Clock = env.dataDir, env.clock
	e := openEngine(t, opts)
	env.e = e
	env.dest = newDataset(t, e, aepwire.SchemaProfileUnion, false)
	env.crm = newDataset(t, e, aepwire.SchemaProfile, true)
	env.web = newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	return env
}

func (env *jobEnv) request() aepwire.ExportJobRequest {
	return aepwire.ExportJobRequest{
		Destination: aepwire.ExportDestination{DatasetID: env.dest},
		Schema:      aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
	}
}

// create creates a job of the default request on e: the env's engine, or another one on its data
// directory.
func (env *jobEnv) create(t *testing.T, e *Engine) *aepwire.ExportJob {
	t.Helper()
	j, err := e.CreateExportJob(context.Background(), env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// newHeldJob makes an engine that runs jobs, with sample data, and a job that its runner holds
// before its second chunk of profiles; the gate lets it go.
func newHeldJob(t *testing.T) (*jobEnv, *chunkGate, *aepwire.ExportJob) {
	t.Helper()
	gate := newChunkGate(t, 1)
	env := newJobEnv(t, Options{RunJobs: true, Hooks: gate.hooks()})
	env.ingestSample(t, 1500)
	j := env.create(t, env.e)
	gate.await(t)
	return env, gate, j
}

// ingestSample loads generated sample data for people people.
func (env *jobEnv) ingestSample(t *testing.T, people int) {
	t.Helper()
	dir := t.TempDir()
	if _, err := sampledata.Generate(dir, sampledata.Options{Seed: 11, People: people, EventsPerPerson: 2}); err != nil {
		t.Fatal(err)
	}
	ingest(t, env.e, env.crm, filepath.Join(dir, sampledata.CRMFile), filepath.Join(dir, sampledata.LoyaltyFile))
	ingest(t, env.e, env.web, filepath.Join(dir, sampledata.EventsFile))
}

func wait(t *testing.T, e *Engine, id int64) *aepwire.ExportJob {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	job, err := e.WaitExportJob(ctx, id, nil)
	if err != nil {
		t.Fatalf("waiting for job %d: %v", id, err)
	}
	return job
}

func TestExportJobBadRequests(t *testing.T) {
	env := newJobEnv(t, Options{})
	ctx := context.Background()
	v := func(n int64) *int64 { return &n }
	for _, tc := range []struct {
		name   string
		change func(r *aepwire.ExportJobRequest)
		want   string
	}{
		{"no destination", func(r *aepwire.ExportJobRequest) { r.Destination.DatasetID = "" }, "destination.datasetId is required"},
		{"unknown destination", func(r *aepwire.ExportJobRequest) { r.Destination.DatasetID = "000000000000000000000000" },
			"destination.datasetId 000000000000000000000000 names no dataset"},
		{"destination not on the union schema", func(r *aepwire.ExportJobRequest) { r.Destination.DatasetID = env.crm },
			"destination dataset " + env.crm + ` ("ds") uses the schema ` + aepwire.SchemaProfile + "; an export destination must use the profile union schema"},
		{"no schema", func(r *aepwire.ExportJobRequest) { r.Schema.Name = "" }, "schema.name is required"},
		{"other schema", func(r *aepwire.ExportJobRequest) { r.Schema.Name = "_xdm.context.experienceevent" }, `schema.name "_xdm.context.experienceevent" is not supported`},
		{"malformed fields", func(r *aepwire.ExportJobRequest) { r.Fields = "a..b" }, `fields "a..b" is malformed at position 3: a name is missing between two dots`},
		{"malformed event fields", func(r *aepwire.ExportJobRequest) {
			r.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{Fields: "a(b).c"}}
		}, `additionalFields.eventList.fields "a(b).c" is malformed at position 5`},
		{"unknown merge policy", func(r *aepwire.ExportJobRequest) { r.MergePolicy = &aepwire.MergePolicyRef{ID: "nope"} },
			`mergePolicy: no merge policy has the id "nope"`},
		{"unknown merge policy, with a version", func(r *aepwire.ExportJobRequest) {
			r.MergePolicy = &aepwire.MergePolicyRef{ID: "nope", Version: v(1)}
		}, `mergePolicy: no merge policy has the id "nope"`},
		{"unknown merge policy version", func(r *aepwire.ExportJobRequest) {
			r.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultNone, Version: v(7)}
		}, `mergePolicy: merge policy "timestampOrdered-none-mp" has no version 7`},
		{"bad from timestamp", func(r *aepwire.ExportJobRequest) { r.Filter = &aepwire.ExportFilter{FromIngestTimestamp: "yesterday"} },
			`filter.fromIngestTimestamp "yesterday" is not an RFC 3339 date-time`},
		{"bad segment status", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{SegmentID: "s", Status: []string{"active"}}}}
		}, `filter.segments[0].status holds "active"; statuses are realized, existing and exited`},
		{"segment without id", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{}}}
		}, "filter.segments[0].segmentId is required"},
		{"a segment status twice", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{SegmentID: "s", Status: []string{"realized", "exited", "realized"}}}}
		}, `filter.segments[0].status holds "realized" twice; name each status once`},
		{"a segment twice", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{SegmentID: "s"}, {SegmentID: "t"}, {SegmentID: "s", SegmentNs: "ups"}}}
		}, `filter.segments[2] names segment "s" of namespace "ups", as filter.segments[0] does`},
		{"too many segments", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{}
			for i := range aepwire.MaxExportSegments + 1 {
				r.Filter.Segments = append(r.Filter.Segments, aepwire.SegmentFilter{SegmentID: fmt.Sprint("s", i)})
			}
			r.Destination.SegmentPerBatch = true
		}, "filter.segments names 101 segments, more than the 100 an export job takes; export them in several jobs"},
		{"segmentPerBatch without segments", func(r *aepwire.ExportJobRequest) { r.Destination.SegmentPerBatch = true },
			"destination.segmentPerBatch is true but filter.segments is empty"},
		{"bad event window", func(r *aepwire.ExportJobRequest) {
			r.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{Filter: &aepwire.EventListFilter{ToIngestTimestamp: "2026-01-01"}}}
		}, `additionalFields.eventList.filter.toIngestTimestamp "2026-01-01" is not an RFC 3339 date-time`},
		{"bad qualification window", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{SegmentQualificationTime: &aepwire.SegmentQualificationTime{EndTime: "soon"}}
		}, `filter.segmentQualificationTime.endTime "soon" is not an RFC 3339 date-time`},
		// What a job keeps of its request, held to a length; what a refusal quotes, cut short.
		{"long segment id", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{SegmentID: "s"}, {SegmentID: strings.Repeat("s", 10_000)}}}
		}, "filter.segments[1].segmentId is 10000 characters long, more than the 256 it may have; shorten it"},
		{"long segment namespace", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{SegmentID: "s", SegmentNs: strings.Repeat("n", 257)}}}
		}, "filter.segments[0].segmentNs is 257 characters long, more than the 256"},
		{"long destination", func(r *aepwire.ExportJobRequest) { r.Destination.DatasetID = strings.Repeat("d", 1<<20) },
			"destination.datasetId is 1048576 characters long, more than the 256"},
		{"long merge policy id", func(r *aepwire.ExportJobRequest) {
			r.MergePolicy = &aepwire.MergePolicyRef{ID: strings.Repeat("p", 257)}
		}, "mergePolicy.id is 257 characters long, more than the 256"},
		{"long time", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{FromIngestTimestamp: "2026-01-01T00:00:00." + strings.Repeat("0", 1<<20) + "Z"}
		}, "filter.fromIngestTimestamp is 1048597 characters long, more than the 64"},
		{"long bad status", func(r *aepwire.ExportJobRequest) {
			r.Filter = &aepwire.ExportFilter{Segments: []aepwire.SegmentFilter{{SegmentID: "s", Status: []string{strings.Repeat("x", 1<<20)}}}}
		}, `filter.segments[0].status holds "` + strings.Repeat("x", 100) + `"…(1048576 bytes); statuses are`},
		{"long schema name", func(r *aepwire.ExportJobRequest) { r.Schema.Name = strings.Repeat("x", 1<<20) },
			`schema.name "` + strings.Repeat("x", 100) + `"…(1048576 bytes) is not supported`},
		{"long malformed fields", func(r *aepwire.ExportJobRequest) { r.Fields = strings.Repeat("a.", 1<<20) },
			`fields "` + strings.Repeat("a.", 50) + `"…(2097152 bytes) is malformed at position 65537`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := env.request()
			tc.change(&req)
			_, err := env.e.CreateExportJob(ctx, req, "")
			if aepwire.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) || len(err.Error()) > 1<<10 {
				t.Errorf("err = %.1000v\nwant a 400 of at most 1 KiB containing %q", err, tc.want)
			}
		})
	}
	list, err := env.e.ListExportJobs(ctx, aepwire.ExportJobQuery{})
	if err != nil || len(list.Records) != 0 {
		t.Errorf("refused requests created jobs: %+v, %v", list, err)
	}
}

func TestExportJobLifecycleAndMetrics(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true})
	env.ingestSample(t, 200)
	ctx := context.Background()
	req := env.request()
	req.Fields = "personalEmail.address"
	req.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{Fields: "eventType"}}
	req.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultPDG}

	// The runner may claim the job the moment it is committed; the answer is still the job as
	// created: NEW.
	created, err := env.e.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != aepwire.JobNew || created.ID < 1 || created.Destination.BatchID == "" || len(created.RequestID) != 32 ||
		created.Metrics.TotalTime == nil || created.Metrics.TotalTime.StartTimeInMs != created.CreationTime ||
		created.MergePolicy.Version == nil || *created.MergePolicy.Version != 1 || created.JobType != "BATCH" {
		t.Errorf("new job = %+v", created)
	}
	var statuses []string
	var mu sync.Mutex
	job, err := env.e.WaitExportJob(ctx, created.ID, func(j *aepwire.ExportJob) {
		mu.Lock()
		statuses = append(statuses, j.Status)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != aepwire.JobSucceeded {
		t.Fatalf("job ended %s: %+v", job.Status, job.Errors)
	}
	if statuses[len(statuses)-1] != aepwire.JobSucceeded {
		t.Errorf("the waiter heard %v", statuses)
	}
	m := job.Metrics
	if m.ProfileExportTime == nil || m.ACPDatasetWriteTime == nil || m.TotalTime.EndTimeInMs == 0 ||
		m.ProfileExportTime.TotalTimeInMs != m.ProfileExportTime.EndTimeInMs-m.ProfileExportTime.StartTimeInMs ||
		m.ProfileExportTime.EndTimeInMs > m.ACPDatasetWriteTime.StartTimeInMs || job.UpdateTime != m.TotalTime.EndTimeInMs {
		t.Errorf("timings: %+v %+v %+v", m.TotalTime, m.ProfileExportTime, m.ACPDatasetWriteTime)
	}
	if *m.TotalExportedProfileCounter == 0 || *m.ExportedEventCounter == 0 || *m.BytesWritten == 0 ||
		job.ComputeGatewayJobID["exportJob"] == "" || job.ComputeGatewayJobID["pushJob"] == "" {
		t.Errorf("counters: %+v, gateway %v", m, job.ComputeGatewayJobID)
	}
	var byNS int64
	for _, n := range m.ExportedProfileByNamespaceCounter {
		byNS += n
	}
	if byNS != *m.TotalExportedProfileCounter {
		t.Errorf("by namespace %v does not add up to %d", m.ExportedProfileByNamespaceCounter, *m.TotalExportedProfileCounter)
	}
	b, err := env.e.GetBatch(ctx, job.Destination.BatchID)
	if err != nil || b.Status != aepwire.BatchSuccess || b.RecordCount != *m.TotalExportedProfileCounter || b.Size != *m.BytesWritten ||
		b.DatasetID() != env.dest {
		t.Errorf("exported batch %+v, %v", b, err)
	}
}

// An export job names at most aepwire.MaxMetricNamespaces namespaces in its metrics, the first its
// rows meet, which are the smallest, and counts the rows of the others under
// aepwire.OtherNamespaces; the counts add up to the rows written. Rows of 150 namespaces, 4 each,
// take three chunks.
func TestExportJobNamespaceMetricsAreCapped(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true})
	const namespaces, each = 150, 4
	var lines []string
	for i := range namespaces * each {
		lines = append(lines, fmt.Sprintf(`{"identityMap":{"ns%03d":[{"id":"p%d","primary":true}]}}`, i%namespaces, i))
	}
	ingestLines(t, env.e, env.crm, lines...)
	want := map[string]int64{aepwire.OtherNamespaces: (namespaces - aepwire.MaxMetricNamespaces) * each}
	for i := range aepwire.MaxMetricNamespaces {
		want[fmt.Sprintf("ns%03d", i)] = each
	}
	for _, policy := range []string{aepwire.MergePolicyDefaultNone, aepwire.MergePolicyDefaultPDG} {
		req := env.request()
		req.MergePolicy = &aepwire.MergePolicyRef{ID: policy}
		created, err := env.e.CreateExportJob(context.Background(), req, "")
		if err != nil {
			t.Fatal(err)
		}
		job := wait(t, env.e, created.ID)
		if job.Status != aepwire.JobSucceeded {
			t.Fatalf("%s: job ended %s: %+v", policy, job.Status, job.Errors)
		}
		if got := job.Metrics.ExportedProfileByNamespaceCounter; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %d namespaces in the metrics %v\nwant %d: %v", policy, len(got), got, len(want), want)
		}
		if n := *job.Metrics.TotalExportedProfileCounter; n != namespaces*each {
			t.Errorf("%s: %d rows exported, want %d", policy, n, namespaces*each)
		}
	}
}

func TestExportJobListPages(t *testing.T) {
	clock := newSkewedClock()
	env := newJobEnv(t, Options{Clock: clock})
	ctx := context.Background()
	var ids []int64
	for i := range 5 {
		clock.Advance(time.Second)
		if i == 3 {
			clock.Move(-time.Second) // two jobs created in the same millisecond
		}
		j := env.create(t, env.e)
		ids = append(ids, j.ID)
	}
	var got []int64
	q := aepwire.ExportJobQuery{Limit: 2}
	for pages := 0; ; pages++ {
		list, err := env.e.ListExportJobs(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list.Records {
			got = append(got, r.ID)
		}
		if list.Page.PageSize != len(list.Records) || list.Page.SortField != "createdTime" || list.Page.Sort != "desc" {
			t.Errorf("page %+v", list.Page)
		}
		if list.Link.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		if !strings.HasPrefix(list.Link.Next, "/export/jobs/?limit=2&offset=") || !strings.HasSuffix(list.Link.Next, list.Page.PageOffset) {
			t.Errorf("next link %q, page offset %q", list.Link.Next, list.Page.PageOffset)
		}
		q.Offset = list.Page.PageOffset
	}
	want := []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("jobs listed %v, want newest first %v", got, want)
	}
	list, err := env.e.ListExportJobs(ctx, aepwire.ExportJobQuery{Status: "succeeded"})
	if err != nil || len(list.Records) != 0 {
		t.Errorf("SUCCEEDED jobs: %v, %v", list, err)
	}
	if _, err := env.e.ListExportJobs(ctx, aepwire.ExportJobQuery{Offset: "x"}); aepwire.StatusOf(err) != 400 {
		t.Errorf("bad offset: %v", err)
	}
}

// A page holds at most MaxExportJobPage jobs, however large the limit asked for: the rest are on
// the next page.
func TestExportJobListPageIsBounded(t *testing.T) {
	env := newJobEnv(t, Options{})
	ctx := context.Background()
	for range aepwire.MaxExportJobPage + 1 {
		env.create(t, env.e)
	}
	list, err := env.e.ListExportJobs(ctx, aepwire.ExportJobQuery{Limit: math.MaxInt})
	if err != nil || len(list.Records) != aepwire.MaxExportJobPage || list.Link.Next == "" {
		t.Fatalf("a page of limit MaxInt: %v jobs, next %q, %v; want %d and a next page", len(list.Records), list.Link.Next, err,
			aepwire.MaxExportJobPage)
	}
	list, err = env.e.ListExportJobs(ctx, aepwire.ExportJobQuery{Limit: math.MaxInt, Offset: list.Page.PageOffset})
	if err != nil || len(list.Records) != 1 || list.Link.Next != "" {
		t.Errorf("the next page: %v jobs, next %q, %v; want the last job alone", len(list.Records), list.Link.Next, err)
	}
}

func TestIdempotentCreate(t *testing.T) {
	env := newJobEnv(t, Options{})
	ctx := context.Background()
	a, err := env.e.CreateExportJob(ctx, env.request(), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.e.CreateExportJob(ctx, env.request(), "key-1")
	if err != nil || b.ID != a.ID {
		t.Errorf("retried create gave job %v (%v), want %d", b, err, a.ID)
	}
	c, err := env.e.CreateExportJob(ctx, env.request(), "key-2")
	if err != nil || c.ID == a.ID {
		t.Errorf("another key gave job %v (%v)", c, err)
	}
}

// A request's identifiers and times at their limits make a job; an idempotency key past its
// limit is refused, as the identifiers are (TestExportJobBadRequests).
func TestExportJobIdentifierLimits(t *testing.T) {
	env := newJobEnv(t, Options{})
	ctx := context.Background()
	req := env.request()
	at := "2026-01-01T00:00:00." + strings.Repeat("0", aepwire.MaxRequestTimeLen-len("2026-01-01T00:00:00.Z")) + "Z"
	req.Filter = &aepwire.ExportFilter{FromIngestTimestamp: at, Segments: []aepwire.SegmentFilter{{
		SegmentID: strings.Repeat("é", aepwire.MaxIdentifierLen), SegmentNs: strings.Repeat("n", aepwire.MaxIdentifierLen)}}}
	req.Destination.SegmentPerBatch = true
	key := strings.Repeat("k", aepwire.MaxIdentifierLen)
	if _, err := env.e.CreateExportJob(ctx, req, key); err != nil {
		t.Fatalf("a request at the limits: %v", err)
	}
	_, err := env.e.CreateExportJob(ctx, env.request(), key+"k")
	if want := "the idempotency key (Idempotency-Key) is 257 characters long, more than the 256 it may have"; aepwire.StatusOf(err) != http.StatusBadRequest ||
		!strings.Contains(err.Error(), want) {
		t.Errorf("a key of 257 characters: %v, want a 400 saying %q", err, want)
	}
}

// chunkGate holds the exports of an engine (given its hooks) before their chunk seq until
// released, or until the job's context ends; reached is closed when an export gets there.
type chunkGate struct {
	seq                      int
	reached, open            chan struct{}
	reachedOnce, releaseOnce sync.Once
}

func newChunkGate(t *testing.T, seq int) *chunkGate {
	g := &chunkGate{seq: seq, reached: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *chunkGate) hooks() Hooks {
	return Hooks{BeforeExportChunk: func(ctx context.Context, seq int) {
		if seq != g.seq {
			return
		}
		g.reachedOnce.Do(func() { close(g.reached) })
		select {
		case <-g.open:
		case <-ctx.Done():
		}
	}}
}

func (g *chunkGate) release() { g.releaseOnce.Do(func() { close(g.open) }) }

// await waits for an export to reach the gate, and fails the test if none has within a minute:
// a regression that keeps the exports from it fails here rather than hanging the package.
func (g *chunkGate) await(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	select {
	case <-g.reached:
	case <-ctx.Done():
		t.Fatal("no export reached the gate within a minute")
	}
}

func TestCancelNewJob(t *testing.T) {
	env := newJobEnv(t, Options{}) // no runner: the job stays NEW
	ctx := context.Background()
	j := env.create(t, env.e)
	if err := env.e.CancelExportJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	got, err := env.e.GetExportJob(ctx, j.ID)
	if err != nil || got.Status != aepwire.JobCancelled || got.Destination.BatchID != j.Destination.BatchID || len(got.Errors) != 1 || got.Errors[0].Code != codeJobCancelled {
		t.Errorf("after cancel: %+v, %v", got, err)
	}
	// A cancelled (terminal) job is deleted by a second DELETE.
	if err := env.e.CancelExportJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.GetExportJob(ctx, j.ID); !aepwire.IsNotFound(err) {
		t.Errorf("after delete: %v, want 404", err)
	}
	if err := env.e.CancelExportJob(ctx, j.ID); !aepwire.IsNotFound(err) {
		t.Errorf("delete of a deleted job: %v, want 404", err)
	}
}

func TestCancelMidRun(t *testing.T) {
	env, _, j := newHeldJob(t)
	ctx := context.Background()
	running, err := env.e.GetExportJob(ctx, j.ID)
	if err != nil || running.Status != aepwire.JobProcessing {
		t.Fatalf("job is %+v, %v; want PROCESSING", running, err)
	}
	if err := env.e.CancelExportJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	// The runner is held at the gate; the cancellation must still stop it (the gate is released by
	// the context, not by the test).
	done := wait(t, env.e, j.ID)
	// As AEP's, the job keeps naming the batch it reserved; the batch was never committed.
	if done.Status != aepwire.JobCancelled || done.Destination.BatchID != running.Destination.BatchID {
		t.Errorf("cancelled job: %+v", done)
	}
	if _, err := env.e.GetBatch(ctx, running.Destination.BatchID); !aepwire.IsNotFound(err) {
		t.Errorf("a cancelled job left its batch: %v", err)
	}
	if _, err := os.Stat(env.e.batchDir(running.Destination.BatchID)); !os.IsNotExist(err) {
		t.Errorf("a cancelled job left its files: %v", err)
	}
}

func TestTwoJobsAtOnce(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true, MaxConcurrentJobs: 2})
	env.ingestSample(t, 600)
	ctx := context.Background()
	reqA := env.request()
	reqB := env.request()
	reqB.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultPDG}
	reqB.Fields = "identityMap"
	a, err := env.e.CreateExportJob(ctx, reqA, "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.e.CreateExportJob(ctx, reqB, "")
	if err != nil {
		t.Fatal(err)
	}
	ja, jb := wait(t, env.e, a.ID), wait(t, env.e, b.ID)
	if ja.Status != aepwire.JobSucceeded || jb.Status != aepwire.JobSucceeded {
		t.Fatalf("jobs ended %s and %s", ja.Status, jb.Status)
	}
	if ja.Destination.BatchID == jb.Destination.BatchID {
		t.Errorf("two jobs wrote one batch")
	}
	// Each job alone gives the same output as together.
	alone, err := env.e.CreateExportJob(ctx, reqA, "")
	if err != nil {
		t.Fatal(err)
	}
	jc := wait(t, env.e, alone.ID)
	if beside, alone := exportedRows(t, env.e, jc.Destination.BatchID), exportedRows(t, env.e, ja.Destination.BatchID); len(alone) == 0 ||
		fmt.Sprint(beside) != fmt.Sprint(alone) {
		t.Errorf("the job run beside another wrote other rows than alone (%d rows alone)", len(alone))
	}
}

// What a request says by itself is checked before the job's transaction: a malformed request is
// refused while another writer holds the store, and never waits for it.
func TestMalformedRequestTakesNoWriteLock(t *testing.T) {
	env := newJobEnv(t, Options{})
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- env.e.store.Write(ctx, func(*sql.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	refused := make(chan error, 1)
	go func() {
		req := env.request()
		req.Fields = "a(b,(c" + strings.Repeat("(", 5000)
		_, err := env.e.CreateExportJob(ctx, req, "")
		refused <- err
	}()
	select {
	case err := <-refused:
		if aepwire.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), "fields") {
			t.Errorf("malformed fields: %v, want a 400 naming fields", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("a malformed request waited for the write lock")
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// The jobs waiting to run take the sandboxes in turn: a sandbox that created many jobs at once
// does not hold back another's newer one for the time of all of them, however many sandboxes
// there are.
func TestWaitingJobsTakeTheSandboxesInTurn(t *testing.T) {
	env := newJobEnv(t, Options{}) // no runner: the test claims the jobs
	ctx := context.Background()
	js := jobStore{env.e}
	creator := func(sandbox string) func() int64 {
		sbCtx := aepwire.WithSandbox(ctx, sandbox)
		dest, err := env.e.CreateDataset(sbCtx, aepwire.DatasetRequest{Name: "dest", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion}})
		if err != nil {
			t.Fatal(err)
		}
		return func() int64 {
			t.Helper()
			req := env.request()
			req.Destination.DatasetID = dest.ID
			j, err := env.e.CreateExportJob(sbCtx, req, "")
			if err != nil {
				t.Fatal(err)
			}
			return j.ID
		}
	}
	devJob, qaJob := creator("dev"), creator("qa")
	a1, a2, a3 := env.create(t, env.e).ID, env.create(t, env.e).ID, env.create(t, env.e).ID
	b1, b2 := devJob(), devJob()
	c1 := qaJob()
	order := func(want ...int64) {
		t.Helper()
		refs, err := js.Unfinished(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, r := range refs {
			got = append(got, r.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("the jobs to run, in order: %v; want %v", got, want)
		}
	}
	start := func(id int64) {
		t.Helper()
		if _, run, err := js.Claim(ctx, id); err != nil || !run {
			t.Fatalf("claiming job %d: %v, %v", id, run, err)
		}
	}
	end := func(id int64) { // as a run that succeeded ends it
		t.Helper()
		if _, err := env.e.store.DB().ExecContext(ctx, `UPDATE export_jobs SET status = ? WHERE id = ?`, aepwire.JobSucceeded, id); err != nil {
			t.Fatal(err)
		}
	}

	// Each sandbox's first, oldest first; then each one's second; then the third.
	order(a1, b1, c1, a2, b2, a3)
	// A job of the first sandbox runs: the sandboxes that have none running go first.
	start(a1)
	order(b1, c1, a1, b2, a2, a3)
	// Once the first sandbox's and then dev's have run, qa, which has not had a job started, goes
	// first, though its job is the newest; then the first sandbox, whose turn was longest ago.
	end(a1)
	start(b1)
	end(b1)
	order(c1, a2, b2, a3)
}
