package aepserver

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The large-file upload's rules, each refusal saying what to do: a part comes after its file's
// INITIALIZE, names its bytes in a Content-Range, holds them all and no more, starts where what
// came before ended (or before: a part sent again), and is held to the limit of a part and of the
// batch. HEAD says what the file has received. COMPLETE makes it one of the batch's files, a
// second COMPLETE leaves it as once, and a large file not completed is not one of them.
func TestLargeFileUploadRules(t *testing.T) {
	const line = `{"identityMap":{"Email":[{"id":"a@x.io"}]}}` + "\n" // 44 bytes
	f := newFixtureWith(t, Options{Limits: Limits{File: 64, Batch: 200}}, false)
	ctx := context.Background()
	ds, err := f.engine.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := f.engine.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
	if err != nil {
		t.Fatal(err)
	}
	files := importPath + "/batches/" + b.ID + "/datasets/" + ds.ID + "/files/"
	big := files + "big.json"
	octets := func(cr string) map[string]string {
		h := map[string]string{"Content-Type": "application/octet-stream"}
		if cr != "" {
			h["Content-Range"] = cr
		}
		return h
	}
	expect := func(what string, resp *http.Response, status int, says ...string) {
		t.Helper()
		body := readAll(t, resp)
		if resp.StatusCode != status {
			t.Errorf("%s: %d %s, want %d", what, resp.StatusCode, body, status)
			return
		}
		for _, s := range says {
			if !strings.Contains(body, s) {
				t.Errorf("%s: %s, want it to say %q", what, body, s)
			}
		}
	}

	expect("a part before INITIALIZE", f.call(t, "PATCH", big, line, octets("bytes 0-43")), http.StatusNotFound,
		"no large file", "initialize it first")
	expect("INITIALIZE", f.call(t, "POST", big+"?action=INITIALIZE", "", nil), http.StatusOK, `"name":"big.json"`, `"sizeInBytes":0`)
	expect("an action of neither kind", f.call(t, "POST", big+"?action=FINISH", "", nil), http.StatusBadRequest,
		"not one of INITIALIZE, COMPLETE")
	if resp := f.call(t, "HEAD", big, "", nil); resp.StatusCode != http.StatusOK || resp.Header.Get("Range") != "" {
		t.Errorf("HEAD of a file that has received nothing: %d, Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	expect("a part without Content-Range", f.call(t, "PATCH", big, line, octets("")), http.StatusBadRequest,
		"needs a Content-Range header")
	expect("a Content-Range not in bytes", f.call(t, "PATCH", big, line, octets("items 0-43")), http.StatusBadRequest,
		"is not valid", "bytes 0-1048575")
	expect("a part past what came", f.call(t, "PATCH", big, line, octets("bytes 10-53")), http.StatusBadRequest,
		"starts at byte 10, past the 0 bytes", "send the parts in order")
	expect("a part over the limit", f.call(t, "PATCH", big, strings.Repeat(line, 2), octets("bytes 0-87")),
		http.StatusRequestEntityTooLarge, "a part of a large file", "smaller parts")
	expect("a part that holds more than it names", f.call(t, "PATCH", big, line, octets("bytes 0-9")), http.StatusBadRequest,
		"names 10 bytes, and its Content-Length 44")
	for _, cr := range []string{"bytes 0-43", "bytes 44-87", "bytes 44-87"} { // the last one sent again
		resp := f.call(t, "PATCH", big, line, octets(cr))
		expect(cr, resp, http.StatusOK, `"sizeInBytes":`)
	}
	if resp := f.call(t, "HEAD", big, "", nil); resp.Header.Get("Range") != "bytes=0-87" {
		t.Errorf("HEAD after two parts: %d, Range %q, want bytes=0-87", resp.StatusCode, resp.Header.Get("Range"))
	}
	expect("INITIALIZE another", f.call(t, "POST", files+"other.json?action=INITIALIZE", "", nil), http.StatusOK)
	for i, cr := range []string{"bytes 0-43", "bytes 44-87", "bytes 88-131"} {
		status := http.StatusOK
		if i == 2 {
			status = http.StatusRequestEntityTooLarge // 88 of big.json and 132 of other.json are past 200
		}
		expect("other.json "+cr, f.call(t, "PATCH", files+"other.json", line, octets(cr)), status)
	}
	expect("COMPLETE", f.call(t, "POST", big+"?action=COMPLETE", "", nil), http.StatusOK, `"sizeInBytes":88`)
	expect("COMPLETE again", f.call(t, "POST", big+"?action=COMPLETE", "", nil), http.StatusOK, `"sizeInBytes":88`)
	expect("HEAD of a completed file", f.call(t, "HEAD", big, "", nil), http.StatusNotFound)

	done, err := f.engine.CompleteBatch(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.RecordCount != 2 || done.FailedRecordCount != 0 {
		t.Errorf("the batch: %d records, %d failed; want big.json's 2 alone", done.RecordCount, done.FailedRecordCount)
	}
	left, err := filepath.Glob(filepath.Join(f.engine.DataDir(), "batches", b.ID, "files", ".*"))
	if err != nil || len(left) != 0 {
		t.Errorf("the completed batch's directory keeps %q, %v; want other.json's parts gone", left, err)
	}
	expect("a part of a completed batch", f.call(t, "PATCH", big, line, octets("bytes 0-43")), http.StatusBadRequest,
		"files can only be added while it is loading")
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
