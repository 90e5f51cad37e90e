package contracttest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
)

func specsOrSkip(t *testing.T) *Specs {
	t.Helper()
	s, err := Load()
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("Adobe's OpenAPI specifications are not at %s (set %s): %v", SpecsDir(), EnvDir, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSpecsRouteTheProvidersCalls(t *testing.T) {
	s := specsOrSkip(t)
	for _, tc := range []struct{ method, path, file, template string }{
		{"POST", "/data/core/ups/export/jobs", "segmentation.yaml", "/export/jobs"},
		{"GET", "/data/core/ups/export/jobs/12", "segmentation.yaml", "/export/jobs/{EXPORT_JOB_ID}"},
		{"PUT", "/data/core/ups/config/mergePolicies/m1", "profile.yaml", "/ups/config/mergePolicies/{mergePolicyId}"},
		{"GET", "/data/foundation/catalog/dataSets/abc", "catalog.yaml", "/dataSets/{DATASET_ID}"},
		{"GET", "/data/foundation/catalog/batches/b1", "catalog.yaml", "/batches/{BATCH_ID}"},
		{"POST", "/data/foundation/import/batches/b1", "batch-ingestion.yaml", "/batches/{batchId}"},
		{"PUT", "/data/foundation/import/batches/b1/datasets/d1/files/f.json", "batch-ingestion.yaml", "/batches/{batchId}/datasets/{datasetId}/files/{filePath}"},
		{"GET", "/data/foundation/export/files/b1-1", "data-access.yaml", "/files/{dataSetFileId}"},
	} {
		a, op, _ := s.route(tc.method, tc.path)
		if a == nil || op == nil || a.file != tc.file || op.template != tc.template {
			got := "nothing"
			if op != nil {
				got = a.file + " " + op.template
			}
			t.Errorf("%s %s routes to %s, want %s %s", tc.method, tc.path, got, tc.file, tc.template)
		}
	}
	if _, op, _ := s.route("GET", "/data/core/ups/export/jobs/12/extra"); op != nil {
		t.Errorf("an unknown path routed to %s", op.template)
	}
}

// serve runs one exchange through a checker: the handler answers with status and body.
func serve(t *testing.T, c *Checker, method, target, reqBody string, header map[string]string, status int, respType, respBody string) {
	t.Helper()
	h := c.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if respType != "" {
			w.Header().Set("Content-Type", respType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, respBody)
	}))
	req := httptest.NewRequest(method, target, strings.NewReader(reqBody))
	for k, v := range map[string]string{"Authorization": "Bearer t", "x-api-key": "k", "x-gw-ims-org-id": "o@AdobeOrg",
		"x-sandbox-name": "prod", "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	h.ServeHTTP(httptest.NewRecorder(), req)
}

const validJob = `{"id":1,"status":"NEW","destination":{"datasetId":"d","batchId":"b"},"creationTime":1,"updateTime":1}`

// The checker catches what the specifications refuse, on both sides, and counts what it saw.
func TestViolationsAreCaught(t *testing.T) {
	specsOrSkip(t)
	c := New(t)
	reqs, resps := Counts()
	serve(t, c, "GET", "/data/core/ups/export/jobs/1", "", nil, 200, "application/json", validJob)
	if v := c.Violations(); len(v) != 0 {
		t.Fatalf("a valid exchange: %v", v)
	}
	if r2, s2 := Counts(); r2 != reqs+1 || s2 != resps+1 {
		t.Errorf("counts went from %d/%d to %d/%d, want one more each", reqs, resps, r2, s2)
	}
	for _, tc := range []struct {
		name, method, target, body string
		header                     map[string]string
		status                     int
		respBody, want             string
	}{
		{"CANCELLED", "GET", "/data/core/ups/export/jobs/1", "", nil, 200, strings.Replace(validJob, "NEW", "CANCELLED", 1),
			`/status: value is not one of the allowed values`},
		{"list status outside the enum", "GET", "/data/core/ups/export/jobs?status=PROCESSING", "", nil, 200, `{"records":[]}`,
			`query "status"`},
		{"missing sandbox header", "GET", "/data/core/ups/export/jobs/1", "", map[string]string{"x-sandbox-name": ""}, 200, validJob,
			`header "x-sandbox-name"`},
		{"merge policy write without x-profile-instance-id", "POST", "/data/core/ups/config/mergePolicies",
			`{"name":"p","schema":{"name":"_xdm.context.profile"},"identityGraph":{"type":"none"},"attributeMerge":{"type":"timestampOrdered"}}`,
			nil, 200, `{}`, `header "x-profile-instance-id"`},
		{"batch error rows as numbers", "GET", "/data/foundation/catalog/batches/b", "", nil, 200,
			`{"b":{"status":"success","errors":[{"code":"c","rows":[3]}]}}`, `/errors/0/rows/0: value must be a string`},
		{"unknown operation", "GET", "/data/core/ups/export/nothing", "", nil, 200, `{}`, "unknown operation"},
		{"undeclared status", "POST", "/data/core/ups/export/jobs", `{"destination":{"datasetId":"d"},"schema":{"name":"_xdm.context.profile"}}`,
			nil, 418, `{}`, "status is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Checker{specs: c.specs}
			serve(t, c, tc.method, tc.target, tc.body, tc.header, tc.status, "application/json", tc.respBody)
			v := c.Violations()
			if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tc.want) }) {
				t.Errorf("violations %q, want one with %q", v, tc.want)
			}
		})
	}
}

// Each exception waives a violation that an exchange of the kind it names would otherwise be:
// none is there for nothing, and none waives more than its operation and status.
func TestEveryExceptionIsNeeded(t *testing.T) {
	s := specsOrSkip(t)
	cases := map[string]exchangeCase{
		"IMS token endpoint": {"POST", "/ims/token/v3", "grant_type=client_credentials", 200, "application/json", `{}`},
		"statuses of every Platform API": {"GET", "/data/core/ups/export/jobs/1", "", 429, "application/json",
			`{"message":"slow down"}`},
		"batch inputFormat.format in lower case": {"POST", "/data/foundation/import/batches",
			`{"datasetId":"d","inputFormat":{"format":"json"}}`, 201, "application/json", `{"id":"b","status":"processing"}`},
		"a new batch is loading": {"POST", "/data/foundation/import/batches", `{"datasetId":"d","inputFormat":{"format":"JSON"}}`,
			201, "application/json", `{"id":"b","status":"loading"}`},
		"an aborted or reverted batch": {"POST", "/data/foundation/import/batches/b?action=REVERT", "", 200, "application/json",
			`{"id":"b","status":"inactive"}`},
		"destination.batches is an array": {"GET", "/data/core/ups/export/jobs/1", "", 200, "application/json",
			`{"id":1,"status":"NEW","destination":{"datasetId":"d","segmentPerBatch":true,"batches":[{"segmentId":"s","status":"realized"}]}}`},
		"a large file's part is its bytes": {"PATCH", "/data/foundation/import/batches/b/datasets/d/files/big.json",
			"{\"a\":1}\n{\"a\":2}\n", 200, "application/json", `{"name":"big.json","sizeInBytes":16}`},
		"a downloaded file is its bytes": {"GET", "/data/foundation/export/files/b-1?path=p.json", "", 200, "application/octet-stream",
			"{\"a\":1}\n{\"a\":2}\n"},
	}
	for i, e := range Exceptions {
		t.Run(e.Name, func(t *testing.T) {
			if e.Why == "" || e.Evidence == "" || e.Match == "" || (e.Where != "request" && e.Where != "response") {
				t.Errorf("exception %+v lacks its reason, evidence, match or place", e)
			}
			ex, ok := cases[e.Name]
			if !ok {
				t.Fatalf("no exchange shows why %q is needed", e.Name)
			}
			c := &Checker{specs: s}
			serve(t, c, ex.method, ex.target, ex.body, ex.header(), ex.status, ex.respType, ex.respBody)
			if v := c.Violations(); len(v) != 0 {
				t.Errorf("with the exception: %v", v)
			}
			// Without it, the same exchange is a violation.
			saved := Exceptions
			Exceptions = slices.Delete(slices.Clone(saved), i, i+1)
			defer func() { Exceptions = saved }()
			c = &Checker{specs: s}
			serve(t, c, ex.method, ex.target, ex.body, ex.header(), ex.status, ex.respType, ex.respBody)
			if v := c.Violations(); !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, e.Match) }) {
				t.Errorf("without the exception the exchange is not a violation: %v", v)
			}
		})
	}
	// The exception of statuses does not waive any status.
	c := &Checker{specs: s}
	serve(t, c, "POST", "/data/core/ups/export/jobs", `{"destination":{"datasetId":"d"},"schema":{"name":"_xdm.context.profile"}}`,
		nil, 409, "application/json", `{}`)
	if len(c.Violations()) == 0 {
		t.Error("an undeclared 409 was waived")
	}
}

// exchangeCase is a request and the answer a handler gives it.
type exchangeCase struct {
	method, target, body string
	status               int
	respType, respBody   string
}

// header is the request's: its Content-Type, and a large file's part's Content-Range.
func (e exchangeCase) header() map[string]string {
	switch {
	case strings.Contains(e.body, "grant_type"):
		return map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	case e.method == http.MethodPatch && strings.Contains(e.target, "/files/"):
		return map[string]string{"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("bytes 0-%d", len(e.body)-1)}
	}
	return map[string]string{"Content-Type": "application/json"}
}

// Without the specifications, Handler says so and validates nothing; a load of a missing
// directory names it.
func TestMissingSpecsAreReported(t *testing.T) {
	dir := t.TempDir()
	_, err := load(dir)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Errorf("loading from an empty directory: %v", err)
	}
}
