package exportengine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// The golden tests of exports live in testdata/export, a directory a case (see its README):
// setup.json makes datasets, merge policies and batches; request.json is the export request;
// expected*.jsonl hold the rows, written and checked by hand; expected.json the job's outcome.

type goldenSetup struct {
	Datasets []struct {
		Name           string `json:"name"`
		Schema         string `json:"schema"`
		ProfileEnabled *bool  `json:"profileEnabled"`
	} `json:"datasets"`
	Policies []struct {
		Name           string   `json:"name"`
		IdentityGraph  string   `json:"identityGraph"`
		AttributeMerge string   `json:"attributeMerge"`
		Order          []string `json:"order"`
	} `json:"policies"`
	Batches []struct {
		Dataset string            `json:"dataset"`
		Records []json.RawMessage `json:"records"`
	} `json:"batches"`
	DeleteBatches []int `json:"deleteBatches"`
}

type goldenOutcome struct {
	Status  string          `json:"status"`
	Error   string          `json:"error"`
	Metrics *goldenCounters `json:"metrics"`
}

type goldenCounters struct {
	Profiles    int64            `json:"profiles"`
	Events      int64            `json:"events"`
	Excluded    int64            `json:"excluded"`
	ByNamespace map[string]int64 `json:"byNamespace"`
}

// goldenEpoch is the fake clock's time at the first batch; each later batch is one minute later.
var goldenEpoch = time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)

func TestExportGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "export", "*", "request.json"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, reqPath := range cases {
		dir := filepath.Dir(reqPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			runGoldenCase(t, dir, goldenVariant{})
		})
		// The same rows when the identity graph's sorts spill to files every few pairs.
		t.Run(filepath.Base(dir)+"/sorts-spilled", func(t *testing.T) {
			t.Parallel()
			runGoldenCase(t, dir, goldenVariant{sortRunBytes: 64})
		})
		// The same rows when the batches' top-level names are not known, so that every record
		// is read whole, as in a data directory ingested before they were kept.
		t.Run(filepath.Base(dir)+"/names-unknown", func(t *testing.T) {
			t.Parallel()
			runGoldenCase(t, dir, goldenVariant{forgetNames: true})
		})
		// The same rows from a second export of the same store, which reads the identity graph
		// the first one kept and keeps the event bodies, and from a third, which reads both.
		t.Run(filepath.Base(dir)+"/graph-kept", func(t *testing.T) {
			t.Parallel()
			runGoldenCase(t, dir, goldenVariant{thrice: true})
		})
	}
}

// goldenVariant is how a golden case runs besides its files.
type goldenVariant struct {
	sortRunBytes int  // the identity graph's run size; 0: the default
	forgetNames  bool // the batches' top-level names forgotten before the export
	thrice       bool // the export run three times, each checked
}

// readJSON decodes a file of a case strictly; a missing file leaves v as it is.
func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func runGoldenCase(t *testing.T, dir string, v goldenVariant) {
	ctx := context.Background()
	clock := clock.NewFake(goldenEpoch)
	var built, reused, eventsKept, eventsRead atomic.Int32
	hooks := Hooks{GraphDone: func(fromKept bool, keepErr error) {
		if keepErr != nil {
			t.Errorf("keeping the identity graph: %v", keepErr)
		}
		if fromKept {
			reused.Add(1)
		} else {
			built.Add(1)
		}
	}, EventsKept: func(err error) {
		if err != nil {
			t.Errorf("keeping the event bodies: %v", err)
		}
		eventsKept.Add(1)
	}, EventsRead: func(_, fromStore int64) {
		if fromStore != 0 {
			t.Errorf("%d events read from the store instead of the kept bodies", fromStore)
		}
		eventsRead.Add(1)
	}}
	e := openEngine(t, Options{DataDir: t.TempDir(), Clock: clock, RunJobs: true, Workers: 2, SortRunBytes: v.sortRunBytes, Hooks: hooks})

	var setup goldenSetup
	readJSON(t, filepath.Join(dir, "setup.json"), &setup)
	names := map[string]string{} // "$dataset:name" and "$policy:name" → id
	for _, d := range setup.Datasets {
		schema := map[string]string{"profile": aepwire.SchemaProfile, "event": aepwire.SchemaExperienceEvent,
			"union": aepwire.SchemaProfileUnion}[d.Schema]
		if schema == "" {
			schema = d.Schema
		}
		enabled := d.Schema != "union"
		if d.ProfileEnabled != nil {
			enabled = *d.ProfileEnabled
		}
		names["$dataset:"+d.Name] = newDataset(t, e, schema, enabled)
	}
	if _, ok := names["$dataset:export"]; !ok {
		names["$dataset:export"] = newDataset(t, e, aepwire.SchemaProfileUnion, false)
	}
	resolve := func(s string) string {
		for k, v := range names {
			s = strings.ReplaceAll(s, `"`+k+`"`, `"`+v+`"`)
		}
		return s
	}
	for _, p := range setup.Policies {
		var order []string
		for _, name := range p.Order {
			order = append(order, names["$dataset:"+name])
		}
		mp, err := e.CreateMergePolicy(ctx, aepwire.MergePolicy{Name: p.Name, IdentityGraph: aepwire.IdentityGraph{Type: p.IdentityGraph},
			AttributeMerge: aepwire.AttributeMerge{Type: p.AttributeMerge, Order: order}})
		if err != nil {
			t.Fatal(err)
		}
		names["$policy:"+p.Name] = mp.ID
	}
	var batchIDs []string
	for i, b := range setup.Batches {
		clock.Set(goldenEpoch.Add(time.Duration(i) * time.Minute))
		lines := make([]string, len(b.Records))
		for j, r := range b.Records {
			var buf bytes.Buffer
			if err := json.Compact(&buf, r); err != nil {
				t.Fatal(err)
			}
			lines[j] = buf.String()
		}
		done := ingestLines(t, e, names["$dataset:"+b.Dataset], lines...)
		if done.FailedRecordCount != 0 {
			t.Fatalf("batch %d of the setup has bad records: %+v", i, done.Errors)
		}
		batchIDs = append(batchIDs, done.ID)
	}
	for _, i := range setup.DeleteBatches {
		if err := e.DeleteBatch(ctx, batchIDs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if v.forgetNames {
		if _, err := e.store.DB().ExecContext(ctx, `UPDATE batches SET top_names = NULL`); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(goldenEpoch.Add(time.Hour))

	reqBytes, err := os.ReadFile(filepath.Join(dir, "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	var req aepwire.ExportJobRequest
	if err := json.Unmarshal([]byte(resolve(string(reqBytes))), &req); err != nil {
		t.Fatal(err)
	}
	var want goldenOutcome
	readJSON(t, filepath.Join(dir, "expected.json"), &want)
	checkGoldenExport(t, e, dir, req, want)
	if !v.thrice {
		return
	}
	first := built.Load()
	if eventsKept.Load() != 0 {
		t.Errorf("the export that built the identity graph kept the event bodies")
	}
	checkGoldenExport(t, e, dir, req, want)
	// Through the identity graph, the first export built it and the second read it back, and
	// kept the event bodies, which a third reads.
	if want.Error == "" && (built.Load() != first || reused.Load() != first) {
		t.Errorf("the identity graph was built %d times and read back %d times, want %d and %d", built.Load(), reused.Load(), first, first)
	}
	if want.Error == "" && (eventsKept.Load() != first || eventsRead.Load() != 0) {
		t.Errorf("by the second export, the event bodies were kept %d times and read back %d times, want %d and 0", eventsKept.Load(), eventsRead.Load(), first)
	}
	checkGoldenExport(t, e, dir, req, want)
	if want.Error == "" && (built.Load() != first || reused.Load() != 2*first || eventsKept.Load() != first || eventsRead.Load() != first) {
		t.Errorf("by the third export, the identity graph was built %d times and read back %d times, the event bodies kept %d times and read back %d times; want %d, %d, %d and %d",
			built.Load(), reused.Load(), eventsKept.Load(), eventsRead.Load(), first, 2*first, first, first)
	}
}

// checkGoldenExport runs the export of a golden case and checks what it gives.
func checkGoldenExport(t *testing.T, e *Engine, dir string, req aepwire.ExportJobRequest, want goldenOutcome) {
	t.Helper()
	ctx := context.Background()
	job, err := e.CreateExportJob(ctx, req, "")
	if want.Error != "" {
		if err == nil || !regexp.MustCompile(want.Error).MatchString(err.Error()) {
			t.Fatalf("creating the job: %v, want an error matching %q", err, want.Error)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	job, err = e.WaitExportJob(waitCtx, job.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want.Status == "" {
		want.Status = aepwire.JobSucceeded
	}
	if job.Status != want.Status {
		t.Fatalf("job ended %s (errors %+v), want %s", job.Status, job.Errors, want.Status)
	}

	outputBatches := []string{job.Destination.BatchID}
	if req.Destination.SegmentPerBatch {
		outputBatches = outputBatches[:0]
		for _, b := range job.Destination.Batches {
			outputBatches = append(outputBatches, b.BatchID)
		}
		if len(outputBatches) != len(req.Filter.Segments) {
			t.Fatalf("the job wrote %d batches, want one a segment (%d)", len(outputBatches), len(req.Filter.Segments))
		}
	}
	for i, id := range outputBatches {
		name := "expected.jsonl"
		if req.Destination.SegmentPerBatch {
			name = fmt.Sprintf("expected-%d.jsonl", i+1)
		}
		wantRows, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got := exportedRows(t, e, id)
		if want := canonicalRows(t, wantRows); !slices.Equal(got, want) {
			t.Errorf("%s of batch %s:\n got %s\nwant %s", name, id, strings.Join(got, "\n     "), strings.Join(want, "\n     "))
		}
	}
	if want.Metrics != nil {
		m := job.Metrics
		got := goldenCounters{Profiles: *m.TotalExportedProfileCounter, Events: *m.ExportedEventCounter,
			Excluded: *m.ExcludedProfileCount, ByNamespace: m.ExportedProfileByNamespaceCounter}
		if len(got.ByNamespace) == 0 {
			got.ByNamespace = nil
		}
		if !reflect.DeepEqual(got, *want.Metrics) {
			t.Errorf("metrics %+v, want %+v", got, *want.Metrics)
		}
	}
}

// exportedRows reads the rows of an exported batch, in file-name order, each compacted.
func exportedRows(t *testing.T, e *Engine, batchID string) []string {
	t.Helper()
	return exportedRowsIn(context.Background(), t, e, batchID)
}

// exportedRowsIn is exportedRows of a batch of the sandbox ctx names.
func exportedRowsIn(ctx context.Context, t *testing.T, e *Engine, batchID string) []string {
	t.Helper()
	b, err := e.GetBatch(ctx, batchID)
	if err != nil {
		t.Fatalf("exported batch: %v", err)
	}
	if b.Status != aepwire.BatchSuccess {
		t.Fatalf("exported batch %s is %s", batchID, b.Status)
	}
	dir := filepath.Join(e.batchDir(batchID), batchFileDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, ent := range entries {
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, data...)
	}
	rows := canonicalRows(t, all)
	if int64(len(rows)) != b.RecordCount {
		t.Errorf("batch %s has %d rows but recordCount %d", batchID, len(rows), b.RecordCount)
	}
	return rows
}

// canonicalRows splits JSON Lines into compact rows, keeping key order; blank lines are skipped.
func canonicalRows(t *testing.T, data []byte) []string {
	t.Helper()
	var rows []string
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, line); err != nil {
			t.Fatalf("row %s is not JSON: %v", line, err)
		}
		rows = append(rows, buf.String())
	}
	return rows
}
