// Package contracttest checks HTTP traffic against Adobe's published OpenAPI specifications of
// the Experience Platform APIs that this provider speaks, so that the remote client and the served
// engine are judged by the real API rather than by each other. Tests wrap a served engine with
// Handler: every request that reaches it (what the client sends) and every answer it gives (what
// the engine returns) is validated, and what does not match fails the test, unless the written
// list of exceptions in exceptions.go waives that rule, with its evidence.
//
// The specifications are read from ../shared/reference/openapi beside the module's root (or from
// $AEP_OPENAPI_DIR). Where they are absent, Handler validates nothing and says so in the test's
// log, and the tests of this package skip, naming the path.
//
// The validator is kin-openapi's openapi3filter (v0.153.0). libopenapi-validator (pb33f, v0.16.3)
// was tried beside it on the same five files: kin-openapi loads all five as Adobe publishes them,
// while libopenapi-validator could not build a validator for segmentation.yaml (it tries to
// resolve the XDM schema URL https://ns.adobe.com/xdm/context/profile__union as a reference),
// and its document check fails data-access.yaml and profile.yaml on their unquoted status codes
// (200: rather than "200":). kin-openapi also comes with four small
// modules where libopenapi-validator brings eleven and a newer golang.org/x/net than the
// provider's own graph, and openapi3filter validates one request or one response at a time
// against a route found here, which is what a recorder between a test server and its handler
// needs. The specs are OpenAPI 3.0.1, so libopenapi's 3.1 support buys nothing here.
package contracttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// SpecFiles are the specifications read, one per API.
var SpecFiles = []string{"segmentation.yaml", "profile.yaml", "catalog.yaml", "batch-ingestion.yaml", "data-access.yaml"}

// EnvDir names a directory of the specifications other than the default.
const EnvDir = "AEP_OPENAPI_DIR"

// SpecsDir is where the specifications are looked for: $AEP_OPENAPI_DIR, else
// ../shared/reference/openapi beside the directory holding go.mod.
func SpecsDir() string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "reference", "openapi")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", "reference", "openapi")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join("..", "shared", "reference", "openapi")
		}
		dir = parent
	}
}

// api is one specification: the base path its paths are relative to, and its operations.
type api struct {
	file string
	base string
	doc  *openapi3.T
	ops  []operation
}

type operation struct {
	method   string
	template string   // the spec's path key, such as /export/jobs/{EXPORT_JOB_ID}
	segments []string // the template split at '/'
	literals int      // how many segments are not parameters: the more, the better a match
	item     *openapi3.PathItem
	op       *openapi3.Operation
}

// Specs are the loaded specifications.
type Specs struct {
	Dir  string
	apis []*api
}

var (
	loadOnce   sync.Once
	loaded     *Specs
	errLoading error
)

// Load reads the specifications once per process. An error wrapping os.ErrNotExist means they
// are absent.
func Load() (*Specs, error) {
	loadOnce.Do(func() { loaded, errLoading = load(SpecsDir()) })
	return loaded, errLoading
}

func load(dir string) (*Specs, error) {
	s := &Specs{Dir: dir}
	for _, name := range SpecFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("the OpenAPI specification %s: %w", path, err)
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		a := &api{file: name, doc: doc}
		if len(doc.Servers) == 0 {
			return nil, fmt.Errorf("%s names no server, so its base path is unknown", path)
		}
		a.base = basePath(doc.Servers[0].URL)
		for template, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				o := operation{method: method, template: template, segments: strings.Split(template, "/"), item: item, op: op}
				for _, seg := range o.segments {
					if !strings.HasPrefix(seg, "{") {
						o.literals++
					}
				}
				a.ops = append(a.ops, o)
			}
		}
		s.apis = append(s.apis, a)
	}
	// The longest base path first, so that /data/core/ups wins over /data/core.
	sort.SliceStable(s.apis, func(i, j int) bool { return len(s.apis[i].base) > len(s.apis[j].base) })
	return s, nil
}

// basePath is the path of a server URL such as //{environment}.adobe.io/data/core/ups.
func basePath(u string) string {
	rest := u
	if i := strings.Index(rest, "//"); i >= 0 {
		rest = rest[i+2:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			rest = rest[j:]
		} else {
			rest = ""
		}
	}
	return strings.TrimRight(rest, "/")
}

// route finds the operation of a request: its API, the spec's path, and the path parameters.
// When no operation matches, the API is the one whose base path the request is under, if any.
func (s *Specs) route(method, path string) (*api, *operation, map[string]string) {
	var under *api
	for _, a := range s.apis {
		rel, ok := strings.CutPrefix(path, a.base)
		if !ok || (rel != "" && rel[0] != '/') {
			continue
		}
		if under == nil {
			under = a
		}
		segs := strings.Split(rel, "/")
		var best *operation
		var params map[string]string
		for i := range a.ops {
			o := &a.ops[i]
			if o.method != method || len(o.segments) != len(segs) || (best != nil && best.literals >= o.literals) {
				continue
			}
			if p, ok := matchSegments(o.segments, segs); ok {
				best, params = o, p
			}
		}
		if best != nil {
			return a, best, params
		}
	}
	return under, nil, nil
}

func matchSegments(template, segs []string) (map[string]string, bool) {
	params := map[string]string{}
	for i, t := range template {
		if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
			if segs[i] == "" {
				return nil, false
			}
			params[t[1:len(t)-1]] = segs[i]
			continue
		}
		if t != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// Counts of the whole test binary, for its summary.
var (
	requestsValidated  atomic.Int64
	responsesValidated atomic.Int64
	violationsFound    atomic.Int64
	waivedMu           sync.Mutex
	waived             = map[int]int64{} // exceptions index → violations waived
)

// Summary says how much traffic this test binary validated, and which exceptions it applied.
func Summary() string {
	if _, err := Load(); err != nil {
		return "contract checks: off, " + err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "contract checks: %d requests and %d responses validated against Adobe's OpenAPI specifications; "+
		"%d violations outside the exceptions", requestsValidated.Load(), responsesValidated.Load(), violationsFound.Load())
	waivedMu.Lock()
	defer waivedMu.Unlock()
	idx := make([]int, 0, len(waived))
	for i := range waived {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		fmt.Fprintf(&b, "\n  waived %d× %s", waived[i], Exceptions[i].Name)
	}
	return b.String()
}

// Main runs a test binary's tests (from its TestMain) and prints the Summary, so that every run
// with -v says how much traffic it validated; it returns the exit code.
func Main(m *testing.M) int {
	code := m.Run()
	fmt.Println(Summary())
	return code
}

// Counts returns the requests and responses validated so far by this test binary.
func Counts() (requests, responses int64) {
	return requestsValidated.Load(), responsesValidated.Load()
}

// Checker validates the traffic of one test.
type Checker struct {
	specs *Specs

	mu         sync.Mutex
	violations []string
}

// Violation is a mismatch between an exchange and the specification, outside the exceptions.
type Violation struct {
	Exchange string // "GET /data/core/ups/export/jobs/12 → 200"
	Problem  string
}

// New returns a checker, or nil and the reason when the specifications are absent. Other load
// failures are test failures.
func New(t testing.TB) *Checker {
	t.Helper()
	specs, err := Load()
	if errors.Is(err, os.ErrNotExist) {
		t.Logf("contract checks are off: %v", err)
		return nil
	}
	if err != nil {
		t.Fatalf("contract checks: %v", err)
	}
	return &Checker{specs: specs}
}

// Handler returns next wrapped so that its traffic is validated, and registers a cleanup that
// fails t with every violation seen. Without the specifications it returns next as it is.
func Handler(t testing.TB, next http.Handler) http.Handler {
	t.Helper()
	c := New(t)
	if c == nil {
		return next
	}
	t.Cleanup(func() {
		for _, v := range c.Violations() {
			t.Errorf("contract violation: %s", v)
		}
	})
	return c.Wrap(next)
}

// Violations returns what the checker found, one line each.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

func (c *Checker) report(exchange string, problems []string) {
	if len(problems) == 0 {
		return
	}
	violationsFound.Add(int64(len(problems)))
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range problems {
		c.violations = append(c.violations, exchange+": "+p)
	}
}

// maxBody bounds what is buffered for validation; the API calls of tests are far smaller.
const maxBody = 32 << 20

// Wrap returns next with its traffic validated.
func (c *Checker) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		// The handler gets the whole body, however much of it was read here.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err != nil {
			// The client went away while sending: nothing to judge.
			next.ServeHTTP(w, r)
			return
		}
		ex := c.checkRequest(r, body)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		ex.checkResponse(rec)
	})
}

// exchange is one request being validated, and what its response needs to be validated too.
type exchange struct {
	c     *Checker
	name  string
	input *openapi3filter.RequestValidationInput
	opKey string
	skip  bool // no operation to judge the response by
}

func (c *Checker) checkRequest(r *http.Request, body []byte) *exchange {
	name := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		name += "?" + r.URL.RawQuery
	}
	ex := &exchange{c: c, name: name}
	a, op, params := c.specs.route(r.Method, r.URL.Path)
	if op == nil {
		ex.skip = true
		where := "no specification covers this path"
		if a != nil {
			where = fmt.Sprintf("%s (base %s) has no operation %s %s", a.file, a.base, r.Method, strings.TrimPrefix(r.URL.Path, a.base))
		}
		ex.opKey = r.Method + " " + r.URL.Path
		c.report(name, c.filter(ex.opKey, "request", r.URL.Query(), []string{"unknown operation: " + where}))
		return ex
	}
	ex.opKey = op.method + " " + a.base + op.template
	// A copy, so that validation reads the body without taking it from the handler.
	req := r.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) > maxBody {
		c.report(name, []string{fmt.Sprintf("the request body is over %d bytes: too large to validate", maxBody)})
		ex.skip = true
		return ex
	}
	route := &routers.Route{Spec: a.doc, Path: op.template, PathItem: op.item, Method: op.method, Operation: op.op}
	ex.input = &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: &openapi3filter.Options{
		MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, SkipSettingDefaults: true,
		IncludeResponseStatus:   true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
	}}
	err := openapi3filter.ValidateRequest(context.Background(), ex.input)
	requestsValidated.Add(1)
	c.report(name, c.filter(ex.opKey, "request", r.URL.Query(), flatten(err)))
	return ex
}

func (ex *exchange) checkResponse(rec *recorder) {
	if ex.skip || !rec.wrote {
		return // no operation to judge by, or the connection was dropped without an answer
	}
	if n := rec.Header().Get("Content-Length"); n != "" && n != fmt.Sprint(rec.body.Len()) && ex.input.Request.Method != http.MethodHead {
		return // the answer was cut off on purpose (an injected fault)
	}
	in := &openapi3filter.ResponseValidationInput{RequestValidationInput: ex.input, Status: rec.status, Header: rec.Header(),
		Options: ex.input.Options}
	in.SetBodyBytes(rec.body.Bytes())
	err := openapi3filter.ValidateResponse(context.Background(), in)
	responsesValidated.Add(1)
	name := fmt.Sprintf("%s → %d", ex.name, rec.status)
	ex.c.report(name, ex.c.filter(ex.opKey, fmt.Sprintf("response %d", rec.status), ex.input.Request.URL.Query(), flatten(err)))
}

// filter drops the problems that an exception waives, counting them.
func (c *Checker) filter(opKey, where string, query url.Values, problems []string) []string {
	var out []string
	for _, p := range problems {
		i := matchException(opKey, where, query, p)
		if i < 0 {
			out = append(out, where+": "+p)
			continue
		}
		waivedMu.Lock()
		waived[i]++
		waivedMu.Unlock()
	}
	return out
}

// flatten turns a validation error into one line per problem: where in the message it is, and
// what is wrong.
func flatten(err error) []string {
	var out []string
	var walk func(prefix string, err error)
	walk = func(prefix string, err error) {
		// The exact tree of validation errors is walked: errors.As would skip a level.
		switch e := err.(type) { //nolint:errorlint
		case nil:
		case openapi3.MultiError:
			for _, inner := range e {
				walk(prefix, inner)
			}
		case *openapi3filter.RequestError:
			switch {
			case e.Parameter != nil:
				prefix += fmt.Sprintf("%s %q: ", e.Parameter.In, e.Parameter.Name)
			case e.RequestBody != nil:
				prefix += "body: "
			}
			if e.Err == nil {
				out = append(out, prefix+e.Reason)
				return
			}
			if e.Reason != "" && e.Reason != e.Err.Error() {
				prefix += e.Reason + ": "
			}
			walk(prefix, e.Err)
		case *openapi3filter.ResponseError:
			if e.Err == nil {
				out = append(out, prefix+e.Reason)
				return
			}
			if e.Reason != "" {
				prefix += e.Reason + ": "
			}
			walk(prefix, e.Err)
		case *openapi3.SchemaError:
			out = append(out, fmt.Sprintf("%s/%s: %s", prefix, strings.Join(e.JSONPointer(), "/"), e.Reason))
		default:
			out = append(out, prefix+err.Error())
		}
	}
	walk("", err)
	return out
}

// recorder passes a response through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if !r.wrote {
		r.status, r.wrote = status, true
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	r.wrote = true
	if r.body.Len() < maxBody {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (to flush, or to drop it).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
