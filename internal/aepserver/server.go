// Package aepserver serves a platform (the embedded engine) over the Adobe Experience Platform
// REST API: the same paths, headers, bodies, status codes and errors, an IMS-compatible token
// endpoint, and the API gateway's checks of credentials. The remote client of this provider is
// tested against it, and teams can share one engine through it.
package aepserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// Platform is what the server serves: the provider's backend, plus the listings and file access
// that only the API offers.
type Platform interface {
	backend.Backend
	ListDatasetsPage(ctx context.Context, q aepwire.CatalogQuery) ([]*aepwire.Dataset, error)
	ListBatchesPage(ctx context.Context, q aepwire.CatalogQuery) ([]*aepwire.Batch, error)
	// DeleteBatchIf deletes a batch whose status fits, checked in the deletion's transaction.
	DeleteBatchIf(ctx context.Context, id string, fits func(status string) error) error
	ListMergePolicies(ctx context.Context) ([]*aepwire.MergePolicy, error)
	OpenBatchFile(ctx context.Context, batchID, name string) (*os.File, error)
	// AcceptBatch is COMPLETE as AEP answers it, at once: the batch is completed in the
	// background, and GetBatch reports when it has ended.
	AcceptBatch(ctx context.Context, batchID string) (*aepwire.Batch, error)
	// The large-file upload (largefiles.go).
	InitLargeFile(ctx context.Context, batchID, datasetID, name string) error
	WriteLargeFilePart(ctx context.Context, batchID, datasetID, name string, start, length int64, body io.Reader) (int64, error)
	LargeFileReceived(ctx context.Context, batchID, datasetID, name string) (int64, error)
	CompleteLargeFile(ctx context.Context, batchID, datasetID, name string) (int64, error)
}

// Credential is an API client the token endpoint knows.
type Credential struct {
	ClientID     string
	ClientSecret string
	// Sandboxes are the sandboxes the client's tokens may name, as a credential of AEP is granted
	// some sandboxes; empty for every one of Options.Sandboxes.
	Sandboxes []string
}

// Options configure a server.
type Options struct {
	// Credentials are the clients that may obtain tokens (client_credentials).
	Credentials []Credential
	// OrgID is the organisation every request must name in x-gw-ims-org-id.
	OrgID string
	// Sandboxes are the sandbox names requests may name; default "prod". A request without
	// x-sandbox-name is in the first. The platform keeps each sandbox's objects apart: every call
	// of a request names its sandbox in the context (aepwire.WithSandbox).
	Sandboxes []string
	// AccessTokens are tokens accepted without the token endpoint, each for a client id.
	AccessTokens map[string]string
	// TokenLifetime is how long issued tokens are valid; default 24h.
	TokenLifetime time.Duration
	// Faults, when set, may make a request fail on purpose (tests of the client).
	Faults func(r *http.Request) *Fault
	// Log, when set, hears of each request, and of the detail of every internal error. What a
	// client sent is quoted in it, so that no request can forge a line.
	Log func(format string, args ...any)
	// Clock is the server's time (token lifetimes, lockouts, durations); default clock.System.
	Clock clock.Clock
	// PublicURL is the base of the links in answers, such as https://aep.example.com:8443. By
	// default links name the scheme and local address the request came in on; never the Host
	// the request names, which the client chooses.
	PublicURL string
	// Limits bound what a request may send; Timeouts how long a client may hold a connection
	// without making progress (in Serve). Zero fields take the defaults.
	Limits   Limits
	Timeouts Timeouts
	// Strict makes the server behave as AEP does wherever the served engine's own extensions would
	// hide a fault of a client (see strict.go).
	Strict bool
}

// Server is the HTTP API.
type Server struct {
	platform Platform
	opts     Options
	mux      *http.ServeMux
	clock    clock.Clock
	limits   Limits
	timeouts Timeouts
	strictSt *strictState // the strict profile's memory, with Options.Strict

	creds []credential
	// compare compares two digests in constant time (1 when equal); tests count its calls.
	compare func(a, b []byte) int
	auth    *auth
	uploads *uploads
	// granted are the sandboxes of the clients whose credentials name some (Credential.Sandboxes).
	granted map[string][]string
}

// New returns a server for a platform.
func New(p Platform, opts Options) *Server {
	if len(opts.Sandboxes) == 0 {
		opts.Sandboxes = []string{aepwire.DefaultSandbox}
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 24 * time.Hour
	}
	opts.PublicURL = strings.TrimRight(opts.PublicURL, "/")
	s := &Server{platform: p, opts: opts, mux: http.NewServeMux(), clock: clock.Or(opts.Clock),
		limits: opts.Limits.withDefaults(), timeouts: opts.Timeouts.withDefaults(),
		compare: subtle.ConstantTimeCompare, auth: newAuth(len(opts.Credentials)), uploads: newUploads()}
	for _, c := range opts.Credentials {
		s.creds = append(s.creds, credential{id: sha256.Sum256([]byte(c.ClientID)), secret: sha256.Sum256([]byte(c.ClientSecret)),
			clientID: c.ClientID})
		if len(c.Sandboxes) > 0 {
			if s.granted == nil {
				s.granted = map[string][]string{}
			}
			s.granted[c.ClientID] = c.Sandboxes
		}
	}
	if opts.Strict {
		s.strictSt = newStrictState()
	}
	s.routes()
	return s
}

// Prefixes of the services.
const (
	catalogPath    = "/data/foundation/catalog"
	importPath     = "/data/foundation/import"
	exportDataPath = "/data/foundation/export"
	profilePath    = "/data/core/ups"
)

// uploadPattern and partPattern are the routes whose body is a file, or a part of one, rather
// than JSON; tokenPattern the one whose body is a form.
const (
	batchFilePath = importPath + "/batches/{id}/datasets/{dataset}/files/{name}"
	uploadPattern = "PUT " + batchFilePath
	partPattern   = "PATCH " + batchFilePath
	tokenPattern  = "POST /ims/token/v3"
)

func (s *Server) routes() {
	s.mux.HandleFunc(tokenPattern, s.token)

	s.api("POST "+catalogPath+"/dataSets", s.createDataset)
	s.api("GET "+catalogPath+"/dataSets", s.listDatasets)
	s.api("GET "+catalogPath+"/dataSets/{id}", s.getDataset)
	s.api("PATCH "+catalogPath+"/dataSets/{id}", s.patchDataset)
	s.api("DELETE "+catalogPath+"/dataSets/{id}", s.deleteDataset)
	s.api("GET "+catalogPath+"/batches", s.listBatches)
	s.api("GET "+catalogPath+"/batches/{id}", s.getBatch)
	s.api("DELETE "+catalogPath+"/batches/{id}", s.deleteBatch)

	s.api("POST "+importPath+"/batches", s.createBatch)
	s.api(uploadPattern, s.uploadFile)
	s.api(partPattern, s.uploadPart)
	s.api("POST "+batchFilePath, s.largeFileAction)
	s.api("HEAD "+batchFilePath, s.largeFileStatus)
	s.api("POST "+importPath+"/batches/{id}", s.batchAction)

	s.api("GET "+profilePath+"/config/mergePolicies", s.listPolicies)
	s.api("POST "+profilePath+"/config/mergePolicies", s.createPolicy)
	s.api("GET "+profilePath+"/config/mergePolicies/{id}", s.getPolicy)
	s.api("PUT "+profilePath+"/config/mergePolicies/{id}", s.putPolicy)
	s.api("PATCH "+profilePath+"/config/mergePolicies/{id}", s.patchPolicy)
	s.api("DELETE "+profilePath+"/config/mergePolicies/{id}", s.deletePolicy)

	s.api("POST "+profilePath+"/export/jobs", s.createJob)
	s.api("GET "+profilePath+"/export/jobs", s.listJobs)
	s.api("GET "+profilePath+"/export/jobs/{$}", s.listJobs) // the seed's spelling, and link.next's
	s.api("GET "+profilePath+"/export/jobs/{id}", s.getJob)
	s.api("DELETE "+profilePath+"/export/jobs/{id}", s.deleteJob)

	s.api("GET "+exportDataPath+"/batches/{id}/files", s.listBatchFiles)
	s.api("GET "+exportDataPath+"/files/{id}", s.getFile)
	s.api("HEAD "+exportDataPath+"/files/{id}", s.getFile)
}

// api registers a Platform API handler behind the gateway's checks (and, with Options.Strict,
// the strict profile's translations of the route).
func (s *Server) api(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	var handler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	if s.strictSt != nil {
		handler = s.strictRoute(pattern, handler)
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		sandbox, ok := s.gateway(w, r)
		if !ok {
			return
		}
		// Every call the handler makes of the platform works in the request's sandbox.
		r = r.WithContext(aepwire.WithSandbox(r.Context(), sandbox))
		if err := declaredTooLarge(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		handler.ServeHTTP(w, r)
	})
}

// ServeHTTP serves a request: request id, limits and pace of the body and the answer, injected
// faults, routing; a panic is an internal error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.clock.Now()
	id := r.Header.Get(aepwire.HeaderRequestID)
	if !validRequestID(id) {
		id = newToken(16)
	}
	w.Header().Set(aepwire.HeaderRequestID, id)
	rc := http.NewResponseController(w)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	pw := &pacedWriter{statusRecorder: rec, pace: newPace(s.timeouts, rc.SetWriteDeadline)}
	_, pattern := s.mux.Handler(r)
	limit := s.jsonBodyLimit()
	switch pattern {
	case uploadPattern:
		limit = s.fileLimit()
	case partPattern:
		limit = s.partLimit()
	case tokenPattern:
		limit = tokenFormLimit()
	}
	// A shallow copy: the HTTP server goes on reading its own request's body (to discard what
	// a handler left of it), and must not read through the limits.
	r = r.WithContext(r.Context())
	body := &requestBody{ReadCloser: r.Body, limit: limit, left: limit.max, pace: newPace(s.timeouts, rc.SetReadDeadline)}
	r.Body = body
	rec.unread = func() bool { return body.unread(r.ContentLength) }
	outcome := ""
	defer func() {
		if v := recover(); v != nil {
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.logf("request %s: %s %q: panic: %q: %q", id, r.Method, r.URL.Path, fmt.Sprint(v), debug.Stack())
			if !rec.wrote {
				s.writeError(pw, r, fmt.Errorf("panic: %v", v))
			}
		}
		if outcome == "" {
			outcome = strconv.Itoa(rec.status)
		}
		rec.start() // an answer the HTTP server writes itself, the handler having written none
		if body.unread(r.ContentLength) {
			// After the answer, the HTTP server reads what is left of the body (up to 256 KiB)
			// to close it, without a deadline: it finds one passed, and the connection closes.
			_ = rc.SetReadDeadline(time.Unix(1, 0))
		}
		s.log(r, id, outcome, start)
	}()
	if s.opts.Faults != nil {
		if f := s.opts.Faults(r); f != nil {
			if f.apply(pw, r, s.clock) {
				outcome = f.describe()
				return
			}
			if f.Truncate || f.Lost {
				s.serveTruncated(pw, r, f.Lost)
				outcome = f.describe()
				return
			}
		}
	}
	if pattern == "" {
		// No route: the gateway's JSON answer rather than the mux's plain text.
		s.noRoute(pw, r)
	} else {
		s.mux.ServeHTTP(pw, r)
	}
}

// validRequestID reports whether a client's x-request-id can be used as it is: short, and
// without anything that could break a log line or a header.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	return strings.IndexFunc(id, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.'
	}) < 0
}

// noRoute answers a request that no route takes: 405 with Allow when the path exists with other
// methods, else 404.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		s.writeError(w, r, aepwire.NewError(http.StatusNotFound, "SRV-1404", "Not found", fmt.Sprintf("No API at %s.", aepwire.QuoteShort(r.URL.Path))))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	s.writeError(w, r, aepwire.NewError(http.StatusMethodNotAllowed, "SRV-1405", "Method not allowed",
		fmt.Sprintf("%s %s is not an API: it takes %s.", r.Method, aepwire.QuoteShort(r.URL.Path), strings.Join(allow, ", "))))
}

// serveTruncated serves a request but sends only the first half of the body its Content-Length
// announces (or, when lost, nothing at all), then drops the connection.
func (s *Server) serveTruncated(w http.ResponseWriter, r *http.Request, lost bool) {
	buf := &bufferedResponse{header: w.Header().Clone(), status: http.StatusOK}
	s.mux.ServeHTTP(buf, r)
	if lost {
		resetConnection(w)
		return
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(buf.body)))
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body[:len(buf.body)/2])
	_ = http.NewResponseController(w).Flush()
	resetConnection(w)
}

type bufferedResponse struct {
	header http.Header
	status int
	body   []byte
}

func (b *bufferedResponse) Header() http.Header    { return b.header }
func (b *bufferedResponse) WriteHeader(status int) { b.status = status }
func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.body = append(b.body, p...)
	return len(p), nil
}

// log is the one line each request leaves in the log: the path as the client sent it, quoted,
// so that no request can forge a line.
func (s *Server) log(r *http.Request, id, outcome string, start time.Time) {
	s.logf("%s %q %s %s request %s", r.Method, r.URL.Path, outcome, s.clock.Now().Sub(start).Round(time.Millisecond), id)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Log != nil {
		s.opts.Log(format, args...)
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	// unread reports whether some of the request's body is left unread.
	unread func() bool
}

// start is called before the answer's headers go out: an answer to a request whose body is left
// unread closes the connection after it. The HTTP server would otherwise read the rest of the
// body (up to 256 KiB) to discard it before it answers, on a connection without a deadline once
// the headers are in: a client that declares a body and never sends it would hold the
// connection, and its answer, for good (ServeHTTP also bounds the read that closes the body).
func (w *statusRecorder) start() {
	if !w.wrote && w.unread != nil && w.unread() {
		w.Header().Set("Connection", "close")
	}
}

func (w *statusRecorder) WriteHeader(code int) {
	w.start()
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	w.start()
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (to reset it).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bearerToken is the token of an Authorization header of the Bearer scheme, whose name is
// case-insensitive (RFC 9110, section 11.1): the token endpoint answers token_type "bearer", and
// a client may send the scheme as it was given.
func bearerToken(auth string) (string, bool) {
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimLeft(token, " "), true
}

func newToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// gateway checks what AEP's API gateway checks, and answers with its errors. It returns the
// sandbox the request works in.
func (s *Server) gateway(w http.ResponseWriter, r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	token, bearer := bearerToken(auth)
	if auth == "" || !bearer || token == "" {
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayTokenMissing, "Oauth token is missing.")
		return "", false
	}
	clientID, ok := s.clientOf(token)
	if !ok {
		writeGatewayError(w, http.StatusUnauthorized, aepwire.GatewayTokenInvalid, "Oauth token is not valid")
		return "", false
	}
	switch key := r.Header.Get(aepwire.HeaderAPIKey); {
	case key == "":
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayAPIKeyMissing, "Api Key is required")
		return "", false
	case key != clientID:
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayAPIKeyInvalid, "Api Key is invalid")
		return "", false
	}
	switch org := r.Header.Get(aepwire.HeaderOrgID); {
	case org == "":
		writeGatewayError(w, http.StatusBadRequest, aepwire.GatewayHeaderMissing, "Missing header: "+aepwire.HeaderOrgID)
		return "", false
	case s.opts.OrgID != "" && org != s.opts.OrgID:
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayOrgMismatch, "User region is missing")
		return "", false
	}
	sandbox := r.Header.Get(aepwire.HeaderSandbox)
	if sandbox == "" {
		// AEP works in the organisation's default production sandbox: the first one here.
		sandbox = s.opts.Sandboxes[0]
	}
	// A sandbox the server does not serve, and one the client is not granted, are answered alike.
	if slices.Contains(s.opts.Sandboxes, sandbox) {
		if granted, some := s.granted[clientID]; !some || slices.Contains(granted, sandbox) {
			return sandbox, true
		}
	}
	writeGatewayError(w, http.StatusForbidden, aepwire.GatewayNotEntitled, "Profile is not valid")
	return "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeGatewayError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, aepwire.GatewayError{ErrorCode: code, Message: msg})
}

// quotaRetryAfter is the Retry-After of a 429 that names no other: the seconds after which a
// sandbox's waiting work has likely moved on.
const quotaRetryAfter = "30"

// writeError answers with a platform error as problem details. Any other error is a 500 that
// says only "internal error" and the request id: its detail, which may name the server's files,
// goes to the log.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *aepwire.Error
	if !errors.As(err, &e) {
		id := w.Header().Get(aepwire.HeaderRequestID)
		s.logf("request %s: %s %q: internal error: %q", id, r.Method, r.URL.Path, err.Error())
		e = aepwire.NewError(http.StatusInternalServerError, "SRV-1500", "Internal error",
			fmt.Sprintf("internal error (request id %s); the server's log has the detail", id))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	if e.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", quotaRetryAfter) // a quota's place comes back as work ends
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// decodeBody decodes a JSON request body, as a 400 naming the problem when it is not valid (or
// the 413 or 408 of a body too large or too slow), and a 415 when the request does not say that
// it is JSON: every AEP call with a body must name its Content-Type, application/json.
func decodeBody(r *http.Request, v any) error {
	if err := checkJSONType(r); err != nil {
		return err
	}
	return decodeOneJSON(r.Body, v, "SRV-1400", "the request body is not valid JSON for this call")
}

// checkJSONType refuses a request whose Content-Type is not JSON: application/json, or a type of
// the JSON family such as application/json-patch+json.
func checkJSONType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return nil
	}
	got := "none"
	if ct != "" {
		got = aepwire.QuoteShort(ct)
	}
	return aepwire.Errorf(http.StatusUnsupportedMediaType, "SRV-1415", "Unsupported media type",
		"the request body is JSON: send the header Content-Type: application/json (the request's Content-Type: %s)", got)
}

// decodeOneJSON decodes one JSON value from body into v and reads body to its end, which must hold
// nothing but blanks: a body with more after its value is a 400 (code, what) rather than a value
// taken and the rest dropped.
func decodeOneJSON(body io.Reader, v any, code, what string) error {
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	if err == nil {
		if _, next := dec.Token(); next != io.EOF {
			err = next
			if aepwire.StatusOf(next) == 0 {
				err = errors.New("more follows the JSON value; send one JSON value alone")
			}
		}
	}
	if err == nil {
		_, err = io.Copy(io.Discard, body)
	}
	if err != nil {
		if aepwire.StatusOf(err) != 0 {
			return err // too large, or too slow
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return aepwire.Errorf(http.StatusBadRequest, code, "Bad request", "%s: %s must be %s, not a JSON %s",
				what, typeErr.Field, jsonKind(typeErr.Type), typeErr.Value)
		}
		return aepwire.Errorf(http.StatusBadRequest, code, "Bad request", "%s: %v", what, err)
	}
	return nil
}

// jsonKind names what a JSON value must be to decode into t, for an error that names the field
// rather than the server's Go types.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
		reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "another JSON value"
}

// baseURL is the server's address for links: the public URL, or the scheme and local address
// of the connection. Never the request's Host, which the client chooses.
func (s *Server) baseURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return s.opts.PublicURL
	}
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return "" // no connection (a test's recorder): links relative to the endpoint
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + addr.String()
}
