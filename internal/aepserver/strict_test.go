package aepserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

func jobRequest(dest string) string {
	return `{"destination":{"datasetId":"` + dest + `"},"schema":{"name":"_xdm.context.profile"}}`
}

// AEP has no idempotency key: two POSTs with the same key start two jobs. The served engine's
// own profile keeps its documented extension.
func TestStrictIgnoresIdempotencyKey(t *testing.T) {
	for _, strict := range []bool{false, true} {
		f := newFixtureOf(t, Options{Strict: strict}, strict, false)
		dest := f.exportDataset(t)
		var ids []int64
		for range 2 {
			resp := f.call(t, "POST", "/data/core/ups/export/jobs", jobRequest(dest), map[string]string{"Idempotency-Key": "k-1"})
			var job aepwire.ExportJob
			decodeJSON(t, resp, &job)
			ids = append(ids, job.ID)
		}
		if same := ids[0] == ids[1]; same == strict {
			t.Errorf("strict %v: two POSTs with one key made jobs %v", strict, ids)
		}
	}
}

// What AEP reports for a cancelled job is not documented, and its status enum has no CANCELLED:
// the strict profile makes a cancelled job disappear, as DELETE /export/jobs/{id} suggests.
func TestStrictNeverReportsCancelled(t *testing.T) {
	f := newFixtureOf(t, Options{Strict: true}, true, false)
	dest := f.exportDataset(t)
	resp := f.call(t, "POST", "/data/core/ups/export/jobs", jobRequest(dest), nil)
	var job aepwire.ExportJob
	decodeJSON(t, resp, &job)
	id := strconv.FormatInt(job.ID, 10)
	if resp := f.call(t, "DELETE", "/data/core/ups/export/jobs/"+id, "", nil); resp.StatusCode != 200 {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if got, _ := f.engine.GetExportJob(context.Background(), job.ID); got == nil || got.Status != aepwire.JobCancelled {
		t.Fatalf("the engine has %+v, want the job CANCELLED", got)
	}
	if resp := f.call(t, "GET", "/data/core/ups/export/jobs/"+id, "", nil); resp.StatusCode != 404 {
		t.Errorf("GET of the cancelled job: %d, want 404", resp.StatusCode)
	}
	for _, q := range []string{"", "?status=FAILED"} {
		resp := f.call(t, "GET", "/data/core/ups/export/jobs"+q, "", nil)
		var list aepwire.ExportJobList
		decodeJSON(t, resp, &list)
		if len(list.Records) != 0 || list.Page.PageSize != 0 {
			t.Errorf("list%s shows %+v", q, list.Records)
		}
	}
}

// The strict profile sends AEP's shapes, without the served engine's extensions.
func TestStrictSendsAEPShapes(t *testing.T) {
	f := newFixtureOf(t, Options{Strict: true}, true, true)
	ctx := context.Background()
	batchID := f.ingest(t)
	// The batch: rows as strings, no ingestTime, no file, completed no earlier than the ingest time.
	resp := f.call(t, "GET", "/data/foundation/catalog/batches/"+batchID, "", nil)
	var raw map[string]map[string]any
	decodeJSON(t, resp, &raw)
	b := raw[batchID]
	if _, ok := b["ingestTime"]; ok {
		t.Errorf("the batch reports ingestTime: %v", b)
	}
	errs, _ := b["errors"].([]any)
	if len(errs) != 1 {
		t.Fatalf("errors: %v", b["errors"])
	}
	e := errs[0].(map[string]any)
	if _, ok := e["file"]; ok || !reflect2(e["rows"], []any{"3"}) {
		t.Errorf("the batch error is %v, want rows [\"3\"] and no file", e)
	}
	engineBatch, _ := f.engine.GetBatch(ctx, batchID)
	if c, _ := b["completed"].(float64); int64(c) < engineBatch.IngestTime {
		t.Errorf("completed %v is before the ingest time %d", b["completed"], engineBatch.IngestTime)
	}
	// A finished job: no warnings, no counters of the engine's own.
	dest := f.exportDataset(t)
	resp = f.call(t, "POST", "/data/core/ups/export/jobs", `{"destination":{"datasetId":"`+dest+`","segmentPerBatch":false},`+
		`"schema":{"name":"_xdm.context.profile"},"additionalFields":{"eventList":{}}}`, nil)
	var job aepwire.ExportJob
	decodeJSON(t, resp, &job)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if j, err := f.engine.WaitExportJob(wctx, job.ID, nil); err != nil || j.Status != aepwire.JobSucceeded {
		t.Fatalf("the job: %+v, %v", j, err)
	}
	resp = f.call(t, "GET", "/data/core/ups/export/jobs/"+strconv.FormatInt(job.ID, 10), "", nil)
	var doc map[string]any
	decodeJSON(t, resp, &doc)
	metrics := doc["metrics"].(map[string]any)
	for _, k := range []string{"exportedEventCounter", "excludedProfileCount", "bytesWritten"} {
		if _, ok := metrics[k]; ok {
			t.Errorf("metrics has %s: %v", k, metrics)
		}
	}
	if _, ok := metrics["totalExportedProfileCounter"]; !ok {
		t.Errorf("metrics lost AEP's own totalExportedProfileCounter: %v", metrics)
	}
	if _, ok := doc["warnings"]; ok {
		t.Errorf("the job has warnings: %v", doc["warnings"])
	}
}

// destination.batches goes out as the guides show it: an array, one status a string.
func TestStrictSegmentBatchesShape(t *testing.T) {
	f := newFixtureOf(t, Options{Strict: true}, false, false)
	dest := f.exportDataset(t)
	resp := f.call(t, "POST", "/data/core/ups/export/jobs", `{"destination":{"datasetId":"`+dest+`","segmentPerBatch":true},`+
		`"schema":{"name":"_xdm.context.profile"},"filter":{"segments":[{"segmentId":"s1","status":["exited"]},{"segmentId":"s2"}]}}`, nil)
	var doc struct {
		Destination struct {
			Batches []map[string]any `json:"batches"`
		} `json:"destination"`
	}
	decodeJSON(t, resp, &doc)
	bs := doc.Destination.Batches
	if len(bs) != 2 || bs[0]["status"] != "exited" || !reflect2(bs[1]["status"], []any{"realized", "existing"}) {
		t.Errorf("destination.batches = %v", bs)
	}
}

// What AEP does not take, the strict profile refuses, so that a client that sends it fails here.
func TestStrictRefusesWhatAEPDoesNotTake(t *testing.T) {
	f := newFixtureOf(t, Options{Strict: true}, false, false)
	dest := f.exportDataset(t)
	for name, body := range map[string]string{
		"fields shorthand": `{"destination":{"datasetId":"` + dest + `"},"schema":{"name":"_xdm.context.profile"},"fields":"person(name,gender)"}`,
		"spaces in fields": `{"destination":{"datasetId":"` + dest + `"},"schema":{"name":"_xdm.context.profile"},"fields":"a, b"}`,
		"event fields shorthand": `{"destination":{"datasetId":"` + dest + `"},"schema":{"name":"_xdm.context.profile"},` +
			`"additionalFields":{"eventList":{"fields":"environment(browserDetails)"}}}`,
	} {
		resp := f.call(t, "POST", "/data/core/ups/export/jobs", body, nil)
		text, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 400 || !bytes.Contains(text, []byte("fields")) {
			t.Errorf("%s: %d %s, want 400 naming fields", name, resp.StatusCode, text)
		}
	}
	for _, st := range []string{"PROCESSING", "CANCELLED"} {
		if resp := f.call(t, "GET", "/data/core/ups/export/jobs?status="+st, "", nil); resp.StatusCode != 400 {
			t.Errorf("list status=%s: %d, want 400", st, resp.StatusCode)
		}
	}
	// A JSON array file, in a batch not created for multi-line JSON.
	ds, _ := f.engine.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	for _, multiLine := range []bool{false, true} {
		resp := f.call(t, "POST", "/data/foundation/import/batches",
			`{"datasetId":"`+ds.ID+`","inputFormat":{"format":"json","isMultiLineJson":`+strconv.FormatBool(multiLine)+`}}`, nil)
		var b aepwire.Batch
		decodeJSON(t, resp, &b)
		resp = f.call(t, "PUT", "/data/foundation/import/batches/"+b.ID+"/datasets/"+ds.ID+"/files/a.json",
			"  [\n"+strings.ReplaceAll(strings.TrimSpace(twoProfiles), "\n", ",\n")+"\n]\n", map[string]string{"Content-Type": "application/octet-stream"})
		if want := map[bool]int{false: 400, true: 200}[multiLine]; resp.StatusCode != want {
			text, _ := io.ReadAll(resp.Body)
			t.Errorf("a JSON array in a batch with isMultiLineJson %v: %d %s, want %d", multiLine, resp.StatusCode, text, want)
		}
	}
	// The same array as a large file's first part.
	resp := f.call(t, "POST", "/data/foundation/import/batches", `{"datasetId":"`+ds.ID+`","inputFormat":{"format":"json"}}`, nil)
	var b aepwire.Batch
	decodeJSON(t, resp, &b)
	big := "/data/foundation/import/batches/" + b.ID + "/datasets/" + ds.ID + "/files/big.json"
	if resp := f.call(t, "POST", big+"?action=INITIALIZE", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("INITIALIZE: %d", resp.StatusCode)
	}
	part := "[\n" + strings.ReplaceAll(strings.TrimSpace(twoProfiles), "\n", ",\n") + "\n]\n"
	resp = f.call(t, "PATCH", big, part, map[string]string{"Content-Type": "application/octet-stream",
		"Content-Range": "bytes 0-" + strconv.Itoa(len(part)-1)})
	if text, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusBadRequest || !bytes.Contains(text, []byte("is a JSON array")) {
		t.Errorf("a JSON array as a large file's first part: %d %s, want 400", resp.StatusCode, text)
	}
}

// A batch created for multi-line JSON is known in its sandbox: another sandbox's action on the
// same id does not make the batch forget it.
func TestStrictMultiLineBatchesAreKeptBySandbox(t *testing.T) {
	f := newFixtureOf(t, Options{Strict: true, Sandboxes: []string{"prod", "dev"}}, false, false)
	ds, err := f.engine.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	if err != nil {
		t.Fatal(err)
	}
	resp := f.call(t, "POST", "/data/foundation/import/batches",
		`{"datasetId":"`+ds.ID+`","inputFormat":{"format":"json","isMultiLineJson":true}}`, nil)
	var b aepwire.Batch
	decodeJSON(t, resp, &b)
	if resp := f.call(t, "POST", "/data/foundation/import/batches/"+b.ID+"?action=COMPLETE", "", map[string]string{"x-sandbox-name": "dev"}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("dev's COMPLETE of prod's batch: %d, want 404", resp.StatusCode)
	}
	resp = f.call(t, "PUT", "/data/foundation/import/batches/"+b.ID+"/datasets/"+ds.ID+"/files/a.json",
		"[\n"+strings.ReplaceAll(strings.TrimSpace(twoProfiles), "\n", ",\n")+"\n]\n", map[string]string{"Content-Type": "application/octet-stream"})
	if text, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK {
		t.Errorf("a JSON array in prod's multi-line batch, after dev's COMPLETE of its id: %d %s, want 200", resp.StatusCode, text)
	}
}

// Data Access may answer a dataSetFile with a directory of further dataSetFiles, which the
// strict profile does, one level deep.
func TestStrictDataAccessDirectories(t *testing.T) {
	f := newFixtureOf(t, Options{Strict: true}, true, false)
	batchID := f.ingest(t)
	resp := f.call(t, "GET", "/data/foundation/export/batches/"+batchID+"/files", "", nil)
	var files aepwire.DataSetFileList
	decodeJSON(t, resp, &files)
	if len(files.Data) != 1 {
		t.Fatalf("files: %+v", files)
	}
	u, _ := url.Parse(files.Data[0].Links.Self.Href)
	resp = f.call(t, "GET", u.Path, "", nil)
	var dir aepwire.DataSetFileList
	decodeJSON(t, resp, &dir)
	if len(dir.Data) != 1 || dir.Data[0].DataSetFileID == "" || dir.Data[0].DataSetFileID == files.Data[0].DataSetFileID {
		t.Fatalf("the dataSetFile answers %+v, want a directory of one further dataSetFile", dir)
	}
	u, _ = url.Parse(dir.Data[0].Links.Self.Href)
	resp = f.call(t, "GET", u.Path, "", nil)
	var phys aepwire.PhysicalFileList
	decodeJSON(t, resp, &phys)
	if len(phys.Data) != 1 || phys.Data[0].Name != "p.json" || phys.Data[0].Length == 0 {
		t.Fatalf("the directory's entry answers %+v, want the physical file", phys)
	}
	u, _ = url.Parse(phys.Data[0].Links.Self.Href)
	resp = f.call(t, "GET", u.Path+"?"+u.RawQuery, "", nil)
	content, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(content) != twoProfiles {
		t.Errorf("download: %d %q", resp.StatusCode, content)
	}
}

func reflect2(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// The strict profile reads a JSON body ahead of the handler without taking any of it away, however
// large it is.
func TestStrictPeekLeavesTheWholeBody(t *testing.T) {
	for _, n := range []int{10, maxStrictBody + 100} {
		body := `{"fields":"` + strings.Repeat("a", n) + `"}`
		r := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var v struct{ Fields string }
		ok := peekJSON(r, &v)
		rest, _ := io.ReadAll(r.Body)
		if string(rest) != body || ok != (n < maxStrictBody) {
			t.Errorf("body of %d: decoded %v, handler got %d of %d bytes", len(body), ok, len(rest), len(body))
		}
	}
}
