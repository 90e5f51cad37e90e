package aepserver

// The security suite: the probes a hostile or careless teammate makes against a served engine,
// each against a real engine served on a loopback port, each asserting the safe outcome.
//
//	probe                                              test
//	a fields list of a( 24,000 deep; one of 1 MB       TestProbeFieldsBomb
//	objects of one sandbox seen from another           TestProbeSandboxIsolation
//	uploads into another sandbox's full batch          TestProbeUploadLimitsAreTheSandboxs
//	a 100 MiB description; a 1 GiB upload; batches     TestProbeLargeBodies
//	a 1 MB schemaRef.id, segment id, Idempotency-Key;
//	  records of a thousand namespaces, one of 70 KB   TestProbeLongIdentifiers
//	an idle keep-alive connection; 1,000 of them       TestProbeIdleConnections
//	40 connections that never send (nor start TLS)     TestProbeSilentConnections
//	one address's connections past its limit           TestProbeConnectionsPerAddress
//	a body (or headers) sent a byte at a time; an
//	  answer never taken; large transfers              TestProbeSlowClients
//	files and directories under the data directory     TestProbeFilePermissions
//	links built from the Host header; a client
//	  following links elsewhere with its token         TestProbeLinks
//	wrong secrets, unknown client ids, expiry, a
//	  64 KiB form                                      TestProbeTokenEndpoint
//	file names with NUL, a newline, 300 characters     TestProbeFileNames
//	a URL path holding a newline                       TestProbeLogForging
//	an internal error                                  TestProbeInternalError
//
// Listening beyond loopback without TLS, and TLS itself, are probed through the -serve flags
// (serve_test.go of the command).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepclient"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// A fields list that made the parser's memory grow with the square of its nesting: refused
// with a 400 naming the limit, at a cost in memory far below the list's square, and the server
// serves on.
func TestProbeFieldsBomb(t *testing.T) {
	s := serveEngine(t, Options{}, nil)
	dest := s.createDataset(t, aepwire.SchemaProfileUnion)
	job := func(list string) string {
		b, _ := json.Marshal(aepwire.ExportJobRequest{Fields: list, Destination: aepwire.ExportDestination{DatasetID: dest},
			Schema: aepwire.ExportSchema{Name: "_xdm.context.profile"}})
		return string(b)
	}
	for _, tc := range []struct {
		name, list string
		detail     []string
	}{
		{"a( 24,000 deep", strings.Repeat("a(", 24000), []string{"fields", "position 129",
			fmt.Sprintf("more than %d names deep", fields.MaxDepth)}},
		{"1 MB", strings.Repeat("a.", 500_000), []string{"fields", fmt.Sprintf("longer than %d characters", fields.MaxLength)}},
		{"eventList", strings.Repeat("(", 10), []string{"additionalFields.eventList.fields", "position 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := job(tc.list)
			if tc.name == "eventList" {
				body = strings.Replace(job(""), `"destination"`, `"additionalFields":{"eventList":{"fields":"`+tc.list+`"}},"destination"`, 1)
			}
			var resp *http.Response
			var answer []byte
			used := allocatedDuring(func() { resp, answer = s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(body), nil) })
			expectProblem(t, resp, answer, http.StatusBadRequest, tc.detail...)
			if len(answer) > 4<<10 {
				t.Errorf("the answer is %d bytes: it quotes the list back", len(answer))
			}
			// The request body itself is read and decoded: a few times its size, and no more.
			if limit := uint64(10 << 20); used > limit {
				t.Errorf("the request allocated %d bytes, more than %d", used, limit)
			}
		})
	}
	if resp, body := s.call(t, "GET", profilePath+"/export/jobs", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("after the probes the server answers %d %s", resp.StatusCode, body)
	}
}

// Sandboxes as AEP has them: nothing of one is visible or changeable from another, and an
// export in one reads only that sandbox's profiles.
// A client granted some sandboxes reaches those alone: another one, and the default sandbox when
// a request names none, are answered as a sandbox the server does not serve, so that a client
// cannot tell the one from the other. A client granted none reaches every sandbox.
func TestProbeClientsReachTheirSandboxesAlone(t *testing.T) {
	s := serveEngine(t, Options{Sandboxes: []string{"prod", "dev"},
		Credentials: []Credential{{ClientID: "dev-team", ClientSecret: "dev-secret-Q3", Sandboxes: []string{"dev"}}}}, nil)
	resp, body := s.tokenRequest(t, "dev-team", "dev-secret-Q3")
	var tok aepwire.TokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("dev-team's token: %d %s", resp.StatusCode, body)
	}
	list := func(client, token, sandbox string) (int, string) {
		t.Helper()
		h := http.Header{"Authorization": {"Bearer " + token}, "X-Api-Key": {client}, "X-Sandbox-Name": {sandbox}}
		if sandbox == "" {
			h["X-Sandbox-Name"] = nil
		}
		resp, body := s.call(t, "GET", catalogPath+"/dataSets", nil, h)
		return resp.StatusCode, string(body)
	}
	_, unserved := list("dev-team", tok.AccessToken, "qa")
	for _, tc := range []struct {
		client, token, sandbox string
		want                   int
	}{
		{"dev-team", tok.AccessToken, "dev", http.StatusOK},
		{"dev-team", tok.AccessToken, "prod", http.StatusForbidden},
		{"dev-team", tok.AccessToken, "", http.StatusForbidden},
		{probeClient, s.token, "prod", http.StatusOK},
		{probeClient, s.token, "dev", http.StatusOK},
	} {
		status, body := list(tc.client, tc.token, tc.sandbox)
		if status != tc.want || status == http.StatusForbidden && body != unserved {
			t.Errorf("%s in sandbox %q: %d %s; want %d (a refusal as for a sandbox not served: %s)", tc.client, tc.sandbox, status, body,
				tc.want, unserved)
		}
	}
}

func TestProbeSandboxIsolation(t *testing.T) {
	s := serveEngine(t, Options{Sandboxes: []string{"prod", "dev"}}, nil)
	in := func(sandbox string) http.Header { return http.Header{"X-Sandbox-Name": {sandbox}} }
	type objects struct{ crm, dest, batch, policy, email string }
	made := map[string]*objects{}
	for _, sb := range []string{"prod", "dev"} {
		o := &objects{email: sb + "-person@example.com"}
		made[sb] = o
		create := func(path, body string) []byte {
			t.Helper()
			resp, answer := s.call(t, "POST", path, strings.NewReader(body), in(sb))
			if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: POST %s: %d %s", sb, path, resp.StatusCode, answer)
			}
			return answer
		}
		dataset := func(schema string) string {
			var refs []string
			if err := json.Unmarshal(create(catalogPath+"/dataSets", `{"name":"probe","schemaRef":{"id":"`+schema+
				`"},"tags":{"unifiedProfile":["enabled:true"]}}`), &refs); err != nil || len(refs) != 1 {
				t.Fatalf("%s: dataset: %v %v", sb, refs, err)
			}
			return refs[0][strings.LastIndexByte(refs[0], '/')+1:]
		}
		o.crm, o.dest = dataset(aepwire.SchemaProfile), dataset(aepwire.SchemaProfileUnion)
		var b aepwire.Batch
		if err := json.Unmarshal(create(importPath+"/batches", `{"datasetId":"`+o.crm+`","inputFormat":{"format":"json"}}`), &b); err != nil {
			t.Fatal(err)
		}
		o.batch = b.ID
		record := `{"identityMap":{"email":[{"id":"` + o.email + `","primary":true}]},"personalEmail":{"address":"` + o.email + `"}}`
		if resp, body := s.call(t, "PUT", uploadPath(o.batch, o.crm, "people.json"), strings.NewReader(record), in(sb)); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: upload: %d %s", sb, resp.StatusCode, body)
		}
		create(importPath+"/batches/"+o.batch+"?action=COMPLETE", "")
		if err := s.engine.WaitBatch(t.Context(), o.batch); err != nil {
			t.Fatal(err)
		}
		var p aepwire.MergePolicy
		if err := json.Unmarshal(create(profilePath+"/config/mergePolicies", `{"name":"`+sb+` policy","identityGraph":{"type":"none"},`+
			`"attributeMerge":{"type":"timestampOrdered"},"schema":{"name":"_xdm.context.profile"}}`), &p); err != nil {
			t.Fatal(err)
		}
		o.policy = p.ID
	}

	// From each sandbox, nothing of the other's can be read, changed or deleted: each is a 404, as
	// for an object that does not exist.
	for sb, other := range map[string]string{"prod": "dev", "dev": "prod"} {
		o := made[other]
		for _, probe := range []struct{ method, path, body string }{
			{"GET", catalogPath + "/dataSets/" + o.crm, ""},
			{"PATCH", catalogPath + "/dataSets/" + o.crm, `{"description":"taken"}`},
			{"DELETE", catalogPath + "/dataSets/" + o.crm, ""},
			{"GET", catalogPath + "/batches/" + o.batch, ""},
			{"DELETE", catalogPath + "/batches/" + o.batch, ""},
			{"POST", importPath + "/batches/" + o.batch + "?action=REVERT", ""},
			{"PUT", uploadPath(o.batch, o.crm, "more.json"), "{}"},
			{"GET", exportDataPath + "/batches/" + o.batch + "/files", ""},
			{"GET", exportDataPath + "/files/" + o.batch + "-1?path=people.json", ""},
			{"GET", profilePath + "/config/mergePolicies/" + o.policy, ""},
			{"PUT", profilePath + "/config/mergePolicies/" + o.policy, `{"name":"taken","identityGraph":{"type":"none"},` +
				`"attributeMerge":{"type":"timestampOrdered"},"schema":{"name":"_xdm.context.profile"}}`},
			{"DELETE", profilePath + "/config/mergePolicies/" + o.policy, ""},
		} {
			var body io.Reader
			if probe.body != "" {
				body = strings.NewReader(probe.body)
			}
			if resp, answer := s.call(t, probe.method, probe.path, body, in(sb)); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: %s %s of %s's: %d %s, want 404", sb, probe.method, probe.path, other, resp.StatusCode, answer)
			}
		}
		resp, body := s.call(t, "GET", catalogPath+"/dataSets", nil, in(sb))
		var list map[string]json.RawMessage
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list) != 2 ||
			list[made[sb].crm] == nil || list[made[sb].dest] == nil {
			t.Errorf("%s lists %d %s, want its own two datasets", sb, resp.StatusCode, body)
		}
		// A job in one sandbox cannot name the other's destination or policy.
		resp, body = s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(`{"destination":{"datasetId":"`+o.dest+
			`"},"schema":{"name":"_xdm.context.profile"}}`), in(sb))
		expectProblem(t, resp, body, http.StatusBadRequest, "names no dataset")
		resp, body = s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(`{"destination":{"datasetId":"`+made[sb].dest+
			`"},"mergePolicy":{"id":"`+o.policy+`"},"schema":{"name":"_xdm.context.profile"}}`), in(sb))
		expectProblem(t, resp, body, http.StatusBadRequest, "mergePolicy")
	}

	// An export in each sandbox holds that sandbox's profile, and never the other's.
	jobs := map[string]int64{}
	for _, sb := range []string{"prod", "dev"} {
		resp, body := s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(`{"destination":{"datasetId":"`+made[sb].dest+
			`"},"schema":{"name":"_xdm.context.profile"}}`), in(sb))
		var job aepwire.ExportJob
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &job) != nil {
			t.Fatalf("%s: export job: %d %s", sb, resp.StatusCode, body)
		}
		jobs[sb] = job.ID
	}
	if jobs["prod"] == jobs["dev"] {
		t.Fatalf("both sandboxes got job %d", jobs["prod"])
	}
	for sb, other := range map[string]string{"prod": "dev", "dev": "prod"} {
		ctx, cancel := context.WithTimeout(aepwire.WithSandbox(context.Background(), sb), time.Minute)
		job, err := s.engine.WaitExportJob(ctx, jobs[sb], nil)
		cancel()
		if err != nil || job.Status != "SUCCEEDED" {
			t.Fatalf("%s: job %+v, %v", sb, job, err)
		}
		resp, body := s.call(t, "GET", exportDataPath+"/files/"+job.Destination.BatchID+"-1?path=part-00000.json", nil, in(sb))
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(made[sb].email)) || bytes.Contains(body, []byte(made[other].email)) {
			t.Errorf("%s exported %d %s: want its own profile (%s) only", sb, resp.StatusCode, body, made[sb].email)
		}
		if resp, body := s.call(t, "GET", fmt.Sprintf("%s/export/jobs/%d", profilePath, jobs[sb]), nil, in(other)); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s's job from %s: %d %s", sb, other, resp.StatusCode, body)
		}
		resp, body = s.call(t, "GET", profilePath+"/export/jobs", nil, in(sb))
		var list aepwire.ExportJobList
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Records) != 1 || list.Records[0].ID != jobs[sb] {
			t.Errorf("%s lists jobs %d %s, want only its own", sb, resp.StatusCode, body)
		}
	}

	// Without x-sandbox-name, a request is in the default sandbox (the first the server names).
	req, err := http.NewRequest("GET", s.url+catalogPath+"/dataSets/"+made["prod"].crm, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = s.headers()
	req.Header.Del("X-Sandbox-Name")
	resp, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("prod's dataset without x-sandbox-name: %d, want 200", resp.StatusCode)
	}
}

// Bodies past the limits are refused with a 413 (or a 400 for a name or description) that names
// the limit and the fix, without the server holding them: a body that declares its length is
// refused before a byte of it is sent, and one that does not is read no further than the limit.
func TestProbeLargeBodies(t *testing.T) {
	s := serveEngine(t, Options{Limits: Limits{File: 1 << 20, Batch: 2 << 20, BatchFiles: 3}}, nil)
	dataset := s.createDataset(t, aepwire.SchemaProfile)
	description := func(left int64) io.Reader {
		return io.MultiReader(strings.NewReader(`{"name":"big","schemaRef":{"id":"`+aepwire.SchemaProfile+`"},"description":"`),
			&pattern{unit: []byte("x"), left: left})
	}

	t.Run("100 MiB description, length declared", func(t *testing.T) {
		c := s.dial(t)
		c.send(t, s.head("POST", catalogPath+"/dataSets", "Content-Length: "+strconv.Itoa(100<<20), "Expect: 100-continue"))
		resp, body := c.response(t) // not a byte of the body sent
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB", "send less")
	})
	t.Run("100 MiB description, streamed", func(t *testing.T) {
		c := s.dial(t)
		c.send(t, s.head("POST", catalogPath+"/dataSets", "Transfer-Encoding: chunked"))
		var resp *http.Response
		var body []byte
		used := allocatedDuring(func() {
			go c.sendChunked(description(100 << 20))
			resp, body = c.response(t)
		})
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the request body is larger than 1 MiB")
		if used > 64<<20 {
			t.Errorf("the request allocated %d bytes: the body was held", used)
		}
	})
	t.Run("descriptions, names and tags", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, body string
			detail                   []string
		}{
			{"description", "POST", catalogPath + "/dataSets", `{"name":"d","schemaRef":{"id":"` + aepwire.SchemaProfile +
				`"},"description":"` + strings.Repeat("é", maxDescriptionLen+1) + `"}`, []string{"description is 4097 characters long", "4096"}},
			{"name", "POST", catalogPath + "/dataSets", `{"name":"` + strings.Repeat("n", 300) + `","schemaRef":{"id":"` +
				aepwire.SchemaProfile + `"}}`, []string{"name is 300 characters long", "256"}},
			{"tags", "POST", catalogPath + "/dataSets", `{"name":"t","schemaRef":{"id":"` + aepwire.SchemaProfile + `"},"tags":{"x":[` +
				strings.Repeat(`"v",`, maxTagValues) + `"v"]}}`, []string{`tag "x" has 65 values`, "64"}},
			{"patched description", "PATCH", catalogPath + "/dataSets/" + dataset, `{"description":"` + strings.Repeat("d", 5000) + `"}`,
				[]string{"description is 5000 characters long"}},
			{"JSON-patched name", "PATCH", catalogPath + "/dataSets/" + dataset, `[{"op":"replace","path":"/name","value":"` +
				strings.Repeat("n", 257) + `"}]`, []string{"name is 257 characters long"}},
			{"merge policy name", "POST", profilePath + "/config/mergePolicies", `{"name":"` + strings.Repeat("p", 257) +
				`","schema":{"name":"_xdm.context.profile"},"identityGraph":{"type":"none"},"attributeMerge":{"type":"timestampOrdered"}}`,
				[]string{"name is 257 characters long"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var h http.Header
				if strings.HasPrefix(tc.body, "[") {
					h = http.Header{"Content-Type": {"application/json-patch+json"}}
				}
				resp, body := s.call(t, tc.method, tc.path, strings.NewReader(tc.body), h)
				expectProblem(t, resp, body, http.StatusBadRequest, tc.detail...)
			})
		}
		resp, body := s.call(t, "GET", catalogPath+"/dataSets", nil, nil)
		if resp.StatusCode != http.StatusOK || len(body) > 4<<10 {
			t.Errorf("the dataset listing: %d, %d bytes", resp.StatusCode, len(body))
		}
	})

	batch := s.createBatch(t, dataset)
	t.Run("1 GiB upload, length declared", func(t *testing.T) {
		c := s.dial(t)
		c.send(t, s.head("PUT", uploadPath(batch, dataset, "big.json"), "Content-Type: application/octet-stream",
			"Content-Length: "+strconv.Itoa(1<<30), "Expect: 100-continue"))
		resp, body := c.response(t)
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the file is larger than 1 MiB", "split the records into several files")
	})
	t.Run("1 GiB upload, streamed", func(t *testing.T) {
		c := s.dial(t)
		c.send(t, s.head("PUT", uploadPath(batch, dataset, "big.json"), "Content-Type: application/octet-stream",
			"Transfer-Encoding: chunked"))
		var resp *http.Response
		var body []byte
		used := allocatedDuring(func() {
			go c.sendChunked(&pattern{unit: []byte(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}` + "\n"), left: 1 << 30})
			resp, body = c.response(t)
		})
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the file is larger than 1 MiB")
		if used > 64<<20 {
			t.Errorf("the upload allocated %d bytes: the file was held", used)
		}
	})
	t.Run("batch size", func(t *testing.T) {
		batch := s.createBatch(t, dataset)
		part := func() io.Reader {
			return &pattern{unit: []byte(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}` + "\n"), left: 900 << 10}
		}
		for i, want := range []int{http.StatusOK, http.StatusOK, http.StatusRequestEntityTooLarge} {
			resp, body := s.call(t, "PUT", uploadPath(batch, dataset, fmt.Sprintf("part-%d.json", i)), part(),
				http.Header{"Content-Type": {"application/octet-stream"}})
			if want != http.StatusOK {
				expectProblem(t, resp, body, want, "the batch is larger than 2 MiB", "another batch")
			} else if resp.StatusCode != want {
				t.Fatalf("part %d: %d %s", i, resp.StatusCode, body)
			}
		}
		// A part that does not declare its length is refused where it crosses the limit.
		c := s.dial(t)
		c.send(t, s.head("PUT", uploadPath(batch, dataset, "part-2.json"), "Content-Type: application/octet-stream",
			"Transfer-Encoding: chunked"))
		go c.sendChunked(part())
		resp, body := c.response(t)
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the batch is larger than 2 MiB")
		// Replacing a file counts its new size instead of its old one.
		if resp, body := s.call(t, "PUT", uploadPath(batch, dataset, "part-0.json"), strings.NewReader("{}\n"),
			http.Header{"Content-Type": {"application/octet-stream"}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("replacing a file: %d %s", resp.StatusCode, body)
		}
		if resp, body := s.call(t, "PUT", uploadPath(batch, dataset, "part-2.json"), part(),
			http.Header{"Content-Type": {"application/octet-stream"}}); resp.StatusCode != http.StatusOK {
			t.Fatalf("after the replacement, another part: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("batch files", func(t *testing.T) {
		batch := s.createBatch(t, dataset)
		for i := range 4 {
			resp, body := s.call(t, "PUT", uploadPath(batch, dataset, fmt.Sprintf("f%d.json", i)),
				strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`), http.Header{"Content-Type": {"application/octet-stream"}})
			if i < 3 && resp.StatusCode != http.StatusOK {
				t.Fatalf("file %d: %d %s", i, resp.StatusCode, body)
			}
			if i == 3 {
				expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "holds 3 files, the most a batch may hold", "fewer, larger files")
			}
		}
	})
	t.Run("what was refused was not stored", func(t *testing.T) {
		resp, body := s.call(t, "PUT", uploadPath(batch, dataset, "small.json"), strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`),
			http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("a small upload: %d %s", resp.StatusCode, body)
		}
		s.completeBatch(t, batch)
		b, err := s.engine.GetBatch(context.Background(), batch)
		if err != nil || b.RecordCount != 1 {
			t.Errorf("the batch: %+v, %v; want the one record of the small file", b, err)
		}
	})
}

// What a dataset or an export job keeps, which every read and listing of them repeats, is held to
// a length: a 1 MB schemaRef.id, segment id or Idempotency-Key is refused with a 400 that names the
// field and the limit, without quoting the value back; a record with a namespace past its limit
// fails alone; and a job over profiles of a thousand namespaces names a hundred of them.
func TestProbeLongIdentifiers(t *testing.T) {
	s := serveEngine(t, Options{}, nil)
	crm := s.createDataset(t, aepwire.SchemaProfile)
	dest := s.createDataset(t, aepwire.SchemaProfileUnion)
	mb := strings.Repeat("x", 1_000_000)
	job := func(segment string) string {
		return `{"destination":{"datasetId":"` + dest + `","segmentPerBatch":true},"schema":{"name":"_xdm.context.profile"},` +
			`"filter":{"segments":[{"segmentId":"` + segment + `"}]}}`
	}
	for _, tc := range []struct {
		name, path, body string
		header           http.Header
		detail           []string
	}{
		{"schemaRef.id", catalogPath + "/dataSets", `{"name":"d","schemaRef":{"id":"` + mb + `"}}`, nil,
			[]string{"schemaRef.id is 1000000 characters long, more than the 1024"}},
		{"schemaRef.contentType", catalogPath + "/dataSets", `{"name":"d","schemaRef":{"id":"` + aepwire.SchemaProfile +
			`","contentType":"` + mb + `"}}`, nil, []string{"schemaRef.contentType is 1000000 characters long, more than the 256"}},
		{"segmentId", profilePath + "/export/jobs", job(mb), nil,
			[]string{"filter.segments[0].segmentId is 1000000 characters long, more than the 256"}},
		{"Idempotency-Key", profilePath + "/export/jobs", job("s"), http.Header{"Idempotency-Key": {strings.Repeat("k", 60_000)}},
			[]string{"Idempotency-Key", "60000 characters long, more than the 256"}},
		{"a bad time", profilePath + "/export/jobs", `{"destination":{"datasetId":"` + dest + `"},"schema":{"name":"_xdm.context.profile"},` +
			`"filter":{"fromIngestTimestamp":"` + mb + `"}}`, nil, []string{"filter.fromIngestTimestamp is 1000000 characters long"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := s.call(t, "POST", tc.path, strings.NewReader(tc.body), tc.header)
			expectProblem(t, resp, body, http.StatusBadRequest, tc.detail...)
			if len(body) > 4<<10 {
				t.Errorf("the answer is %d bytes: it quotes the value back", len(body))
			}
		})
	}

	// A thousand profiles, each of its own namespace of 200 characters, and one past the limit.
	var file strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&file, `{"identityMap":{"%s%04d":[{"id":"p%d","primary":true}]}}`+"\n", strings.Repeat("n", 200), i, i)
	}
	fmt.Fprintf(&file, `{"identityMap":{"%s":[{"id":"long","primary":true}]}}`+"\n", strings.Repeat("n", 70_000))
	batch := s.createBatch(t, crm)
	if resp, body := s.call(t, "PUT", uploadPath(batch, crm, "f.json"), strings.NewReader(file.String()), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	s.completeBatch(t, batch)
	b, err := s.engine.GetBatch(t.Context(), batch)
	if err != nil || b.RecordCount != 1000 || len(b.Errors) != 1 || b.Errors[0].Rows[0] != 1001 || len(b.Errors[0].Description) > 1<<10 ||
		!strings.Contains(b.Errors[0].Description, "70000 bytes long, more than the 256 bytes") {
		t.Fatalf("the batch: %+v, %v; want 1000 records, and the last failed saying why, briefly", b, err)
	}
	resp, body := s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(`{"fields":"identities","destination":{"datasetId":"`+
		dest+`"},"schema":{"name":"_xdm.context.profile"}}`), nil)
	var created aepwire.ExportJob
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &created) != nil {
		t.Fatalf("job: %d %s", resp.StatusCode, body)
	}
	done, err := s.engine.WaitExportJob(aepwire.WithSandbox(t.Context(), "prod"), created.ID, nil)
	if err != nil || done.Status != aepwire.JobSucceeded {
		t.Fatalf("job %+v, %v", done, err)
	}
	_, body = s.call(t, "GET", fmt.Sprintf("%s/export/jobs/%d", profilePath, created.ID), nil, nil)
	byNS := done.Metrics.ExportedProfileByNamespaceCounter
	if len(byNS) != aepwire.MaxMetricNamespaces+1 || byNS[aepwire.OtherNamespaces] != 900 || len(body) > 32<<10 {
		t.Errorf("the job names %d namespaces, %d rows under %s, and its GET answers %d bytes; want %d, 900 and at most 32 KiB",
			len(byNS), byNS[aepwire.OtherNamespaces], aepwire.OtherNamespaces, len(body), aepwire.MaxMetricNamespaces+1)
	}
	resp, body = s.call(t, "GET", catalogPath+"/dataSets", nil, nil)
	if resp.StatusCode != http.StatusOK || len(body) > 4<<10 {
		t.Errorf("the dataset listing: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// An idle keep-alive connection is closed, and a thousand of them are not all kept.
func TestProbeIdleConnections(t *testing.T) {
	t.Run("one idle connection", func(t *testing.T) {
		s := serveEngine(t, Options{Timeouts: Timeouts{Idle: 200 * time.Millisecond}}, nil)
		c := s.dial(t)
		c.send(t, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, _ := c.response(t); resp.StatusCode != http.StatusNotFound || resp.Close {
			t.Fatalf("got %d (close %v), want a 404 on a connection kept alive", resp.StatusCode, resp.Close)
		}
		c.waitClosed(t)
	})
	t.Run("a thousand idle connections", func(t *testing.T) {
		const most = 32
		// Idle connections outlive the test: only the limit can close them.
		s := serveEngine(t, Options{Limits: Limits{Conns: most}, Timeouts: Timeouts{Idle: time.Hour}}, nil)
		conns := make([]*rawConn, 1000)
		for i := range conns {
			conns[i] = s.dial(t)
			conns[i].send(t, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, _ := conns[i].response(t); resp.StatusCode != http.StatusNotFound {
				t.Fatalf("connection %d: %d", i, resp.StatusCode)
			}
		}
		// Each connection past the limit closed the one that had waited longest for its next
		// request, so all but the limit's worth end. Which ones stay is not fixed: a connection
		// whose server goroutine is slow to mark it idle counts as newer than those served after it.
		ended := make(chan bool, len(conns))
		for _, c := range conns {
			go func() { ended <- c.closedWithin(time.Minute) }()
		}
		for closed, waited := 0, 0; closed < len(conns)-most; waited++ {
			if waited == len(conns) {
				t.Fatalf("%d of %d connections still open, want at most %d", len(conns)-closed, len(conns), most)
			}
			if <-ended {
				closed++
			}
		}
		// And the server still serves.
		if resp, _ := s.call(t, "GET", profilePath+"/export/jobs", nil, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("after the connections: %d", resp.StatusCode)
		}
	})
}

// Connections that never send a byte, or never start their TLS handshake, hold no place
// against a request: past the limit, each new connection closes the one that has waited longest
// on its client, of its own address when its address is at its limit.
func TestProbeSilentConnections(t *testing.T) {
	for _, tc := range []struct {
		name    string
		perAddr int
		overTLS bool
	}{
		{"the address's places", 0, false}, // a quarter of 4: one place for the address
		{"every place", 4, false},
		{"every place, under TLS", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The headers' timeout outlives the test: only the limit can close the connections.
			s := serveEngineOver(t, Options{Limits: Limits{Conns: 4, ConnsPerAddr: tc.perAddr}, Timeouts: Timeouts{Header: time.Hour}},
				nil, tc.overTLS)
			silent := make([]*rawConn, 40)
			for i := range silent {
				silent[i] = s.dial(t)
			}
			// The server takes connections in the order they came: the request's is the newest.
			req, err := http.NewRequest("GET", s.url+profilePath+"/export/jobs", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = s.headers()
			client := s.client()
			client.Timeout = time.Minute // a ceiling for a server that keeps the request out, not a wait
			resp, err := client.Do(req)
			resp, body := answer(t, resp, err)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("a request after %d silent connections: %d %s", len(silent), resp.StatusCode, body)
			}
			silent[0].waitClosed(t)
		})
	}
}

// One address cannot take every place: past its limit, a new connection from it waits for one
// of the address's own to end, and past as many waiting as it may have served, the one that has
// waited longest is closed, without the connections of other addresses waiting on any of it.
func TestProbeConnectionsPerAddress(t *testing.T) {
	entered := make(chan string, 16)
	release := make(chan struct{})
	hold := func(r *http.Request) *Fault {
		if id := r.Header.Get(aepwire.HeaderRequestID); strings.HasPrefix(id, "held-") {
			entered <- id
			<-release
		}
		return nil
	}
	s := serveEngine(t, Options{Limits: Limits{Conns: 4, ConnsPerAddr: 2}, Faults: hold}, nil)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	request := func(id string) *rawConn {
		c := s.dial(t)
		c.send(t, s.head("GET", profilePath+"/export/jobs", "X-Request-Id: "+id))
		return c
	}
	// Two requests of 127.0.0.1 are being served, and held.
	var served []*rawConn
	for _, id := range []string{"held-0", "held-1"} {
		served = append(served, request(id))
		if got := <-entered; got != id {
			t.Fatalf("request %s was served, want %s", got, id)
		}
	}
	// Two more connections wait for a place; with a third, the first of them is closed.
	dropped := request("held-2")
	waiting := []*rawConn{request("held-3"), request("held-4")}
	closed := make(chan bool, 1)
	go func() { closed <- dropped.closedWithin(time.Minute) }()
	select {
	case id := <-entered:
		t.Fatalf("request %s was served while two of its address's were, past ConnsPerAddr 2", id)
	case ok := <-closed:
		if !ok {
			t.Fatal("the connection from the address waiting longest was kept open for a minute")
		}
	}
	s.logs.waitFor(t, "connection from 127.0.0.1 closed unserved: 2 connections from its address were served and 2 more waited",
		"limit of connections per address", "raise the limit")

	t.Run("another address meanwhile", func(t *testing.T) {
		from := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
		c, err := from.Dial("tcp", s.addr)
		if err != nil {
			t.Skipf("this system does not dial from 127.0.0.2: %v", err)
		}
		_ = c.Close()
		req, err := http.NewRequest("GET", s.url+profilePath+"/export/jobs", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header = s.headers()
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, DialContext: from.DialContext},
			Timeout: time.Minute} // a ceiling, not a wait
		resp, err := client.Do(req)
		if resp, body := answer(t, resp, err); resp.StatusCode != http.StatusOK {
			t.Errorf("a request from 127.0.0.2: %d %s", resp.StatusCode, body)
		}
	})

	// Once the address's requests are answered, the connections that waited are served.
	released = true
	close(release)
	for i, c := range append(served, waiting...) {
		if resp, body := c.response(t); resp.StatusCode != http.StatusOK {
			t.Errorf("connection %d: %d %s", i, resp.StatusCode, body)
		}
	}
}

// A client that sends its headers or body a byte at a time, or never takes its answer, is cut
// off; a client that moves data steadily is not, however much of it there is.
func TestProbeSlowClients(t *testing.T) {
	quick := Timeouts{Header: 300 * time.Millisecond, Transfer: 300 * time.Millisecond, MinRate: 1 << 10}
	t.Run("headers a byte at a time", func(t *testing.T) {
		s := serveEngine(t, Options{Timeouts: quick}, nil)
		c := s.dial(t)
		c.send(t, "GET /data/core/ups/export/jobs HTTP/1.1\r\nHost: x\r\nX-Slow: a")
		stop := trickle(c, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 50*time.Millisecond)
		defer stop()
		c.waitClosed(t)
	})
	t.Run("a body a byte at a time", func(t *testing.T) {
		s := serveEngine(t, Options{Timeouts: quick}, nil)
		c := s.dial(t)
		c.send(t, s.head("POST", catalogPath+"/dataSets", "Content-Length: 100"))
		stop := trickle(c, `{"name":"slow","description":"`+strings.Repeat("s", 100), 50*time.Millisecond)
		defer stop()
		resp, body := c.response(t)
		expectProblem(t, resp, body, http.StatusRequestTimeout, "the request body arrived slower than 1 KiB a second", "steady pace")
		c.waitClosed(t)
	})

	t.Run("a body no handler reads, never sent", func(t *testing.T) {
		s := serveEngine(t, Options{Timeouts: quick}, nil)
		for _, tc := range []struct {
			head string
			want int
		}{
			{s.head("GET", profilePath+"/export/jobs", "Content-Length: 1000"), http.StatusOK},
			// Refused before any handler: no credentials.
			{"POST " + catalogPath + "/dataSets HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n", http.StatusForbidden},
		} {
			c := s.dial(t)
			c.send(t, tc.head)
			if resp, body := c.response(t); resp.StatusCode != tc.want || !resp.Close {
				t.Errorf("got %d (close %v) %s, want %d and the connection closed", resp.StatusCode, resp.Close, body, tc.want)
			}
			c.waitClosed(t)
		}
	})

	steady := Timeouts{Transfer: 2 * time.Second, MinRate: 1 << 10}
	s := serveEngine(t, Options{Timeouts: steady, Limits: Limits{File: 64 << 20}}, nil)
	dataset := s.createDataset(t, aepwire.SchemaProfile)
	batch := s.createBatch(t, dataset)
	const size = 16 << 20
	line := []byte(`{"identityMap":{"Email":[{"id":"a@example.com"}]},"pad":"` + strings.Repeat("p", 960) + `"}` + "\n")
	t.Run("a large upload, streamed", func(t *testing.T) {
		resp, body := s.call(t, "PUT", uploadPath(batch, dataset, "large.json"), io.NopCloser(&pattern{unit: line, left: size}),
			http.Header{"Content-Type": {"application/octet-stream"}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("upload: %d %s", resp.StatusCode, body)
		}
		s.completeBatch(t, batch)
	})
	download := func(t *testing.T) string {
		resp, body := s.call(t, "GET", exportDataPath+"/batches/"+batch+"/files", nil, nil)
		var list aepwire.DataSetFileList
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Data) != 1 {
			t.Fatalf("files: %d %s", resp.StatusCode, body)
		}
		resp, body = s.call(t, "GET", strings.TrimPrefix(list.Data[0].Links.Self.Href, s.url), nil, nil)
		var phys aepwire.PhysicalFileList
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &phys) != nil || len(phys.Data) != 1 {
			t.Fatalf("physical files: %d %s", resp.StatusCode, body)
		}
		return strings.TrimPrefix(phys.Data[0].Links.Self.Href, s.url)
	}
	t.Run("a large download, streamed", func(t *testing.T) {
		resp, body := s.call(t, "GET", download(t), nil, nil)
		want := sha256.New()
		_, _ = io.Copy(want, &pattern{unit: line, left: size})
		if got := sha256.Sum256(body); resp.StatusCode != http.StatusOK || len(body) != size || !bytes.Equal(got[:], want.Sum(nil)) {
			t.Fatalf("download: %d, %d bytes, want the %d uploaded", resp.StatusCode, len(body), size)
		}
	})
	t.Run("an answer never taken", func(t *testing.T) {
		path := download(t)
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) { _ = setReceiveBuffer(fd, 4<<10) })
		}}
		conn, err := d.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, s.head("GET", path, "X-Request-Id: probe-never-taken")); err != nil {
			t.Fatal(err)
		}
		// The server gives up on the answer: its handler ends, and logs the request.
		s.logs.waitFor(t, "request probe-never-taken")
		got, _ := io.Copy(io.Discard, conn)
		if got >= size {
			t.Errorf("the client took all %d bytes after the server gave up", got)
		}
	})
}

// trickle sends s a byte at a time, every interval, until it is sent or stopped.
func trickle(c *rawConn, s string, every time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; i < len(s); i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if _, err := c.Write([]byte{s[i]}); err != nil {
				return
			}
		}
	}()
	return func() { close(done) }
}

// Files 0600 and directories 0700 under the data directory, whatever the umask.
func TestProbeFilePermissions(t *testing.T) {
	// The most permissive umask: whatever the engine's files end up as, it asked for.
	withUmask(t, 0)
	s := serveEngine(t, Options{}, nil)
	s.ingestProfile(t)
	dest := s.createDataset(t, aepwire.SchemaProfileUnion)
	resp, body := s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(`{"destination":{"datasetId":"`+dest+
		`"},"schema":{"name":"_xdm.context.profile"}}`), nil)
	var job aepwire.ExportJob
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &job) != nil {
		t.Fatalf("export job: %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if done, err := s.engine.WaitExportJob(ctx, job.ID, nil); err != nil || done.Status != "SUCCEEDED" {
		t.Fatalf("export job: %+v, %v", done, err)
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(s.engine.DataDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		seen[filepath.Ext(path)] = true
		if want := fs.FileMode(0o600); d.IsDir() {
			if info.Mode().Perm() != 0o700 {
				t.Errorf("%s is %o, want 700", path, info.Mode().Perm())
			}
		} else if info.Mode().Perm() != want {
			t.Errorf("%s is %o, want %o", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// What the walk must have met: the database and its WAL, a profile segment, an upload, an
	// exported file, a job's lock file.
	for _, ext := range []string{".db", ".db-wal", ".db-shm", ".seg", ".json", ".lock"} {
		if !seen[ext] {
			t.Errorf("no %s file under the data directory: %v", ext, seen)
		}
	}
}

// Links in answers name the public URL, or the address the connection came in on; never the
// Host the request names. A client follows only links on its endpoint, so a server that links
// elsewhere hands nobody its token.
func TestProbeLinks(t *testing.T) {
	evil := http.Header{"Host": {"evil.example:666"}}
	links := func(s *served, batch string) []string {
		resp, body := s.call(t, "GET", exportDataPath+"/batches/"+batch+"/files?limit=1", nil, evil)
		var list aepwire.DataSetFileList
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &list) != nil || len(list.Data) != 1 {
			t.Fatalf("files: %d %s", resp.StatusCode, body)
		}
		out := []string{list.Data[0].Links.Self.Href}
		resp, body = s.call(t, "GET", strings.TrimPrefix(strings.TrimPrefix(out[0], s.url), s.server.opts.PublicURL), nil, evil)
		var phys aepwire.PhysicalFileList
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &phys) != nil || len(phys.Data) != 1 {
			t.Fatalf("physical files: %d %s", resp.StatusCode, body)
		}
		out = append(out, phys.Data[0].Links.Self.Href)
		dest := s.createDataset(t, aepwire.SchemaProfileUnion)
		resp, body = s.call(t, "POST", profilePath+"/export/jobs", strings.NewReader(`{"destination":{"datasetId":"`+dest+
			`"},"schema":{"name":"_xdm.context.profile"}}`), evil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("export job: %d %s", resp.StatusCode, body)
		}
		return append(out, resp.Header.Get("X-Location"))
	}

	t.Run("by default, the connection's address", func(t *testing.T) {
		s := serveEngine(t, Options{}, nil)
		for _, l := range links(s, s.ingestProfile(t)) {
			if !strings.HasPrefix(l, s.url+"/") {
				t.Errorf("link %q, want it on %s", l, s.url)
			}
		}
	})
	t.Run("the public URL", func(t *testing.T) {
		s := serveEngine(t, Options{PublicURL: "https://aep.example.com:8443/"}, nil)
		for _, l := range links(s, s.ingestProfile(t)) {
			if !strings.HasPrefix(l, "https://aep.example.com:8443/data/") {
				t.Errorf("link %q, want it on the public URL", l)
			}
		}
	})
	t.Run("a client does not follow links elsewhere", func(t *testing.T) {
		heard := make(chan string, 16)
		elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			heard <- r.Header.Get("Authorization")
		}))
		defer elsewhere.Close()
		s := serveEngine(t, Options{PublicURL: elsewhere.URL}, nil)
		batch := s.ingestProfile(t)
		c, err := aepclient.New(aepclient.Config{Endpoint: s.url, IMSEndpoint: s.url, ClientID: probeClient, ClientSecret: probeSecret,
			OrgID: probeOrg})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListBatchFiles(context.Background(), batch); err == nil || !strings.Contains(err.Error(), "does not follow it") {
			t.Errorf("ListBatchFiles: %v, want the link refused", err)
		}
		select {
		case auth := <-heard:
			t.Errorf("the other host was sent a request, with Authorization %q", auth)
		default:
		}
	})
}

// The token endpoint tells nobody which client ids exist, compares secrets in constant time,
// locks a client id out after failures, and forgets the tokens that expired.
func TestProbeTokenEndpoint(t *testing.T) {
	t.Run("one answer for every bad credential", func(t *testing.T) {
		s := serveEngine(t, Options{}, nil)
		unknownResp, unknown := s.tokenRequest(t, "nobody", probeSecret)
		wrongResp, wrong := s.tokenRequest(t, probeClient, "wrong")
		if unknownResp.StatusCode != http.StatusUnauthorized || !bytes.Equal(unknown, wrong) || unknownResp.StatusCode != wrongResp.StatusCode {
			t.Errorf("unknown client id: %d %s\nwrong secret: %d %s", unknownResp.StatusCode, unknown, wrongResp.StatusCode, wrong)
		}
		for _, h := range []http.Header{unknownResp.Header, wrongResp.Header} {
			h.Del("Date")
			h.Del(aepwire.HeaderRequestID)
		}
		if fmt.Sprint(unknownResp.Header) != fmt.Sprint(wrongResp.Header) {
			t.Errorf("headers differ:\n%v\n%v", unknownResp.Header, wrongResp.Header)
		}
	})
	t.Run("secrets compared in constant time", func(t *testing.T) {
		s := serveEngine(t, Options{}, nil)
		var calls []int
		constantTime := s.server.compare
		s.server.compare = func(a, b []byte) int {
			calls = append(calls, len(a), len(b))
			return constantTime(a, b)
		}
		var seen []string
		for _, c := range [][2]string{{"nobody", "x"}, {probeClient, "wrong secret of another length"}, {probeClient, probeSecret}} {
			calls = nil
			s.tokenRequest(t, c[0], c[1])
			seen = append(seen, fmt.Sprint(calls))
		}
		// The same comparisons, of digests of the same length, whatever the credentials.
		if want := fmt.Sprint([]int{32, 32, 32, 32}); seen[0] != want || seen[1] != want || seen[2] != want {
			t.Errorf("comparisons (lengths) for an unknown id, a wrong secret, the right one: %v, want %s each", seen, want)
		}
	})
	t.Run("500 wrong secrets", func(t *testing.T) {
		s := serveEngine(t, Options{}, nil)
		statuses := map[int]int{}
		var retryAfter string
		for i := range 500 {
			resp, _ := s.tokenRequest(t, probeClient, "guess-"+strconv.Itoa(i))
			statuses[resp.StatusCode]++
			if resp.StatusCode == http.StatusTooManyRequests {
				retryAfter = resp.Header.Get("Retry-After")
			}
		}
		if statuses[http.StatusUnauthorized] != freeFailures+1 || statuses[http.StatusTooManyRequests] != 500-freeFailures-1 || retryAfter != "1" {
			t.Errorf("statuses %v, Retry-After %q; want %d refusals, then 429s with Retry-After 1", statuses, retryAfter, freeFailures+1)
		}
		// The lockout is of the address the failures came from: the same client id from another
		// address gets its token (and that success does not clear this address's lockout).
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {probeClient}, "client_secret": {probeSecret}}
		req := httptest.NewRequest("POST", "/ims/token/v3", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = "192.0.2.7:40000"
		rec := httptest.NewRecorder()
		s.server.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Errorf("the right secret from another address, during this one's lockout: %d %s", rec.Code, rec.Body)
		}
		// Even the right secret waits out the lockout, which doubles with each failure after it.
		if resp, _ := s.tokenRequest(t, probeClient, probeSecret); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("the right secret during a lockout: %d", resp.StatusCode)
		}
		for _, lockout := range []string{"2", "4", "8"} {
			wait, _ := strconv.Atoi(retryAfter)
			s.clock.Advance(time.Duration(wait) * time.Second)
			if resp, _ := s.tokenRequest(t, probeClient, "guess"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("after the lockout: %d", resp.StatusCode)
			}
			resp, _ := s.tokenRequest(t, probeClient, "guess")
			if retryAfter = resp.Header.Get("Retry-After"); resp.StatusCode != http.StatusTooManyRequests || retryAfter != lockout {
				t.Fatalf("then: %d, Retry-After %q, want 429 with %s", resp.StatusCode, retryAfter, lockout)
			}
		}
		// An unknown client id is locked out alike, so that the lockout tells nothing either.
		for range freeFailures + 1 {
			s.tokenRequest(t, "nobody", "guess")
		}
		if resp, _ := s.tokenRequest(t, "nobody", "guess"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
			t.Errorf("an unknown client id after %d failures: %d", freeFailures+1, resp.StatusCode)
		}
		s.clock.Advance(8 * time.Second)
		if resp, body := s.tokenRequest(t, probeClient, probeSecret); resp.StatusCode != http.StatusOK {
			t.Errorf("the right secret after the lockout: %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.tokenRequest(t, probeClient, "one more guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a success clears the failures, but the next one is %d", resp.StatusCode)
		}
	})
	t.Run("a form past its limit", func(t *testing.T) {
		s := serveEngine(t, Options{}, nil)
		head := "POST /ims/token/v3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
		form := func() io.Reader {
			return io.MultiReader(strings.NewReader("grant_type=client_credentials&client_id=x&client_secret="),
				&pattern{unit: []byte("s"), left: 64 << 10})
		}
		c := s.dial(t)
		c.send(t, head+"Content-Length: "+strconv.Itoa(64<<10+56)+"\r\nExpect: 100-continue\r\n\r\n")
		resp, body := c.response(t) // not a byte of the form sent
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the token request's form is larger than 8 KiB",
			"send grant_type, client_id, client_secret and scope")
		c = s.dial(t)
		c.send(t, head+"Transfer-Encoding: chunked\r\n\r\n")
		go c.sendChunked(form())
		resp, body = c.response(t)
		expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "the token request's form is larger than 8 KiB")
	})
	t.Run("expired tokens forgotten", func(t *testing.T) {
		s := serveEngine(t, Options{TokenLifetime: time.Hour}, nil)
		old := s.token
		s.clock.Advance(time.Hour)
		if resp, _ := s.call(t, "GET", profilePath+"/export/jobs", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("an expired token: %d", resp.StatusCode)
		}
		fresh, _ := s.tokenRequest(t, probeClient, probeSecret)
		if fresh.StatusCode != http.StatusOK {
			t.Fatal(fresh.Status)
		}
		s.clock.Advance(time.Hour + sweepTokensEvery)
		s.tokenRequest(t, probeClient, probeSecret) // sweeps
		s.server.auth.mu.Lock()
		held, kept := len(s.server.auth.tokens), s.server.auth.tokens[old]
		s.server.auth.mu.Unlock()
		if held != 1 || kept.clientID != "" {
			t.Errorf("%d tokens held after two expired, want only the new one", held)
		}
		// However many are issued, at most maxTokens are held, and the last one issued is.
		now := s.clock.Now()
		for i := range 3 * maxTokens {
			s.server.auth.issue(strconv.Itoa(i), issuedToken{clientID: probeClient, expires: now.Add(time.Duration(i) * time.Second)}, now)
		}
		s.server.auth.mu.Lock()
		held = len(s.server.auth.tokens)
		_, first := s.server.auth.tokens["0"]
		_, last := s.server.auth.tokens[strconv.Itoa(3*maxTokens-1)]
		s.server.auth.mu.Unlock()
		if held > maxTokens || first || !last {
			t.Errorf("%d tokens held (the first kept: %v, the last: %v), want at most %d", held, first, last, maxTokens)
		}
	})
}

// File names a file system would take badly are a 400 naming the rule, never a 500 with the
// server's paths.
func TestProbeFileNames(t *testing.T) {
	s := serveEngine(t, Options{}, nil)
	dataset := s.createDataset(t, aepwire.SchemaProfile)
	batch := s.createBatch(t, dataset)
	for _, tc := range []struct{ name, rule string }{
		{"a\x00b.json", "control character"},
		{"a\nb.json", "control character"},
		{"a\rb.json", "control character"},
		{"tab\t.json", "control character"},
		{strings.Repeat("x", 300) + ".json", "305 bytes long, and a name may have at most 255"},
		{"a/b.json", "path separator"},
		{`a\b.json`, "path separator"},
		{"../up.json", "path separator"},
		{".hidden", "starts with a dot"},
		{"bad\xff.json", "not valid UTF-8"},
	} {
		resp, body := s.call(t, "PUT", uploadPath(batch, dataset, tc.name), strings.NewReader("{}"),
			http.Header{"Content-Type": {"application/octet-stream"}})
		expectProblem(t, resp, body, http.StatusBadRequest, tc.rule, "use a plain name")
		if bytes.Contains(body, []byte(s.engine.DataDir())) {
			t.Errorf("%q: the answer names the data directory: %s", tc.name, body)
		}
	}
	// The longest name allowed is stored.
	name := strings.Repeat("y", aepwire.MaxFileNameBytes-5) + ".json"
	if resp, body := s.call(t, "PUT", uploadPath(batch, dataset, name), strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`),
		http.Header{"Content-Type": {"application/octet-stream"}}); resp.StatusCode != http.StatusOK {
		t.Errorf("a name of %d bytes: %d %s", len(name), resp.StatusCode, body)
	}
}

// What a client sends is quoted in the log: a path holding a line break cannot forge a line.
func TestProbeLogForging(t *testing.T) {
	s := serveEngine(t, Options{}, nil)
	forged := "2026/03/01 12:00:00 DELETE /data/foundation/catalog/dataSets/all 200 0s"
	c := s.dial(t)
	c.send(t, "GET /x%0A"+strings.ReplaceAll(forged, " ", "%20")+" HTTP/1.1\r\nHost: x\r\nX-Request-Id: probe-forge\r\n\r\n")
	if resp, _ := c.response(t); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("got %d", resp.StatusCode)
	}
	line := s.logs.waitFor(t, "request probe-forge")
	if strings.ContainsAny(line, "\r\n") || !strings.Contains(line, `"/x\n2026/03/01`) {
		t.Errorf("the log line does not quote the path: %q", line)
	}
	// A request id that could confuse a log line is not used as it is.
	c = s.dial(t)
	c.send(t, "GET /y HTTP/1.1\r\nHost: x\r\nX-Request-Id: a b \"c\" 200 0s\r\n\r\n")
	resp, _ := c.response(t)
	if id := resp.Header.Get(aepwire.HeaderRequestID); id == "" || strings.ContainsAny(id, " \"") {
		t.Errorf("request id %q", id)
	}
	for _, l := range s.logs.all() {
		if strings.ContainsAny(l, "\r\n") {
			t.Errorf("a log line breaks: %q", l)
		}
	}
}

// failingPlatform is the engine with one call failing as a disk would, naming its paths, and
// one panicking.
type failingPlatform struct {
	*exportengine.Engine
}

func (failingPlatform) ListDatasetsPage(context.Context, aepwire.CatalogQuery) ([]*aepwire.Dataset, error) {
	return nil, &os.PathError{Op: "open", Path: "/srv/aep-private/aep.db", Err: errors.New("input/output error")}
}

func (failingPlatform) ListMergePolicies(context.Context) ([]*aepwire.MergePolicy, error) {
	panic("policies: index out of range in /srv/aep-private/policies.go")
}

// A 500 says "internal error" and the request id; the detail, with the server's paths, is in
// the log only.
func TestProbeInternalError(t *testing.T) {
	s := serveEngine(t, Options{}, func(e *exportengine.Engine) Platform { return failingPlatform{e} })
	resp, body := s.call(t, "GET", catalogPath+"/dataSets", nil, http.Header{"X-Request-Id": {"probe-500"}})
	expectProblem(t, resp, body, http.StatusInternalServerError, "internal error (request id probe-500)")
	if bytes.Contains(body, []byte("aep-private")) || bytes.Contains(body, []byte("input/output")) {
		t.Errorf("the answer tells the detail: %s", body)
	}
	if resp.Header.Get(aepwire.HeaderRequestID) != "probe-500" {
		t.Errorf("request id %q", resp.Header.Get(aepwire.HeaderRequestID))
	}
	s.logs.waitFor(t, "request probe-500", "internal error", "/srv/aep-private/aep.db: input/output error")

	resp, body = s.call(t, "GET", profilePath+"/config/mergePolicies", nil, http.Header{"X-Request-Id": {"probe-panic"}})
	expectProblem(t, resp, body, http.StatusInternalServerError, "internal error (request id probe-panic)")
	if bytes.Contains(body, []byte("aep-private")) {
		t.Errorf("the answer tells the detail: %s", body)
	}
	s.logs.waitFor(t, "request probe-panic", "panic", "/srv/aep-private/policies.go")
	if resp, _ := s.call(t, "GET", profilePath+"/export/jobs", nil, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after a panic the server answers %d", resp.StatusCode)
	}
}

// A batch's count of files and bytes is its sandbox's: an upload from another sandbox into a
// batch that is full gets the 404 of a batch that does not exist, not the 413 that would say the
// batch is there and full, and it counts nothing against the batch.
func TestProbeUploadLimitsAreTheSandboxs(t *testing.T) {
	s := serveEngine(t, Options{Sandboxes: []string{"prod", "dev"}, Limits: Limits{BatchFiles: 2, Batch: 1 << 10}}, nil)
	in := func(sandbox string) http.Header { return http.Header{"X-Sandbox-Name": {sandbox}} }
	resp, body := s.call(t, "POST", catalogPath+"/dataSets", strings.NewReader(`{"name":"probe","schemaRef":{"id":"`+
		aepwire.SchemaProfile+`"},"tags":{"unifiedProfile":["enabled:true"]}}`), in("dev"))
	var refs []string
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &refs) != nil || len(refs) != 1 {
		t.Fatalf("dataset: %d %s", resp.StatusCode, body)
	}
	dataset := refs[0][strings.LastIndexByte(refs[0], '/')+1:]
	resp, body = s.call(t, "POST", importPath+"/batches", strings.NewReader(`{"datasetId":"`+dataset+`","inputFormat":{"format":"json"}}`), in("dev"))
	var b aepwire.Batch
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &b) != nil {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	record := `{"identityMap":{"email":[{"id":"a@example.com","primary":true}]}}`
	upload := func(sandbox, name, body string) (*http.Response, []byte) {
		return s.call(t, "PUT", uploadPath(b.ID, dataset, name), strings.NewReader(body), in(sandbox))
	}
	// From prod the batch does not exist, whatever it holds, and prod's uploads count nothing
	// against it: dev's own refusals below are the same before and after each probe.
	probe := func(name, body string) {
		t.Helper()
		if resp, answer := upload("prod", name, body); resp.StatusCode != http.StatusNotFound {
			t.Errorf("prod's upload of %s into dev's batch: %d %s, want 404", name, resp.StatusCode, answer)
		}
	}

	big := strings.Repeat(" ", 800) + record
	if resp, answer := upload("dev", "one.json", big); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, answer)
	}
	// dev's batch is nearly as large as it may be: a second large file from dev is refused as such.
	resp, body = upload("dev", "two.json", big)
	expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "larger than 1 KiB")
	probe("two.json", big)

	if resp, answer := upload("dev", "two.json", record); resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, answer)
	}
	// dev's batch holds as many files as it may: a third from dev is refused as such.
	resp, body = upload("dev", "three.json", record)
	expectProblem(t, resp, body, http.StatusRequestEntityTooLarge, "holds 2 files")
	probe("three.json", record)
	probe("one.json", record)

	// dev may still replace its files as before.
	if resp, answer := upload("dev", "one.json", record); resp.StatusCode != http.StatusOK {
		t.Fatalf("dev's upload replacing its file: %d %s", resp.StatusCode, answer)
	}
}
