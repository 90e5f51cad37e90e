// Package aepserver serves a platform (the embedded engine) over the Adobe Experience Platform
// REST API: the same paths, headers, bodies, status codes and errors, an IMS-compatible token
// endpoint, and the API gateway's checks of credentials. The remote client of this provider is
// tested against it, and teams can share one engine through it.
package aepserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
)

// Platform is what the server serves: the provider's backend, plus the listings and file access
// that only the API offers.
type Platform interface {
	backend.Backend
	ListDatasets(ctx context.Context) ([]*aepwire.Dataset, error)
	ListBatches(ctx context.Context, datasetID string) ([]*aepwire.Batch, error)
	ListMergePolicies(ctx context.Context) ([]*aepwire.MergePolicy, error)
	OpenBatchFile(ctx context.Context, batchID, name string) (*os.File, error)
}

// Credential is an API client the token endpoint knows.
type Credential struct {
	ClientID     string
	ClientSecret string
}

// Options configure a server.
type Options struct {
	// Credentials are the clients that may obtain tokens (client_credentials).
	Credentials []Credential
	// OrgID is the organisation every request must name in x-gw-ims-org-id.
	OrgID string
	// Sandboxes are the sandbox names requests may name; default "prod". A request without
	// x-sandbox-name is in the first.
	Sandboxes []string
	// AccessTokens are tokens accepted without the token endpoint, each for a client id.
	AccessTokens map[string]string
	// TokenLifetime is how long issued tokens are valid; default 24h.
	TokenLifetime time.Duration
	// Faults, when set, may make a request fail on purpose (tests of the client).
	Faults func(r *http.Request) *Fault
	// Log, when set, hears of each request.
	Log func(format string, args ...any)
	// Strict makes the server behave as AEP does wherever the served engine's own extensions would
	// hide a fault of a client (see strict.go).
	Strict bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Server is the HTTP API.
type Server struct {
	platform Platform
	opts     Options
	mux      *http.ServeMux
	strictSt *strictState // the strict profile's memory, with Options.Strict

	mu     sync.Mutex
	tokens map[string]issuedToken
}

type issuedToken struct {
	clientID string
	expires  time.Time
}

// New returns a server for a platform.
func New(p Platform, opts Options) *Server {
	if len(opts.Sandboxes) == 0 {
		opts.Sandboxes = []string{"prod"}
	}
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{platform: p, opts: opts, mux: http.NewServeMux(), tokens: map[string]issuedToken{}}
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

func (s *Server) routes() {
	s.mux.HandleFunc("POST /ims/token/v3", s.token)

	s.api("POST "+catalogPath+"/dataSets", s.createDataset)
	s.api("GET "+catalogPath+"/dataSets", s.listDatasets)
	s.api("GET "+catalogPath+"/dataSets/{id}", s.getDataset)
	s.api("PATCH "+catalogPath+"/dataSets/{id}", s.patchDataset)
	s.api("DELETE "+catalogPath+"/dataSets/{id}", s.deleteDataset)
	s.api("GET "+catalogPath+"/batches", s.listBatches)
	s.api("GET "+catalogPath+"/batches/{id}", s.getBatch)
	s.api("DELETE "+catalogPath+"/batches/{id}", s.deleteBatch)

	s.api("POST "+importPath+"/batches", s.createBatch)
	s.api("PUT "+importPath+"/batches/{id}/datasets/{dataset}/files/{name}", s.uploadFile)
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
			writeError(w, err)
		}
	})
	if s.strictSt != nil {
		handler = s.strictRoute(pattern, handler)
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !s.gateway(w, r) {
			return
		}
		handler.ServeHTTP(w, r)
	})
}

// ServeHTTP serves a request: request id, injected faults, routing.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	id := r.Header.Get(aepwire.HeaderRequestID)
	if id == "" {
		id = newToken(16)
	}
	w.Header().Set(aepwire.HeaderRequestID, id)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	if s.opts.Faults != nil {
		if f := s.opts.Faults(r); f != nil {
			if f.apply(rec, r) {
				s.log(r, f.describe(), start)
				return
			}
			if f.Truncate || f.Lost {
				s.serveTruncated(rec, r, f.Lost)
				s.log(r, f.describe(), start)
				return
			}
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		// No route: the gateway's JSON answer rather than the mux's plain text.
		s.noRoute(rec, r)
	} else {
		s.mux.ServeHTTP(rec, r)
	}
	s.log(r, fmt.Sprint(rec.status), start)
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
		writeError(w, aepwire.NewError(http.StatusNotFound, "SRV-1404", "Not found", fmt.Sprintf("No API at %s.", r.URL.Path)))
		return
	}
	w.Header().Set("Allow", strings.Join(allow, ", "))
	writeError(w, aepwire.NewError(http.StatusMethodNotAllowed, "SRV-1405", "Method not allowed",
		fmt.Sprintf("%s %s is not an API: it takes %s.", r.Method, r.URL.Path, strings.Join(allow, ", "))))
}

// serveTruncated serves a request but sends only the first half of the body its Content-Length
// announces (or, when lost, nothing at all), then drops the connection.
func (s *Server) serveTruncated(w http.ResponseWriter, r *http.Request, lost bool) {
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
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

func (s *Server) log(r *http.Request, outcome string, start time.Time) {
	if s.opts.Log != nil {
		s.opts.Log("%s %s %s %s", r.Method, r.URL.Path, outcome, s.opts.Now().Sub(start).Round(time.Millisecond))
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection (to reset it).
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func newToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// gateway checks what AEP's API gateway checks, and answers with its errors.
func (s *Server) gateway(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	token, bearer := strings.CutPrefix(auth, "Bearer ")
	if auth == "" || !bearer || token == "" {
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayTokenMissing, "Oauth token is missing.")
		return false
	}
	clientID, ok := s.clientOf(token)
	if !ok {
		writeGatewayError(w, http.StatusUnauthorized, aepwire.GatewayTokenInvalid, "Oauth token is not valid")
		return false
	}
	switch key := r.Header.Get(aepwire.HeaderAPIKey); {
	case key == "":
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayAPIKeyMissing, "Api Key is required")
		return false
	case key != clientID:
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayAPIKeyInvalid, "Api Key is invalid")
		return false
	}
	switch org := r.Header.Get(aepwire.HeaderOrgID); {
	case org == "":
		writeGatewayError(w, http.StatusBadRequest, aepwire.GatewayHeaderMissing, "Missing header: "+aepwire.HeaderOrgID)
		return false
	case s.opts.OrgID != "" && org != s.opts.OrgID:
		writeGatewayError(w, http.StatusForbidden, aepwire.GatewayOrgMismatch, "User region is missing")
		return false
	}
	sandbox := r.Header.Get(aepwire.HeaderSandbox)
	if sandbox == "" {
		// AEP works in the organisation's default production sandbox: the first one here.
		sandbox = s.opts.Sandboxes[0]
	}
	for _, sb := range s.opts.Sandboxes {
		if sandbox == sb {
			return true
		}
	}
	writeGatewayError(w, http.StatusForbidden, aepwire.GatewayNotEntitled, "Profile is not valid")
	return false
}

func (s *Server) clientOf(token string) (string, bool) {
	if id, ok := s.opts.AccessTokens[token]; ok {
		return id, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[token]
	if !ok || s.opts.Now().After(t.expires) {
		return "", false
	}
	return t.clientID, true
}

// token is the IMS OAuth server-to-server endpoint: client_credentials only.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, aepwire.TokenError{Error: "invalid_request", ErrorDescription: err.Error()})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, aepwire.TokenError{Error: "unsupported_grant_type",
			ErrorDescription: fmt.Sprintf("grant_type %q is not supported; use client_credentials", gt)})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id == "" {
		if u, p, ok := r.BasicAuth(); ok {
			id, secret = u, p
		}
	}
	for _, c := range s.opts.Credentials {
		if c.ClientID != id {
			continue
		}
		if c.ClientSecret != secret {
			writeJSON(w, http.StatusUnauthorized, aepwire.TokenError{Error: "invalid_client", ErrorDescription: "invalid client_secret parameter"})
			return
		}
		token := newToken(32)
		s.mu.Lock()
		s.tokens[token] = issuedToken{clientID: id, expires: s.opts.Now().Add(s.opts.TokenLifetime)}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, aepwire.TokenResponse{AccessToken: token, TokenType: "bearer",
			ExpiresIn: int64(s.opts.TokenLifetime / time.Second)})
		return
	}
	writeJSON(w, http.StatusBadRequest, aepwire.TokenError{Error: "invalid_client", ErrorDescription: "invalid client_id parameter"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeGatewayError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, aepwire.GatewayError{ErrorCode: code, Message: msg})
}

// writeError answers with a platform error as problem details; any other error is a 500.
func writeError(w http.ResponseWriter, err error) {
	var e *aepwire.Error
	if !errors.As(err, &e) {
		e = aepwire.NewError(http.StatusInternalServerError, "SRV-1500", "Internal error", err.Error())
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}

// decodeBody decodes a JSON request body, as a 400 naming the problem when it is not valid.
func decodeBody(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return aepwire.Errorf(http.StatusBadRequest, "SRV-1400", "Bad request", "the request body is not valid JSON for this call: %v", err)
	}
	return nil
}

// baseURL is the server's address as the client sees it, for links.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
