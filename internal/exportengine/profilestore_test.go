package exportengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// storeContents lists what the profile store holds, one line a record, in the order an export
// reads it: "<primary ns>:<primary id> <body>", grouped by primary identity.
func storeContents(t *testing.T, e *Engine) []string {
	t.Helper()
	out, err := readStore(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// readStore reads the profile store as storeContents lists it, the bodies read as an export
// reads them: in chunks, and checked.
func readStore(e *Engine) ([]string, error) {
	snap, err := e.openSnapshot(context.Background(), e.home)
	if err != nil {
		return nil, err
	}
	defer snap.close()
	var out []string
	c := &exportChunk{}
	seq := 0
	err = snap.byPrimary(nil, func(ns string, id []byte, recs []*storedRecord) error {
		c.reset(seq, snap)
		seq++
		c.addLocated(ns, recs)
		if err := c.loadPieces(); err != nil {
			return err
		}
		if err := c.checkPieces(); err != nil {
			return err
		}
		for _, r := range c.recs {
			// A fragment's member starts come with its body, as ingestion found them.
			want, ok := fields.AppendMemberStarts(nil, r.body)
			if r.kind != record.Fragment || !ok {
				want = nil
			}
			if !bytes.Equal(r.starts, want) {
				return fmt.Errorf("%s:%s %s: member starts %x, want %x", ns, id, r.body, r.starts, want)
			}
			out = append(out, fmt.Sprintf("%s:%s %s", ns, id, r.body))
		}
		return nil
	})
	return out, err
}

// firstBatchRuns is the number of runs of the profile store's first batch's segment.
func firstBatchRuns(t *testing.T, e *Engine) int {
	t.Helper()
	snap, err := e.openSnapshot(context.Background(), e.home)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.close()
	return snap.batches[0].seg.Runs()
}

func expectStore(t *testing.T, e *Engine, want ...string) {
	t.Helper()
	if got := storeContents(t, e); !reflect.DeepEqual(got, want) {
		t.Errorf("profile store:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
}

func TestIngestTimesStrictlyIncrease(t *testing.T) {
	clock := newSkewedClock()
	e := openEngine(t, Options{DataDir: t.TempDir(), Clock: clock})
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	rec := `{"identityMap":{"Email":[{"id":"a@example.com"}]}}`
	start := clock.Now().UnixMilli()

	b1 := ingestLines(t, e, ds, rec)
	b2 := ingestLines(t, e, ds, rec) // same clock reading
	clock.Move(-time.Hour)           // the clock goes back
	b3 := ingestLines(t, e, ds, rec)
	clock.Move(2 * time.Hour)
	b4 := ingestLines(t, e, ds, rec)

	got := []int64{b1.IngestTime, b2.IngestTime, b3.IngestTime, b4.IngestTime}
	want := []int64{start, start + 1, start + 2, start + time.Hour.Milliseconds()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ingest times %v, want %v", got, want)
	}
	// A batch is never completed before it was ingested, nor updated before it was completed,
	// whatever the clock did.
	for i, b := range []*aepwire.Batch{b1, b2, b3, b4} {
		if b.Completed < b.IngestTime || b.Updated < b.Completed || b.Metrics.EndTime != b.Completed {
			t.Errorf("batch %d: ingested %d, completed %d, updated %d, metrics end %d", i+1, b.IngestTime, b.Completed, b.Updated,
				b.Metrics.EndTime)
		}
	}

	// The same holds for the batches an export writes.
	dest := newDataset(t, e, aepwire.SchemaProfileUnion, false)
	clock.Move(-time.Hour)
	j, err := e.CreateExportJob(context.Background(), aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: dest},
		Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}, "")
	if err != nil {
		t.Fatal(err)
	}
	runner := openEngine(t, Options{DataDir: e.DataDir(), Clock: clock, RunJobs: true})
	done := wait(t, runner, j.ID)
	out, err := e.GetBatch(context.Background(), done.Destination.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	if out.IngestTime <= b4.IngestTime || out.Completed < out.IngestTime || out.Updated < out.Completed {
		t.Errorf("exported batch: ingested %d (after %d), completed %d, updated %d", out.IngestTime, b4.IngestTime, out.Completed, out.Updated)
	}
}

func TestProfileStoreOrderAndRecordOrder(t *testing.T) {
	e, _ := openTestEngine(t)
	crm := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, crm,
		`{"identityMap":{"Email":[{"id":"b@example.com"}]},"n":1}`,
		`{"identityMap":{"CRMID":[{"id":"c1"}],"Email":[{"id":"a@example.com","primary":true}]},"n":2}`,
		`{"identityMap":{"Email":[{"id":"b@example.com"}]},"n":3}`,
	)
	ingestLines(t, e, crm, `{"identityMap":{"CRMID":[{"id":"c0"}]},"n":4}`, `{"identityMap":{"Email":[{"id":"b@example.com"}]},"n":5}`)
	expectStore(t, e,
		`CRMID:c0 {"identityMap":{"CRMID":[{"id":"c0"}]},"n":4}`,
		`Email:a@example.com {"identityMap":{"CRMID":[{"id":"c1"}],"Email":[{"id":"a@example.com","primary":true}]},"n":2}`,
		`Email:b@example.com {"identityMap":{"Email":[{"id":"b@example.com"}]},"n":1}`,
		`Email:b@example.com {"identityMap":{"Email":[{"id":"b@example.com"}]},"n":3}`,
		`Email:b@example.com {"identityMap":{"Email":[{"id":"b@example.com"}]},"n":5}`,
	)
}

func TestProfileStoreReadsManyRuns(t *testing.T) {
	e := openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 256})
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	var lines, want []string
	for i := range 40 {
		id := fmt.Sprintf("p%02d@example.com", (i*7)%40) // out of order in the file
		line := fmt.Sprintf(`{"identityMap":{"Email":[{"id":%q}]},"i":%d}`, id, i)
		lines = append(lines, line)
	}
	ingestLines(t, e, ds, lines...)
	for j := range 40 {
		for i := range 40 {
			if (i*7)%40 == j {
				want = append(want, fmt.Sprintf(`Email:p%02d@example.com %s`, j, lines[i]))
			}
		}
	}
	if runs := firstBatchRuns(t, e); runs < 10 {
		t.Errorf("a 256-byte run limit wrote %d runs, want one every few records", runs)
	}
	expectStore(t, e, want...)
}

func TestEventDeduplication(t *testing.T) {
	e, _ := openTestEngine(t)
	web := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	app := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	ev := func(id, ecid, v string) string {
		return fmt.Sprintf(`{"_id":%q,"timestamp":"2026-01-01T00:00:00Z","identityMap":{"ECID":[{"id":%q}]},"v":%q}`, id, ecid, v)
	}
	// Within a batch the later record wins.
	ingestLines(t, e, web, ev("e1", "A", "first"), ev("e2", "A", "kept"), ev("e1", "A", "second"))
	expectStore(t, e, "ECID:A "+ev("e2", "A", "kept"), "ECID:A "+ev("e1", "A", "second"))

	// A later batch of the same dataset supersedes the event entirely, even under another identity;
	// another dataset's event with the same _id is a different event.
	later := ingestLines(t, e, web, ev("e1", "B", "third"))
	ingestLines(t, e, app, ev("e1", "A", "app"))
	expectStore(t, e,
		"ECID:A "+ev("e2", "A", "kept"),
		"ECID:A "+ev("e1", "A", "app"),
		"ECID:B "+ev("e1", "B", "third"),
	)

	// Deleting the later batch brings the earlier event back.
	if err := e.DeleteBatch(context.Background(), later.ID); err != nil {
		t.Fatal(err)
	}
	expectStore(t, e,
		"ECID:A "+ev("e2", "A", "kept"),
		"ECID:A "+ev("e1", "A", "second"),
		"ECID:A "+ev("e1", "A", "app"),
	)
}

// Within a batch whose events span many runs, the latest record of each _id wins, wherever the
// runs put its earlier copies.
func TestEventDeduplicationAcrossRuns(t *testing.T) {
	e := openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 300})
	web := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	ev := func(id string, v int) string {
		return fmt.Sprintf(`{"_id":%q,"timestamp":"2026-01-01T00:00:00Z","identityMap":{"ECID":[{"id":"A"}]},"v":%d}`, id, v)
	}
	var lines []string
	latest := map[string]int{}
	for i := range 60 {
		id := fmt.Sprintf("e%d", (i*5)%7)
		lines = append(lines, ev(id, i))
		latest[id] = i
	}
	ingestLines(t, e, web, lines...)
	var want []string
	for i := range 60 {
		if latest[fmt.Sprintf("e%d", (i*5)%7)] == i {
			want = append(want, "ECID:A "+ev(fmt.Sprintf("e%d", (i*5)%7), i))
		}
	}
	if runs := firstBatchRuns(t, e); runs < 10 {
		t.Fatalf("a 300-byte run limit wrote %d runs, want many", runs)
	}
	expectStore(t, e, want...)
}

func TestOnlyProfileEnabledBatchesFeedTheStore(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	enabled := newDataset(t, e, aepwire.SchemaProfile, true)
	disabled := newDataset(t, e, aepwire.SchemaProfile, false)
	other := newDataset(t, e, "https://ns.example.com/orders", true)
	rec := func(id string) string { return fmt.Sprintf(`{"identityMap":{"Email":[{"id":%q}]}}`, id) }

	ingestLines(t, e, enabled, rec("in"))
	ingestLines(t, e, disabled, rec("before-enabling"))
	ingestLines(t, e, other, rec("other-schema"))
	tags := map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}
	if _, err := e.UpdateDataset(ctx, disabled, aepwire.DatasetPatch{Tags: &tags}); err != nil {
		t.Fatal(err)
	}
	ingestLines(t, e, disabled, rec("after-enabling"))
	expectStore(t, e, "Email:after-enabling "+rec("after-enabling"), "Email:in "+rec("in"))
}

func TestDeletion(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	crm := newDataset(t, e, aepwire.SchemaProfile, true)
	web := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	keep := ingestLines(t, e, crm, `{"identityMap":{"Email":[{"id":"keep"}]}}`)
	drop := ingestLines(t, e, crm, `{"identityMap":{"Email":[{"id":"drop"}]}}`)
	ev := ingestLines(t, e, web, `{"_id":"e","timestamp":"2026-01-01T00:00:00Z","identityMap":{"Email":[{"id":"keep"}]}}`)

	if err := e.DeleteBatch(ctx, drop.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetBatch(ctx, drop.ID); !aepwire.IsNotFound(err) {
		t.Errorf("deleted batch: %v, want 404", err)
	}
	if _, err := os.Stat(e.batchDir(drop.ID)); !os.IsNotExist(err) {
		t.Errorf("the deleted batch's directory is still there: %v", err)
	}
	if err := e.DeleteBatch(ctx, drop.ID); !aepwire.IsNotFound(err) {
		t.Errorf("deleting twice: %v, want 404", err)
	}
	expectStore(t, e,
		`Email:keep {"identityMap":{"Email":[{"id":"keep"}]}}`,
		`Email:keep {"_id":"e","timestamp":"2026-01-01T00:00:00Z","identityMap":{"Email":[{"id":"keep"}]}}`)

	if err := e.DeleteDataset(ctx, web); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetBatch(ctx, ev.ID); !aepwire.IsNotFound(err) {
		t.Errorf("batch of a deleted dataset: %v, want 404", err)
	}
	if _, err := os.Stat(e.batchDir(ev.ID)); !os.IsNotExist(err) {
		t.Errorf("the batch directory of a deleted dataset is still there: %v", err)
	}
	expectStore(t, e, `Email:keep {"identityMap":{"Email":[{"id":"keep"}]}}`)
	if _, err := e.GetBatch(ctx, keep.ID); err != nil {
		t.Errorf("the other dataset's batch: %v", err)
	}
}

func TestOrphanBatchDirectoriesAreCollected(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	live := ingestLines(t, e, ds, `{"identityMap":{"Email":[{"id":"a"}]}}`)
	// What a crash between deleting a batch's row and removing its files leaves behind.
	orphan := filepath.Join(dir, batchesDir, newBatchID())
	if err := os.MkdirAll(filepath.Join(orphan, batchFileDir), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = e.Close()

	e, err = Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan directory survived Open: %v", err)
	}
	if _, err := os.Stat(e.batchDir(live.ID)); err != nil {
		t.Errorf("a live batch's directory was removed: %v", err)
	}
}

// A batch a client created and never completed is left loading; once it has been left alone for
// abandonLoadingAfter, the next engine to open the store ends it abandoned and removes its files.
func TestBatchesLeftLoadingAreAbandoned(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	clock := newFakeClock()
	e, err := Open(ctx, Options{DataDir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	done := ingestLines(t, e, ds, `{"identityMap":{"Email":[{"id":"a"}]}}`)
	left, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UploadBatchFile(ctx, left.ID, ds, "p.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"b"}]}}`)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(abandonLoadingAfter - time.Minute)
	_ = e.Close()

	status := func(e *Engine, id string) string {
		t.Helper()
		b, err := e.GetBatch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return b.Status
	}
	// Not yet: a batch younger than the limit may still be completed by its client.
	e, err = Open(ctx, Options{DataDir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := status(e, left.ID); got != aepwire.BatchLoading {
		t.Fatalf("before the limit the batch is %s, want loading", got)
	}
	// An upload counts as activity: the day starts again from it.
	if err := e.UploadBatchFile(ctx, left.ID, ds, "p2.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"c"}]}}`)); err != nil {
		t.Fatal(err)
	}
	_ = e.Close()
	clock.Advance(2 * time.Minute)
	e, err = Open(ctx, Options{DataDir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := status(e, left.ID); got != aepwire.BatchLoading {
		t.Fatalf("a day after its creation but minutes after an upload the batch is %s, want loading", got)
	}
	_ = e.Close()

	clock.Advance(abandonLoadingAfter)
	e, err = Open(ctx, Options{DataDir: dir, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	b, err := e.GetBatch(ctx, left.ID)
	if err != nil || b.Status != aepwire.BatchAbandoned || len(b.Errors) != 1 || b.Errors[0].Code != codeBatchAbandoned ||
		!strings.Contains(b.Errors[0].Description, "left loading for 24 hours") || b.RecordCount != 0 {
		t.Fatalf("the batch left loading is %+v, %v; want it abandoned, saying why", b, err)
	}
	if _, err := os.Stat(e.batchDir(left.ID)); !os.IsNotExist(err) {
		t.Errorf("the abandoned batch's files are still there: %v", err)
	}
	if got := status(e, done.ID); got != aepwire.BatchSuccess {
		t.Errorf("the completed batch is %s, want success", got)
	}
	// It takes nothing more, and completing it changes nothing.
	if err := e.UploadBatchFile(ctx, left.ID, ds, "q.json", strings.NewReader(`{}`)); err == nil ||
		!strings.Contains(err.Error(), "abandoned") {
		t.Errorf("upload into the abandoned batch: %v, want a refusal naming its status", err)
	}
	if got, err := e.CompleteBatch(ctx, left.ID); err != nil || got.Status != aepwire.BatchAbandoned {
		t.Errorf("completing the abandoned batch: %+v, %v", got, err)
	}
	expectStore(t, e, `Email:a {"identityMap":{"Email":[{"id":"a"}]}}`)
}

// The helper process of the crash test: it ingests a batch, says "ready" on its standard output
// in the middle of writing the batch's profile segment, and stops dead there (SIGKILL from the
// test).
const crashEnv = "EXPORTENGINE_TEST_CRASH"

func init() {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return
	}
	// spec is "dataDir|batchID".
	dir, batch, _ := strings.Cut(spec, "|")
	runs := 0
	e, err := Open(context.Background(), Options{DataDir: dir, RunBytes: 4096, Hooks: Hooks{AfterSegmentRun: func() {
		if runs++; runs == 3 {
			fmt.Println("ready")
			waitForKill()
		}
	}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_, err = e.CompleteBatch(context.Background(), batch)
	fmt.Fprintln(os.Stderr, "the batch completed before the test could kill it:", err)
	os.Exit(3)
}

func TestCrashMidBatchLeavesNothingVisible(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, ds, `{"identityMap":{"Email":[{"id":"before"}]}}`)
	before := storeContents(t, e)

	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range 500 {
		fmt.Fprintf(&sb, `{"identityMap":{"Email":[{"id":"p%03d@example.com"}]},"i":%d}`+"\n", i, i)
	}
	if err := e.UploadBatchFile(ctx, b.ID, ds, "big.json", strings.NewReader(sb.String())); err != nil {
		t.Fatal(err)
	}

	killAtReady(t, fmt.Sprintf("%s=%s|%s", crashEnv, dir, b.ID))
	if _, err := os.Stat(filepath.Join(e.batchDir(b.ID), segment.FileName+".tmp")); err != nil {
		t.Fatalf("the helper was not in the middle of writing the segment: %v", err)
	}

	// Nothing of the batch is visible, from this engine or from a new one.
	for _, eng := range []*Engine{e, openEngine(t, Options{DataDir: dir})} {
		got, err := eng.GetBatch(ctx, b.ID)
		if err != nil || got.Status != aepwire.BatchLoading || got.RecordCount != 0 {
			t.Errorf("after the crash the batch is %+v, %v; want it still loading, with no records", got, err)
		}
		if after := storeContents(t, eng); !reflect.DeepEqual(after, before) {
			t.Errorf("after the crash the profile store holds %d records, want the %d from before", len(after), len(before))
		}
	}

	// Completing the batch again repairs it.
	done, err := e.CompleteBatch(ctx, b.ID)
	if err != nil || done.Status != aepwire.BatchSuccess || done.RecordCount != 500 {
		t.Fatalf("completing after the crash: %+v, %v", done, err)
	}
	if n := len(storeContents(t, e)); n != 501 {
		t.Errorf("profile store holds %d records after the repair, want 501", n)
	}
	if _, err := os.Stat(filepath.Join(e.batchDir(b.ID), segment.FileName+".tmp")); !os.IsNotExist(err) {
		t.Errorf("a temporary segment file is left: %v", err)
	}
}

// An export in primary identity order reads the bodies apart from the metadata, in its workers,
// and still checks them against their runs' checksums: a damaged body that is still JSON fails
// the export, as reading the run whole would.
func TestNoneExportChecksBodies(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true, RunBytes: 16 << 10})
	dir := t.TempDir()
	if _, err := sampledata.Generate(dir, sampledata.Options{Seed: 3, People: 300}); err != nil {
		t.Fatal(err)
	}
	crm := ingest(t, env.e, env.crm, filepath.Join(dir, sampledata.CRMFile))
	req := env.request()
	req.Fields = "personalEmail.address,loyalty.points"
	req.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultNone}
	export := func() *aepwire.ExportJob {
		t.Helper()
		j, err := env.e.CreateExportJob(context.Background(), req, "")
		if err != nil {
			t.Fatal(err)
		}
		return wait(t, env.e, j.ID)
	}
	if j := export(); j.Status != aepwire.JobSucceeded {
		t.Fatalf("the undamaged store: job ended %s: %+v", j.Status, j.Errors)
	}

	path := filepath.Join(env.e.batchDir(crm.ID), segment.FileName)
	seg, err := segment.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if seg.Runs() < 3 {
		t.Fatalf("%d runs; the test wants the damage in a middle one", seg.Runs())
	}
	start, end := seg.RunBodies(seg.Runs() / 2)
	seg.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := int(start + (end-start)/2)
	for data[at] < 'a' || data[at] > 'y' {
		at++
	}
	data[at]++ // a letter for another: the body is still JSON
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	j := export()
	if j.Status != aepwire.JobFailed || !strings.Contains(fmt.Sprint(j.Errors), "checksum") {
		t.Errorf("a damaged body: job ended %s: %+v; want it failed on the run's checksum", j.Status, j.Errors)
	}
}

// Records that no export reads (tombstoned events) lie between those it reads: a long stretch of
// them is read apart, only to be checked, and a damaged byte there is found all the same.
func TestBodiesBetweenReadRecordsAreChecked(t *testing.T) {
	e, _ := openTestEngine(t)
	web := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	ev := func(ecid string, n int) string {
		return fmt.Sprintf(`{"_id":"%s-dup","timestamp":"2026-01-01T00:00:00Z","identityMap":{"ECID":[{"id":%q}]},"pad":"%s","n":%d}`,
			ecid, ecid, strings.Repeat("x", 200), n)
	}
	var lines []string
	for n := range 40 { // 39 of them tombstoned: 10 KB between A's first record and B's
		lines = append(lines, ev("A", n))
	}
	lines = append(lines, ev("B", 100))
	b := ingestLines(t, e, web, lines...)
	expectStore(t, e, "ECID:A "+ev("A", 39), "ECID:B "+ev("B", 100))

	path := filepath.Join(e.batchDir(b.ID), segment.FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte(`"n":20}`))
	if at < 0 {
		t.Fatal("the tombstoned event is not in the segment")
	}
	data[at-3] = 'y' // in its padding
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readStore(e); !errors.Is(err, segment.ErrCorrupt) {
		t.Errorf("a damaged tombstoned event: %v, want ErrCorrupt", err)
	}
}

// A served engine, which runs for longer than a batch may be left loading, ends such batches as
// they go stale without being opened again (KeepTidy), and removes their uploads.
func TestKeptTidyEngineAbandonsBatchesLeftLoading(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	tidied := make(chan error)
	e := openEngine(t, Options{DataDir: t.TempDir(), Clock: clock, Hooks: Hooks{Tidied: func(err error) { tidied <- err }}})
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	left, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UploadBatchFile(ctx, left.ID, ds, "p.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"b"}]}}`)); err != nil {
		t.Fatal(err)
	}
	e.KeepTidy()
	look := func() string {
		t.Helper()
		clock.Advance(tidyEvery)
		if err := <-tidied; err != nil {
			t.Fatal(err)
		}
		b, err := e.GetBatch(ctx, left.ID)
		if err != nil {
			t.Fatal(err)
		}
		return b.Status
	}
	for range abandonLoadingAfter / tidyEvery {
		if got := look(); got != aepwire.BatchLoading {
			t.Fatalf("at %s, a batch left loading since %s ago is %s, want loading", clock.Now().Format(time.TimeOnly), abandonLoadingAfter, got)
		}
	}
	if got := look(); got != aepwire.BatchAbandoned {
		t.Fatalf("a batch left loading for longer than %s is %s, want abandoned", abandonLoadingAfter, got)
	}
	if _, err := os.Stat(e.batchDir(left.ID)); !os.IsNotExist(err) {
		t.Errorf("the abandoned batch's uploads are still there: %v", err)
	}
}
