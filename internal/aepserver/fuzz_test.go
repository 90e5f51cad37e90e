package aepserver

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// fuzzRoutes are the API's paths, with {id}-like parts the fuzzer fills in.
var fuzzRoutes = []string{
	"/ims/token/v3",
	catalogPath + "/dataSets",
	catalogPath + "/dataSets/{}",
	catalogPath + "/batches",
	catalogPath + "/batches/{}",
	importPath + "/batches",
	importPath + "/batches/{}",
	importPath + "/batches/{}/datasets/{}/files/{}",
	profilePath + "/config/mergePolicies",
	profilePath + "/config/mergePolicies/{}",
	profilePath + "/export/jobs",
	profilePath + "/export/jobs/{}",
	exportDataPath + "/batches/{}/files",
	exportDataPath + "/files/{}",
}

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead}

// FuzzRequests sends the API arbitrary requests, authenticated: whatever the method, path,
// query and body, the server answers a client error or success, never a server error, and its
// error answers are JSON.
func FuzzRequests(f *testing.F) {
	seeds := []struct {
		method, route   uint8
		id, query, body string
	}{
		{1, 1, "", "", `{"name":"d","schemaRef":{"id":"https://ns.adobe.com/xdm/context/profile","contentType":"application/vnd.adobe.xed+json;version=1"},"tags":{"unifiedProfile":["enabled:true"]}}`},
		{1, 1, "", "", `{"name":"u","schemaRef":{"id":"https://ns.adobe.com/xdm/context/profile__union"}}`},
		{0, 1, "", "start=0&limit=5&properties=name", ""},
		{3, 2, "x", "", `{"name":"n","tags":{"a":["b"]}}`},
		{1, 5, "", "", `{"datasetId":"x","inputFormat":{"format":"json"}}`},
		{2, 7, "b", "", `{"identityMap":{"Email":[{"id":"a@b.c"}]}}`},
		{1, 6, "b", "action=COMPLETE", ""},
		{1, 8, "", "", `{"name":"p","identityGraph":{"type":"pdg"},"attributeMerge":{"type":"dataSetPrecedence","order":["x"]},"schema":{"name":"_xdm.context.profile"},"default":false}`},
		{3, 9, "timestampOrdered-none-mp", "", `{"op":"add","path":"/default","value":"true"}`},
		{1, 10, "", "", `{"fields":"identityMap,person.name","mergePolicy":{"id":"timestampOrdered-pdg-mp","version":1},"filter":{"segments":[{"segmentId":"s","status":["realized"]}],"fromIngestTimestamp":"2026-01-01T00:00:00Z"},"additionalFields":{"eventList":{"fields":"timestamp","filter":{"fromIngestTimestamp":"2026-01-01T00:00:00Z"}}},"destination":{"datasetId":"x","segmentPerBatch":true},"schema":{"name":"_xdm.context.profile"}}`},
		{0, 10, "", "limit=2&offset=1", ""},
		{4, 11, "1", "", ""},
		{0, 13, "f", "", ""},
		{1, 0, "", "", "grant_type=client_credentials&client_id=c&client_secret=s&scope=openid"},
		{1, 10, "", "", `{"fields":"a(b,(c)","destination":{}}`},
		{1, 10, "", "", `[1,2,3]`},
		{1, 10, "", "", `{"destination":{"datasetId":"x"},"schema":{"name":"_xdm.context.profile"},"mergePolicy":{"id":"","version":-1}}`},
	}
	for _, s := range seeds {
		f.Add(s.method, s.route, s.id, s.query, []byte(s.body))
	}
	// One server for the whole run: inputs build on what earlier ones created.
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: f.TempDir(), RunJobs: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = e.Close() })
	opts := Options{
		Credentials:  []Credential{{ClientID: "c", ClientSecret: "s"}},
		AccessTokens: map[string]string{"fuzz-token": "c"},
		OrgID:        "o@AdobeOrg",
	}
	strict := opts
	strict.Strict = true
	// Every input goes to the engine's own profile and to the strict one, over the same engine.
	handlers := []http.Handler{New(e, opts), New(e, strict)}
	f.Fuzz(func(t *testing.T, method, route uint8, id, query string, body []byte) {
		for _, h := range handlers {
			serveFuzzed(t, h, method, route, id, query, body)
		}
	})
}

func serveFuzzed(t *testing.T, h http.Handler, method, route uint8, id, query string, body []byte) {
	m := fuzzMethods[int(method)%len(fuzzMethods)]
	path := fuzzRoutes[int(route)%len(fuzzRoutes)]
	for strings.Contains(path, "{}") {
		path = strings.Replace(path, "{}", strings.NewReplacer("/", "%2F", "?", "%3F", "#", "%23").Replace(id), 1)
	}
	req := httptest.NewRequest(m, "/", bytes.NewReader(body))
	req.URL.RawPath = path
	req.URL.Path = strings.NewReplacer("%2F", "/", "%3F", "?", "%23", "#").Replace(path)
	req.URL.RawQuery = query
	req.Header.Set("Authorization", "Bearer fuzz-token")
	req.Header.Set(aepwire.HeaderAPIKey, "c")
	req.Header.Set(aepwire.HeaderOrgID, "o@AdobeOrg")
	req.Header.Set(aepwire.HeaderSandbox, "prod")
	req.Header.Set("Content-Type", "application/json")
	if route%uint8(len(fuzzRoutes)) == 0 {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s?%s with %q: %d %s", m, path, query, body, rec.Code, rec.Body)
	}
	if rec.Code >= 400 && m != http.MethodHead && !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("%s %s: %d with a body that is not JSON: %q", m, path, rec.Code, rec.Body)
	}
}
