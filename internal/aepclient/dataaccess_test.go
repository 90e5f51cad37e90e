package aepclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire/contracttest"
)

// A batch's files as Data Access lists them for an export of many parts, which the served engine,
// with one physical file a dataSetFile, never shows: batch "b" has dataSetFile b-1, a directory
// holding b-1-parts, whose two physical files are listed a page each, and b-2, one file. Every
// listing comes in pages of one, linked by _links.next.
var manyPartsListing = map[string][]string{"b": {"b-1", "b-2"}, "b-1": {"b-1-parts"}}

var manyPartsFiles = map[string][]string{"b-1-parts": {"part-00000.json", "part-00001.json"}, "b-2": {"part-00002.json"}}

func partContent(name string) string { return `{"part":"` + name + `"}` + "\n" }

// dataAccessOfManyParts serves manyPartsListing and manyPartsFiles through Data Access's paths,
// in the shapes of Adobe's specification (contracttest checks both the client's requests and
// these answers against it). With roundabout, the last page of b-1-parts names the first as its
// next.
func dataAccessOfManyParts(t *testing.T, roundabout bool) string {
	t.Helper()
	mux := http.NewServeMux()
	base := func(r *http.Request) string { return "http://" + r.Host + exportDataPath }
	page := func(w http.ResponseWriter, r *http.Request, entries int, entry func(int) map[string]any, next func(int) string) {
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		body := map[string]any{"data": []any{}, "_page": map[string]int{"limit": 1, "count": 0}, "_links": map[string]any{}}
		if start < entries {
			body["data"] = []any{entry(start)}
			body["_page"] = map[string]int{"limit": 1, "count": 1}
		}
		if href := next(start); href != "" {
			body["_links"] = map[string]any{"next": map[string]string{"href": href}}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
	nextOf := func(r *http.Request, entries int) func(int) string {
		return func(start int) string {
			switch {
			case start+1 < entries:
				return base(r) + r.URL.Path[len(exportDataPath):] + "?start=" + strconv.Itoa(start+1) + "&limit=1"
			case roundabout && r.PathValue("id") == "b-1-parts":
				return base(r) + "/files/b-1-parts?start=0&limit=1"
			}
			return ""
		}
	}
	mux.HandleFunc("GET "+exportDataPath+"/batches/{id}/files", func(w http.ResponseWriter, r *http.Request) {
		ids := manyPartsListing[r.PathValue("id")]
		page(w, r, len(ids), func(i int) map[string]any {
			return map[string]any{"dataSetFileId": ids[i], "dataSetViewId": "ds", "version": "1.0.0", "created": "1800000000000",
				"updated": "1800000000000", "records": "7", "size": "100", "isValid": true,
				"_links": map[string]any{"self": map[string]string{"href": base(r) + "/files/" + ids[i]}}}
		}, nextOf(r, len(ids)))
	})
	mux.HandleFunc("GET "+exportDataPath+"/files/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if path := r.URL.Query().Get("path"); path != "" {
			w.Header().Set("Content-Type", "application/octet-stream")
			_, _ = w.Write([]byte(partContent(path)))
			return
		}
		if inner, ok := manyPartsListing[id]; ok {
			page(w, r, len(inner), func(i int) map[string]any {
				return map[string]any{"dataSetFileId": inner[i], "_links": map[string]any{"self": map[string]string{"href": base(r) + "/files/" + inner[i]}}}
			}, nextOf(r, len(inner)))
			return
		}
		names := manyPartsFiles[id]
		page(w, r, len(names), func(i int) map[string]any {
			return map[string]any{"name": names[i], "length": strconv.Itoa(len(partContent(names[i]))),
				"_links": map[string]any{"self": map[string]string{"href": base(r) + "/files/" + id + "?path=" + names[i]}}}
		}, nextOf(r, len(names)))
	})
	srv := httptest.NewServer(contracttest.Handler(t, mux))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The client follows every page of every listing, and a dataSetFile that is a directory down to
// its physical files, each file named by the dataSetFile the batch lists.
func TestDataAccessDirectoriesAndPagesAreFollowed(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, func(cfg *Config) { cfg.Endpoint = dataAccessOfManyParts(t, false) })
	ctx := context.Background()
	files, err := c.ListBatchFiles(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, f.ID+"/"+f.Name+"/"+strconv.FormatInt(f.Size, 10)+"/"+strconv.FormatInt(f.Records, 10))
		content, err := c.Download(ctx, f.Location)
		if err != nil || string(content) != partContent(f.Name) {
			t.Errorf("download of %s: %q, %v", f.Location, content, err)
		}
	}
	// A dataSetFile's records count for its file only where it holds one.
	size := strconv.Itoa(len(partContent("part-00000.json")))
	want := "b-1/part-00000.json/" + size + "/0 b-1/part-00001.json/" + size + "/0 b-2/part-00002.json/" + size + "/7"
	if strings.Join(got, " ") != want {
		t.Errorf("files = %v, want %s", got, want)
	}
}

// A listing whose pages come round again is an error that says so, not a loop.
func TestDataAccessListingThatGoesRoundIsAnError(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, func(cfg *Config) { cfg.Endpoint = dataAccessOfManyParts(t, true) })
	_, err := c.ListBatchFiles(context.Background(), "b")
	if err == nil || !strings.Contains(err.Error(), "read before") || !strings.Contains(err.Error(), "/files/b-1-parts?start=") {
		t.Errorf("err = %v, want the listing of b-1-parts going round", err)
	}
}
