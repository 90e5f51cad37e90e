package aepserver

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

type fixture struct {
	engine *exportengine.Engine
	srv    *httptest.Server
	token  string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: t.TempDir(), RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	srv := httptest.NewServer(New(e, Options{Credentials: []Credential{{ClientID: "c", ClientSecret: "s"}}, OrgID: "o@AdobeOrg"}))
	t.Cleanup(srv.Close)
	f := &fixture{engine: e, srv: srv}
	resp, err := http.PostForm(srv.URL+"/ims/token/v3", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok aepwire.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.TokenType != "bearer" || tok.ExpiresIn != 86400 {
		t.Fatalf("token: %+v, %v", tok, err)
	}
	resp.Body.Close()
	f.token = tok.AccessToken
	return f
}

// call makes a request with the gateway's headers; drop names headers to leave out.
func (f *fixture) call(t *testing.T, method, path, body string, header map[string]string, drop ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Authorization": "Bearer " + f.token, "x-api-key": "c", "x-gw-ims-org-id": "o@AdobeOrg",
		"x-sandbox-name": "prod", "Content-Type": "application/json"}
	for k, v := range header {
		h[k] = v
	}
	for _, d := range drop {
		delete(h, d)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestGatewayErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		header map[string]string
		drop   []string
		status int
		code   string
	}{
		{"no token", nil, []string{"Authorization"}, 403, "403010"},
		{"bad token", map[string]string{"Authorization": "Bearer forged"}, nil, 401, "401013"},
		{"no api key", nil, []string{"x-api-key"}, 403, "403000"},
		{"wrong api key", map[string]string{"x-api-key": "other"}, nil, 403, "403003"},
		{"no org", nil, []string{"x-gw-ims-org-id"}, 400, "400003"},
		{"wrong org", map[string]string{"x-gw-ims-org-id": "x@AdobeOrg"}, nil, 403, "403027"},
		{"unknown sandbox", map[string]string{"x-sandbox-name": "dev"}, nil, 403, "403025"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := f.call(t, "GET", "/data/core/ups/export/jobs", "", tc.header, tc.drop...)
			var body aepwire.GatewayError
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status || body.ErrorCode != tc.code || body.Message == "" || resp.Header.Get("x-request-id") == "" {
				t.Errorf("got %d %+v, want %d %s with a message and a request id", resp.StatusCode, body, tc.status, tc.code)
			}
		})
	}
}

func TestExportJobEndpoints(t *testing.T) {
	f := newFixture(t)
	ds, err := f.engine.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "x", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion}})
	if err != nil {
		t.Fatal(err)
	}
	resp := f.call(t, "POST", "/data/core/ups/export/jobs",
		`{"destination":{"dataSetId":"`+ds.ID+`"},"schema":{"name":"_xdm.context.profile"}}`, nil)
	var job aepwire.ExportJob
	_ = json.NewDecoder(resp.Body).Decode(&job)
	if resp.StatusCode != 200 || !strings.HasSuffix(resp.Header.Get("X-Location"), "/data/core/ups/export/jobs/1") || job.ID != 1 || job.Status != "NEW" {
		t.Fatalf("POST: %d, X-Location %q, %+v", resp.StatusCode, resp.Header.Get("X-Location"), job)
	}
	if _, err := f.engine.WaitExportJob(context.Background(), job.ID, nil); err != nil {
		t.Fatal(err)
	}
	resp = f.call(t, "DELETE", "/data/core/ups/export/jobs/1", "", nil)
	var cancel aepwire.CancelResponse
	_ = json.NewDecoder(resp.Body).Decode(&cancel)
	if resp.StatusCode != 200 || !cancel.Status {
		t.Errorf("DELETE: %d %+v", resp.StatusCode, cancel)
	}
	if resp := f.call(t, "GET", "/data/core/ups/export/jobs/1", "", nil); resp.StatusCode != 404 {
		t.Errorf("GET of a deleted job: %d", resp.StatusCode)
	}
	if resp := f.call(t, "POST", "/data/core/ups/export/jobs", `{"destination":{},"schema":{"name":"_xdm.context.profile"}}`, nil); resp.StatusCode != 400 ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Errorf("bad request: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestDataAccessRangeRequests(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ds, _ := f.engine.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
	b, _ := f.engine.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
	content := `{"identityMap":{"Email":[{"id":"a@example.com"}]},"n":1}` + "\n"
	if resp := f.call(t, "PUT", "/data/foundation/import/batches/"+b.ID+"/datasets/"+ds.ID+"/files/p.json", content,
		map[string]string{"Content-Type": "application/octet-stream"}); resp.StatusCode != 200 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	if resp := f.call(t, "POST", "/data/foundation/import/batches/"+b.ID+"?action=COMPLETE", "", nil); resp.StatusCode != 200 {
		t.Fatalf("complete: %d", resp.StatusCode)
	}
	if err := f.engine.WaitBatch(t.Context(), b.ID); err != nil {
		t.Fatal(err)
	}
	resp := f.call(t, "GET", "/data/foundation/export/batches/"+b.ID+"/files", "", nil)
	var list aepwire.DataSetFileList
	_ = json.NewDecoder(resp.Body).Decode(&list)
	if len(list.Data) != 1 || list.Data[0].Records != 1 || int(list.Data[0].Size) != len(content) {
		t.Fatalf("files: %+v", list)
	}
	fileURL, _ := url.Parse(list.Data[0].Links.Self.Href)
	resp = f.call(t, "GET", fileURL.Path, "", nil)
	var phys aepwire.PhysicalFileList
	_ = json.NewDecoder(resp.Body).Decode(&phys)
	if len(phys.Data) != 1 || phys.Data[0].Name != "p.json" || phys.Page.Limit != 100 || phys.Page.Count != 1 {
		t.Fatalf("physical files: %+v", phys)
	}
	// The listing pages as Data Access's do: past its one file, a page is empty; a bad limit is
	// refused, naming it.
	for query, want := range map[string]string{"?start=1&limit=5": `{"data":[],"_page":{"limit":5,"count":0}}`, "?limit=0": "limit must be"} {
		resp = f.call(t, "GET", fileURL.Path+query, "", nil)
		body, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(body), want) {
			t.Errorf("GET %s%s: %d %s, want %s", fileURL.Path, query, resp.StatusCode, body, want)
		}
	}
	download, _ := url.Parse(phys.Data[0].Links.Self.Href)
	resp = f.call(t, "GET", download.Path+"?"+download.RawQuery, "", map[string]string{"Range": "bytes=0-9"})
	part, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 206 || string(part) != content[:10] || resp.Header.Get("Content-Range") != "bytes 0-9/"+strconv.Itoa(len(content)) {
		t.Errorf("range: %d %q %q", resp.StatusCode, part, resp.Header.Get("Content-Range"))
	}
	resp = f.call(t, "HEAD", download.Path+"?"+download.RawQuery, "", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Length") != strconv.Itoa(len(content)) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestDatasetJSONPatch(t *testing.T) {
	f := newFixture(t)
	ds, _ := f.engine.CreateDataset(context.Background(), aepwire.DatasetRequest{Name: "old", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		Tags: map[string][]string{"keep": {"k"}, "drop": {"d"}}})
	resp := f.call(t, "PATCH", "/data/foundation/catalog/dataSets/"+ds.ID,
		`[{"op":"replace","path":"/name","value":"new"},{"op":"add","path":"/tags/unifiedProfile","value":["enabled:true"]},{"op":"remove","path":"/tags/drop"}]`,
		map[string]string{"Content-Type": "application/json-patch+json"})
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	got, _ := f.engine.GetDataset(context.Background(), ds.ID)
	if got.Name != "new" || !aepwire.ProfileEnabled(got.Tags) || got.Tags["drop"] != nil || got.Tags["keep"][0] != "k" {
		t.Errorf("after the patch: %+v", got)
	}
}

// A listing's start is held to its bound: one near the largest int overflowed start+limit, and
// the next page a listing linked to was a negative one.
func TestListingStartIsBounded(t *testing.T) {
	s := serveEngine(t, Options{}, nil)
	batch := s.ingestProfile(t)
	huge := strconv.Itoa(math.MaxInt - 50)
	for _, path := range []string{
		profilePath + "/config/mergePolicies",
		catalogPath + "/dataSets",
		catalogPath + "/batches",
		exportDataPath + "/batches/" + batch + "/files",
		exportDataPath + "/files/" + batch + "-1",
	} {
		resp, body := s.call(t, "GET", path+"?limit=100&start="+huge, nil, nil)
		expectProblem(t, resp, body, http.StatusBadRequest, "start must be between 0 and 1000000000")
		resp, body = s.call(t, "GET", path+"?limit=100&start="+strconv.Itoa(maxStart), nil, nil)
		if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "start=") {
			t.Errorf("GET %s at the largest start: %d %s, want an empty page without a next one", path, resp.StatusCode, body)
		}
	}
}
