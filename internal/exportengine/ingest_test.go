package exportengine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// newDataset creates a dataset for the given schema; profileEnabled tags it for the profile store.
func newDataset(t *testing.T, e *Engine, schema string, profileEnabled bool) string {
	t.Helper()
	req := aepwire.DatasetRequest{Name: "ds", SchemaRef: aepwire.SchemaRef{ID: schema}}
	if profileEnabled {
		req.Tags = map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}
	}
	ds, err := e.CreateDataset(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return ds.ID
}

// ingest runs a whole batch: create, upload each file under its base name, complete.
func ingest(t *testing.T, e *Engine, datasetID string, files ...string) *aepwire.Batch {
	t.Helper()
	ctx := context.Background()
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: datasetID})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = e.UploadBatchFile(ctx, b.ID, datasetID, filepath.Base(path), f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.CompleteBatch(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	return done
}

// ingestLines ingests records given inline, as one JSON Lines file.
func ingestLines(t *testing.T, e *Engine, datasetID string, lines ...string) *aepwire.Batch {
	t.Helper()
	path := filepath.Join(t.TempDir(), "records.json")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return ingest(t, e, datasetID, path)
}

// failure is the expected report of a failed record.
type failure struct {
	file string
	pos  int64
	code string
}

func failures(b *aepwire.Batch) []failure {
	var out []failure
	for _, e := range b.Errors {
		var pos int64
		if len(e.Rows) > 0 {
			pos = e.Rows[0]
		}
		out = append(out, failure{e.File, pos, e.Code})
	}
	return out
}

func TestIngestValidation(t *testing.T) {
	big := func(size int, tmpl string) string {
		// tmpl has one %s, filled with padding so that the line is exactly size bytes.
		pad := size - len(fmt.Sprintf(tmpl, ""))
		return fmt.Sprintf(tmpl, strings.Repeat("x", pad))
	}
	profileAt := func(size int) string {
		return big(size, `{"identityMap":{"Email":[{"id":"big@example.com"}]},"pad":"%s"}`)
	}
	eventAt := func(size int) string {
		return big(size, `{"_id":"big","timestamp":"2026-01-01T00:00:00Z","identityMap":{"ECID":[{"id":"e"}]},"pad":"%s"}`)
	}
	writeLines := func(t *testing.T, lines ...string) string {
		path := filepath.Join(t.TempDir(), "generated.json")
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fixture := func(name string) func(*testing.T) []string {
		return func(*testing.T) []string { return []string{filepath.Join("testdata", "ingest", name)} }
	}

	for _, tc := range []struct {
		name     string
		schema   string
		files    func(t *testing.T) []string
		status   string
		accepted int64
		failed   []failure
	}{
		{
			name:   "profile lines: BOM, CRLF, blank lines, invalid JSON, non-objects, no record.Identity, control characters",
			schema: aepwire.SchemaProfile, files: fixture("profiles_mixed.json"),
			status: aepwire.BatchSuccess, accepted: 3,
			failed: []failure{{"", 4, record.CodeInvalidJSON}, {"", 5, record.CodeNotObject}, {"", 6, record.CodeNotObject},
				{"", 7, record.CodeNoIdentity}, {"", 8, record.CodeNoIdentity}, {"", 10, record.CodeInvalidJSON}},
		},
		{
			name:   "event lines: _id and timestamp rules, check order",
			schema: aepwire.SchemaExperienceEvent, files: fixture("events_mixed.json"),
			status: aepwire.BatchSuccess, accepted: 2,
			failed: []failure{{"", 2, record.CodeNoEventID}, {"", 3, record.CodeNoEventID}, {"", 4, record.CodeNoEventID},
				{"", 5, record.CodeBadTimestamp}, {"", 6, record.CodeBadTimestamp}, {"", 8, record.CodeNoIdentity}, {"", 9, record.CodeNotObject}},
		},
		{
			name:   "a file that parses whole as an array: positions are 1-based indexes",
			schema: aepwire.SchemaProfile, files: fixture("profiles_array.json"),
			status: aepwire.BatchSuccess, accepted: 2,
			failed: []failure{{"", 2, record.CodeNoIdentity}, {"", 3, record.CodeNotObject}},
		},
		{
			name:   "a first line that is an array does not make the file an array",
			schema: aepwire.SchemaProfile, files: fixture("looks_like_array.json"),
			status: aepwire.BatchSuccess, accepted: 1,
			failed: []failure{{"", 1, record.CodeNotObject}},
		},
		{
			name:   "no valid record: the batch fails",
			schema: aepwire.SchemaProfile, files: fixture("not_json.csv"),
			status: aepwire.BatchFailed, accepted: 0,
			failed: []failure{{"", 1, record.CodeInvalidJSON}, {"", 2, record.CodeInvalidJSON}},
		},
		{
			name:   "several files: positions restart per file, and errors name the file",
			schema: aepwire.SchemaProfile,
			files: func(*testing.T) []string {
				return []string{filepath.Join("testdata", "ingest", "profiles_array.json"), filepath.Join("testdata", "ingest", "looks_like_array.json")}
			},
			status: aepwire.BatchSuccess, accepted: 3,
			failed: []failure{{"looks_like_array.json", 1, record.CodeNotObject}, {"profiles_array.json", 2, record.CodeNoIdentity}, {"profiles_array.json", 3, record.CodeNotObject}},
		},
		{
			name:   "profile size limit: 100 KB is allowed, one byte more is not, and not-an-object comes first",
			schema: aepwire.SchemaProfile,
			files: func(t *testing.T) []string {
				return []string{writeLines(t, profileAt(100*1024), profileAt(100*1024+1), "["+strings.Repeat(" ", 200*1024)+"]")}
			},
			status: aepwire.BatchSuccess, accepted: 1,
			failed: []failure{{"", 2, record.CodeTooLarge}, {"", 3, record.CodeNotObject}},
		},
		{
			name:   "event size limit: 10 KB",
			schema: aepwire.SchemaExperienceEvent,
			files: func(t *testing.T) []string {
				return []string{writeLines(t, eventAt(10*1024), eventAt(10*1024+1))}
			},
			status: aepwire.BatchSuccess, accepted: 1,
			failed: []failure{{"", 2, record.CodeTooLarge}},
		},
		{
			name:   "other schemas: any JSON object is accepted",
			schema: "https://ns.example.com/schemas/orders",
			files: func(t *testing.T) []string {
				return []string{writeLines(t, `{"order":1}`, `{"order":2,"identityMap":{}}`, `[1]`)}
			},
			status: aepwire.BatchSuccess, accepted: 2,
			failed: []failure{{"", 3, record.CodeNotObject}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _ := openTestEngine(t)
			ds := newDataset(t, e, tc.schema, true)
			b := ingest(t, e, ds, tc.files(t)...)
			if b.Status != tc.status || b.RecordCount != tc.accepted || b.FailedRecordCount != int64(len(tc.failed)) {
				t.Errorf("status %s, %d accepted, %d failed; want %s, %d, %d (errors %+v)",
					b.Status, b.RecordCount, b.FailedRecordCount, tc.status, tc.accepted, len(tc.failed), b.Errors)
			}
			if got := failures(b); !reflect.DeepEqual(got, tc.failed) {
				t.Errorf("failures:\n got %v\nwant %v", got, tc.failed)
			}
			for _, be := range b.Errors {
				if be.Description == "" {
					t.Errorf("error %+v has no reason", be)
				}
			}
		})
	}
}

func TestIngestErrorReasons(t *testing.T) {
	e, _ := openTestEngine(t)
	ds := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	b := ingestLines(t, e, ds,
		`{"_id":"e","timestamp":"2026-01-01","identityMap":{"ECID":[{"id":"x"}]}}`,
		`true`,
		`{"_id":"e","timestamp":"2026-01-01T00:00:00Z"}`,
		"{\"_id\":\"e\xff\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"identityMap\":{\"ECID\":[{\"id\":\"x\"}]}}",
		`{"_id":"é","timestamp":"2026-01-01T00:00:00Z","identityMap":{"ECID":[{"id":"x"}]}}`,
	)
	want := []string{
		`the event timestamp "2026-01-01" is not an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z`,
		`the record is a JSON boolean, not an object`,
		`the record has no identity: it needs an identityMap entry or an identities[] entry with a non-empty string id`,
		`not valid JSON: the text is not UTF-8 at byte 10: save the file as UTF-8`,
	}
	var got []string
	for _, be := range b.Errors {
		got = append(got, be.Description)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reasons:\n got %q\nwant %q", got, want)
	}
}

// A record with an identity whose namespace is over record.MaxNamespaceBytes fails alone, with a
// reason that names the field and the limit; the records around it are ingested.
func TestIngestLongNamespaceFailsItsRecordAlone(t *testing.T) {
	e, _ := openTestEngine(t)
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	long := strings.Repeat("n", record.MaxNamespaceBytes+1)
	b := ingestLines(t, e, ds,
		`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`,
		`{"identityMap":{"`+long+`":[{"id":"b","primary":true}]}}`,
		`{"identityMap":{"`+long[1:]+`":[{"id":"c"}]}}`,
	)
	if got, want := failures(b), []failure{{"", 2, record.CodeLongNamespace}}; b.Status != aepwire.BatchSuccess ||
		b.RecordCount != 2 || !reflect.DeepEqual(got, want) {
		t.Fatalf("batch %s, %d accepted, failures %v; want success, 2, %v", b.Status, b.RecordCount, got, want)
	}
	if d := b.Errors[0].Description; !strings.Contains(d, "identityMap namespace") || !strings.Contains(d, "257 bytes long, more than the 256 bytes") {
		t.Errorf("reason %q", d)
	}
}

// The errors of a batch quote what its records hold cut short: a hundred events whose timestamps
// are 9 KB of escapes make errors of a few hundred bytes each.
func TestIngestErrorsQuoteRecordsShort(t *testing.T) {
	e, _ := openTestEngine(t)
	ds := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprintf(`{"_id":"e%d","timestamp":"%s","identityMap":{"Email":[{"id":"a@example.com"}]}}`,
			i, strings.Repeat(`\u0001`, 1600)))
	}
	b := ingestLines(t, e, ds, lines...)
	var size int
	for _, be := range b.Errors {
		size += len(be.Description)
	}
	if b.FailedRecordCount != 100 || len(b.Errors) != 100 || b.Errors[0].Code != record.CodeBadTimestamp || size > 100*(1<<10) {
		t.Errorf("%d failed, %d errors of %d bytes in all (the first: %.200q); want 100 of at most 1 KiB each",
			b.FailedRecordCount, len(b.Errors), size, b.Errors[0].Description)
	}
}

func TestIngestReportsAtMost100Errors(t *testing.T) {
	e, _ := openTestEngine(t)
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	var lines []string
	for range 250 {
		lines = append(lines, `{"no":"identity"}`)
	}
	lines = append(lines, `{"identityMap":{"Email":[{"id":"ok@example.com"}]}}`)
	b := ingestLines(t, e, ds, lines...)
	if b.FailedRecordCount != 250 || len(b.Errors) != 100 || b.Errors[99].Rows[0] != 100 || b.RecordCount != 1 {
		t.Errorf("failed %d, %d errors (last at %v), accepted %d; want 250, 100 (last at line 100), 1",
			b.FailedRecordCount, len(b.Errors), b.Errors[len(b.Errors)-1].Rows, b.RecordCount)
	}
}

func TestIngestRefusals(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	union := newDataset(t, e, aepwire.SchemaProfileUnion, false)
	profiles := newDataset(t, e, aepwire.SchemaProfile, true)

	if _, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: union}); aepwire.StatusOf(err) != 400 ||
		!strings.Contains(err.Error(), "profile union schema") {
		t.Errorf("batch into a union dataset: %v, want a 400 naming the union schema", err)
	}
	if _, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: "000000000000000000000000"}); aepwire.StatusOf(err) != 400 {
		t.Errorf("batch into a missing dataset: %v, want 400", err)
	}
	if _, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: profiles, InputFormat: &aepwire.InputFormat{Format: "parquet"}}); aepwire.StatusOf(err) != 400 {
		t.Errorf("parquet batch: %v, want 400", err)
	}
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: profiles})
	if err != nil {
		t.Fatal(err)
	}
	for name, rule := range map[string]string{
		"":                       "it is empty",
		"../escape.json":         "path separator",
		"a/b.json":               "path separator",
		`a\b.json`:               "path separator",
		".hidden":                "starts with a dot",
		"nul\x00.json":           "control character",
		"line\nbreak.json":       "control character",
		strings.Repeat("n", 300): "300 bytes long, and a name may have at most 255",
		"bad\xffutf8.json":       "not valid UTF-8",
	} {
		err := e.UploadBatchFile(ctx, b.ID, profiles, name, strings.NewReader("{}"))
		if aepwire.StatusOf(err) != 400 || !strings.Contains(err.Error(), rule) || !strings.Contains(err.Error(), "profiles.json") {
			t.Errorf("upload named %q: %v, want a 400 saying %q and how to name it", name, err, rule)
		}
		if _, err := e.OpenBatchFile(ctx, b.ID, name); aepwire.StatusOf(err) != 400 {
			t.Errorf("open named %q: %v, want 400", name, err)
		}
	}
	if entries, err := os.ReadDir(filepath.Join(e.batchDir(b.ID), batchFileDir)); err != nil || len(entries) != 0 {
		t.Errorf("refused uploads left %v (%v)", entries, err)
	}
	done, err := e.CompleteBatch(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != aepwire.BatchFailed || len(done.Errors) != 1 || done.Errors[0].Code != codeNoFiles {
		t.Errorf("batch without files: %+v, want failed with %s", done, codeNoFiles)
	}
	if err := e.UploadBatchFile(ctx, b.ID, profiles, "late.json", strings.NewReader("{}")); aepwire.StatusOf(err) != 400 {
		t.Errorf("upload into a completed batch: %v, want 400", err)
	}
	again, err := e.CompleteBatch(ctx, b.ID)
	if err != nil || again.Status != aepwire.BatchFailed || again.Completed != done.Completed {
		t.Errorf("completing twice: %+v, %v; want the batch as it was", again, err)
	}
}

func TestBatchObject(t *testing.T) {
	e, clock := openTestEngine(t)
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b := ingest(t, e, ds, filepath.Join("testdata", "ingest", "profiles_array.json"))
	now := clock.Now().UnixMilli()
	if b.DatasetID() != ds || b.ID == "" || len(b.ID) != 32 || b.Created != now || b.Completed != now || b.IngestTime != now ||
		b.InputFormat.Format != "json" || b.Size != 220 || b.Metrics == nil || b.Metrics.RecordsRead != 4 || b.Metrics.RecordsWritten != 2 {
		t.Errorf("batch = %+v (metrics %+v)", b, b.Metrics)
	}
	list, err := e.ListBatches(context.Background(), ds)
	if err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("ListBatches = %v, %v", list, err)
	}
}

// An upload that was interrupted (its process killed) leaves its temporary file beside the
// batch's files; completing the batch ingests the files only.
func TestInterruptedUploadIsNotIngested(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UploadBatchFile(ctx, b.ID, ds, "p.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"a"}]}}`+"\n")); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(e.batchDir(b.ID), batchFileDir, ".upload-123")
	if err := os.WriteFile(partial, []byte(`{"identityMap":{"Email":[{"id":"b"}]}}`+"\n"+`{"identityMap":{"Em`), 0o644); err != nil {
		t.Fatal(err)
	}
	done, err := e.CompleteBatch(ctx, b.ID)
	if err != nil || done.RecordCount != 1 || done.FailedRecordCount != 0 {
		t.Fatalf("completed with a partial upload beside the file: %+v, %v; want the 1 record of p.json", done, err)
	}
}

// copyWritingBack copies an upload step by step, starting each step's writeback: from a file
// (which the kernel copies) and from any other reader, the copy is whole across steps, stops at
// its limit, and reports a failing reader's error with what it copied before it.
func TestCopyWritingBack(t *testing.T) {
	dir := t.TempDir()
	data := make([]byte, 2*uploadStep+123)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	copyOf := func(name string, r io.Reader, limit int64) ([]byte, int64, error) {
		t.Helper()
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		n, err := copyWritingBack(f, r, 0, limit, func() error { return nil })
		got, rerr := os.ReadFile(f.Name())
		if rerr != nil {
			t.Fatal(rerr)
		}
		return got, n, err
	}
	for _, c := range []struct {
		name  string
		limit int64
		want  int
	}{
		{"whole", math.MaxInt64, len(data)},
		{"to the limit", uploadStep + 5, uploadStep + 5},
		{"a limit of the size", int64(len(data)), len(data)},
		{"a limit of a step", uploadStep, uploadStep},
	} {
		in, err := os.Open(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			what string
			r    io.Reader
		}{{"a file", in}, {"a reader", bytes.NewReader(data)}} {
			if _, err := in.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			got, n, err := copyOf("dst", r.r, c.limit)
			if err != nil || n != int64(c.want) || !bytes.Equal(got, data[:c.want]) {
				t.Errorf("%s, from %s: copied %d bytes (%d in the file, the same: %v), %v; want the first %d",
					c.name, r.what, n, len(got), bytes.Equal(got, data[:min(len(got), c.want)]), err, c.want)
			}
		}
		in.Close()
	}
	broken := errors.New("the connection broke")
	got, n, err := copyOf("broken", io.MultiReader(bytes.NewReader(data[:uploadStep+9]), iotest.ErrReader(broken)), math.MaxInt64)
	if !errors.Is(err, broken) || n != uploadStep+9 || !bytes.Equal(got, data[:n]) {
		t.Errorf("from a reader that fails after %d bytes: copied %d, %v; want them and its error", uploadStep+9, n, err)
	}
}

// The engine holds a batch to Options.MaxBatchBytes and MaxBatchFiles, counting what the batch's
// directory holds: a refused upload leaves the batch as it was, and the limits hold across
// engines and restarts, and between uploads running at once.
func TestBatchLimits(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{DataDir: dir, Clock: newFakeClock(), MaxBatchBytes: 100, MaxBatchFiles: 2}
	e := openEngine(t, opts)
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	upload := func(e *Engine, name string, size int) error {
		return e.UploadBatchFile(ctx, b.ID, ds, name, strings.NewReader(strings.Repeat("x", size)))
	}
	files := func() map[string]int64 {
		t.Helper()
		entries, err := os.ReadDir(filepath.Join(e.batchDir(b.ID), batchFileDir))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, ent := range entries {
			info, err := ent.Info()
			if err != nil {
				t.Fatal(err)
			}
			out[ent.Name()] = info.Size()
		}
		return out
	}
	refused := func(err error, limit string) {
		t.Helper()
		if aepwire.StatusOf(err) != 413 || !strings.Contains(err.Error(), limit) || !strings.Contains(err.Error(), "another batch") {
			t.Errorf("got %v, want a 413 naming %s and the fix", err, limit)
		}
	}
	if err := upload(e, "a.json", 60); err != nil {
		t.Fatal(err)
	}
	refused(upload(e, "b.json", 50), "100 bytes")
	if err := upload(e, "a.json", 90); err != nil { // a replaced file counts once
		t.Errorf("replacing a.json: %v", err)
	}
	if err := upload(e, "c.json", 10); err != nil {
		t.Errorf("c.json, up to the limit: %v", err)
	}
	// Another engine on the directory (a restarted server) counts the same files.
	other := openEngine(t, opts)
	refused(upload(other, "d.json", 1), "2 files")
	refused(upload(other, "c.json", 11), "100 bytes")
	if got := files(); len(got) != 2 || got["a.json"] != 90 || got["c.json"] != 10 {
		t.Errorf("after the refusals the batch holds %v, want a.json (90) and c.json (10)", got)
	}

	// Two uploads at once that fit alone but not together: one is stored, one refused.
	b, err = e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	for i, eng := range []*Engine{e, other} {
		go func() { errs <- upload(eng, fmt.Sprintf("p%d.json", i), 60) }()
	}
	var stored, tooLarge int
	for range 2 {
		switch err := <-errs; {
		case err == nil:
			stored++
		case aepwire.StatusOf(err) == 413:
			tooLarge++
		default:
			t.Errorf("upload: %v", err)
		}
	}
	if stored != 1 || tooLarge != 1 || len(files()) != 1 {
		t.Errorf("%d stored and %d refused, the batch holds %v; want one of each", stored, tooLarge, files())
	}
}

func TestSizedBuffer(t *testing.T) {
	for _, c := range []struct {
		size  int64
		limit int
		want  int
	}{
		{0, 1 << 20, 4096},
		{100, 1 << 20, 4096},
		{65_587, 1 << 20, 65_588},
		{1 << 20, 1 << 20, 1 << 20},
		{5 << 30, 1 << 20, 1 << 20},
	} {
		if got := sizedBuffer(c.size, c.limit); got != c.want {
			t.Errorf("sizedBuffer(%d, %d) = %d, want %d", c.size, c.limit, got, c.want)
		}
	}
}

// The size given to parallelParse only sizes its first block: a wrong one (a file that grew or
// shrank since it was measured) reads the same records in the same order.
func TestParallelParseSizeHint(t *testing.T) {
	var lines [][]byte
	total := 0
	for i := 0; total < 2*blockBytes+blockBytes/2; i++ {
		l := fmt.Appendf(nil, `{"_id":"r%d","identityMap":{"CRMID":[{"id":"c%d","primary":true}]},"pad":%q}`, i, i, strings.Repeat("x", i%700))
		lines = append(lines, l)
		total += len(l) + 1
	}
	read := func(fn func(pos int64, raw []byte) error) error {
		for i, l := range lines {
			if err := fn(int64(i+1), l); err != nil {
				return err
			}
		}
		return nil
	}
	parse := func(size int64) []int64 {
		var got []int64
		err := parallelParse(record.Fragment, size, read, func(pos int64, r *record.Record, rerr *record.Error) error {
			if rerr != nil {
				return fmt.Errorf("line %d refused: %s", pos, rerr.Reason)
			}
			got = append(got, pos)
			return nil
		}, nil)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		return got
	}
	want := parse(0)
	if len(want) != len(lines) {
		t.Fatalf("read %d records of %d", len(want), len(lines))
	}
	for _, size := range []int64{1, 100, int64(total) / 3, int64(total), 10 * int64(total)} {
		if got := parse(size); !reflect.DeepEqual(got, want) {
			t.Errorf("size %d: read positions %v..., want %v...", size, got[:min(5, len(got))], want[:5])
		}
	}
}

// Uploads and new export jobs leave Options.DiskReserve free: with less free, an upload is
// refused with a 507 that says what to do, or stopped at the step of its copy that finds it so,
// and leaves the batch as it was; an export job is not created.
func TestWritesLeaveTheDiskReserve(t *testing.T) {
	ctx := context.Background()
	const reserve = 1 << 30
	e := openEngine(t, Options{DataDir: t.TempDir(), Clock: newFakeClock(), DiskReserve: reserve})
	var free atomic.Uint64
	var looks atomic.Int64
	e.freeSpace = func(string) (uint64, error) { looks.Add(1); return free.Load(), nil }
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	noRoom := func(what string, err error) {
		t.Helper()
		if aepwire.StatusOf(err) != http.StatusInsufficientStorage || !strings.Contains(err.Error(), "less than the 1 GiB it keeps free") ||
			!strings.Contains(err.Error(), "delete batches or datasets") {
			t.Errorf("%s: %v, want a 507 naming the reserve and the fix", what, err)
		}
	}
	line := `{"identityMap":{"Email":[{"id":"a@example.com","primary":true}]}}` + "\n"
	free.Store(reserve)
	if err := e.UploadBatchFile(ctx, b.ID, ds, "a.json", strings.NewReader(line)); err != nil {
		t.Fatalf("with the reserve free: %v", err)
	}
	free.Store(reserve - 1)
	noRoom("an upload", e.UploadBatchFile(ctx, b.ID, ds, "b.json", strings.NewReader(line)))
	_, err = e.CreateExportJob(ctx, aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: newDataset(t, e, aepwire.SchemaProfileUnion, false)},
		Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}, "")
	noRoom("an export job", err)
	// Room at the start, and none once the first step of the copy is written: the upload stops
	// there, reading no more of its body.
	free.Store(reserve)
	looks.Store(0)
	body := &countingReader{r: strings.NewReader(strings.Repeat(line, 3*uploadStep/len(line)))}
	e.freeSpace = func(string) (uint64, error) {
		if looks.Add(1) > 1 {
			return reserve - 1, nil
		}
		return reserve, nil
	}
	noRoom("an upload that fills the disk", e.UploadBatchFile(ctx, b.ID, ds, "c.json", body))
	if body.n > uploadStep+32<<10 {
		t.Errorf("the stopped upload read %d bytes, want one step of %d", body.n, uploadStep)
	}
	entries, err := os.ReadDir(filepath.Join(e.batchDir(b.ID), batchFileDir))
	if err != nil || len(entries) != 1 || entries[0].Name() != "a.json" {
		t.Errorf("the batch holds %v (%v), want a.json alone", entries, err)
	}
}

// countingReader counts what is read of r.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// DeleteBatchIf gives the batch's status, as the deletion's transaction reads it, to its check:
// a check that refuses leaves the batch, its records and its files as they were.
func TestDeleteBatchIfChecksTheStatusItDeletes(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b := ingestLines(t, e, ds, `{"identityMap":{"Email":[{"id":"a@example.com","primary":true}]}}`)
	refused := errors.New("not this one")
	var seen string
	err := e.DeleteBatchIf(ctx, b.ID, func(status string) error { seen = status; return refused })
	if !errors.Is(err, refused) || seen != aepwire.BatchSuccess {
		t.Fatalf("DeleteBatchIf refused: %v, status seen %q", err, seen)
	}
	if got, err := e.GetBatch(ctx, b.ID); err != nil || got.Status != aepwire.BatchSuccess || got.RecordCount != 1 {
		t.Fatalf("the batch after a refused deletion: %+v, %v", got, err)
	}
	if _, err := os.Stat(e.batchDir(b.ID)); err != nil {
		t.Fatalf("the batch's files after a refused deletion: %v", err)
	}
	if err := e.DeleteBatchIf(ctx, b.ID, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetBatch(ctx, b.ID); !aepwire.IsNotFound(err) {
		t.Fatalf("the batch after its deletion: %v", err)
	}
}
