package aepserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// served is an engine on a temporary data directory, served by Serve on a loopback port: what a
// teammate reaches over the network, with the server's time on a fake clock.
type served struct {
	engine *exportengine.Engine
	server *Server
	addr   string // host:port
	url    string
	clock  *clock.Fake
	logs   *logLines
	token  string
	tls    *tls.Config // what a client trusts, when served over TLS
}

const (
	probeClient = "probe-client"
	probeSecret = "probe-secret-Vx81"
	probeOrg    = "probe@AdobeOrg"
)

// serveEngine serves a real engine with opts (credentials, organisation, clock and log filled in),
// through wrap when set (to inject an internal fault), until the test ends.
func serveEngine(t *testing.T, opts Options, wrap func(*exportengine.Engine) Platform) *served {
	t.Helper()
	return serveEngineOver(t, opts, wrap, false)
}

// serveEngineOver is serveEngine, over TLS when overTLS is set (with httptest's certificate for
// 127.0.0.1, which s.client trusts).
func serveEngineOver(t *testing.T, opts Options, wrap func(*exportengine.Engine) Platform, overTLS bool) *served {
	t.Helper()
	e, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: t.TempDir(), RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	s := &served{engine: e, clock: clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)), logs: &logLines{}}
	opts.Credentials = append(opts.Credentials, Credential{ClientID: probeClient, ClientSecret: probeSecret})
	opts.OrgID, opts.Clock, opts.Log = probeOrg, s.clock, s.logs.printf
	var p Platform = e
	if wrap != nil {
		p = wrap(e)
	}
	s.server = New(p, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr, s.url = ln.Addr().String(), "http://"+ln.Addr().String()
	var serverTLS *tls.Config
	if overTLS {
		certified := httptest.NewUnstartedServer(nil)
		certified.StartTLS()
		serverTLS = certified.TLS.Clone()
		s.tls = certified.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		certified.Close()
		s.url = "https://" + s.addr
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.server.Serve(ctx, ln, serverTLS) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	resp, body := s.tokenRequest(t, probeClient, probeSecret)
	var tok aepwire.TokenResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	s.token = tok.AccessToken
	return s
}

// client is an HTTP client of its own for each probe, so that connections are not shared. It
// waits for the server's go-ahead before it sends a body (Expect: 100-continue), as a client
// sending much should, so that a refusal reaches it whole.
func (s *served) client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true, ExpectContinueTimeout: time.Minute, TLSClientConfig: s.tls}}
}

func (s *served) tokenRequest(t *testing.T, id, secret string) (*http.Response, []byte) {
	t.Helper()
	resp, err := s.client().PostForm(s.url+"/ims/token/v3", url.Values{"grant_type": {"client_credentials"}, "client_id": {id},
		"client_secret": {secret}})
	return answer(t, resp, err)
}

// headers are the gateway's headers of an authenticated request.
func (s *served) headers() http.Header {
	return http.Header{"Authorization": {"Bearer " + s.token}, "X-Api-Key": {probeClient}, "X-Gw-Ims-Org-Id": {probeOrg},
		"X-Sandbox-Name": {"prod"}, "Content-Type": {"application/json"}}
}

// call makes an authenticated request and returns the answer and its body.
func (s *served) call(t *testing.T, method, path string, body io.Reader, extra http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = s.headers()
	if body != nil {
		req.Header.Set("Expect", "100-continue")
	}
	if p, ok := body.(*pattern); ok && p.left >= 0 {
		req.ContentLength = p.left
	}
	for k, v := range extra {
		req.Header[k] = v
		if k == "Host" {
			req.Host = v[0]
		}
	}
	resp, err := s.client().Do(req)
	return answer(t, resp, err)
}

// answer is the outcome of a request: the response with its whole body, or t fails.
func answer(t *testing.T, resp *http.Response, err error) (*http.Response, []byte) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// problem decodes a problem-details answer.
func problem(t *testing.T, body []byte) aepwire.Error {
	t.Helper()
	var e aepwire.Error
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("the answer is not problem details: %q", body)
	}
	return e
}

// expectProblem checks that an answer is the error wanted, and that its detail says what it
// should (the limit, the rule, the fix).
func expectProblem(t *testing.T, resp *http.Response, body []byte, status int, detail ...string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("got %d %s, want %d", resp.StatusCode, body, status)
	}
	e := problem(t, body)
	for _, d := range detail {
		if !strings.Contains(e.Detail, d) {
			t.Errorf("detail %q does not say %q", e.Detail, d)
		}
	}
}

func (s *served) createDataset(t *testing.T, schema string) string {
	t.Helper()
	resp, body := s.call(t, "POST", catalogPath+"/dataSets", strings.NewReader(`{"name":"probe","schemaRef":{"id":"`+schema+
		`"},"tags":{"unifiedProfile":["enabled:true"]}}`), nil)
	var refs []string
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &refs) != nil || len(refs) != 1 {
		t.Fatalf("creating a dataset: %d %s", resp.StatusCode, body)
	}
	return refs[0][strings.LastIndexByte(refs[0], '/')+1:]
}

func (s *served) createBatch(t *testing.T, dataset string) string {
	t.Helper()
	resp, body := s.call(t, "POST", importPath+"/batches", strings.NewReader(`{"datasetId":"`+dataset+`","inputFormat":{"format":"json"}}`), nil)
	var b aepwire.Batch
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &b) != nil {
		t.Fatalf("creating a batch: %d %s", resp.StatusCode, body)
	}
	return b.ID
}

// completeBatch marks a batch's upload complete, which ingests its files, and waits for the
// ingestion to end.
func (s *served) completeBatch(t *testing.T, batch string) {
	t.Helper()
	if resp, body := s.call(t, "POST", importPath+"/batches/"+batch+"?action=COMPLETE", nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("completing batch %s: %d %s", batch, resp.StatusCode, body)
	}
	if err := s.engine.WaitBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
}

// ingestProfile ingests one profile record, in a new batch of a new profile dataset, and returns
// the batch.
func (s *served) ingestProfile(t *testing.T) string {
	t.Helper()
	dataset := s.createDataset(t, aepwire.SchemaProfile)
	batch := s.createBatch(t, dataset)
	s.call(t, "PUT", uploadPath(batch, dataset, "p.json"), strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`),
		http.Header{"Content-Type": {"application/octet-stream"}})
	s.completeBatch(t, batch)
	return batch
}

func uploadPath(batch, dataset, name string) string {
	return importPath + "/batches/" + batch + "/datasets/" + dataset + "/files/" + url.PathEscape(name)
}

// logLines records the server's log, and lets a test wait for a line.
type logLines struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func (l *logLines) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// waitFor waits until a line holds every one of the parts, and returns it.
func (l *logLines) waitFor(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.NewTimer(time.Minute) // a ceiling for a broken server, not a wait
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, line := range l.lines {
			if containsAll(line, parts) {
				l.mu.Unlock()
				return line
			}
		}
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no log line says %q in a minute; the log:\n%s", parts, strings.Join(l.all(), "\n"))
		}
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// rawConn is a connection a probe drives byte by byte.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func (s *served) dial(t *testing.T) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

// head is the request line and headers of an authenticated request, and the empty line.
func (s *served) head(method, path string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, s.addr)
	for k, v := range s.headers() {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v[0])
	}
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func (c *rawConn) send(t *testing.T, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// response reads an answer and its body.
func (c *rawConn) response(t *testing.T) (*http.Response, []byte) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(time.Minute)); err != nil { // a ceiling, not a wait
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	return resp, body
}

// waitClosed waits for the server to close the connection, and fails past a ceiling.
func (c *rawConn) waitClosed(t *testing.T) {
	t.Helper()
	if !c.closedWithin(time.Minute) {
		t.Fatal("the server kept the connection open for a minute")
	}
}

// closedWithin reads what the server sends until it closes the connection, and reports whether it
// did within d (a ceiling, not a wait).
func (c *rawConn) closedWithin(d time.Duration) bool {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return false
	}
	_, err := io.Copy(io.Discard, c.r)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// pattern is an endless generated body: it is never held in memory.
type pattern struct {
	unit []byte
	off  int
	left int64 // bytes still to give; < 0 for no end
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if p.left > 0 && int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := 0
	for n < len(b) {
		c := copy(b[n:], p.unit[p.off:])
		n += c
		p.off = (p.off + c) % len(p.unit)
	}
	if p.left > 0 {
		p.left -= int64(n)
	}
	return n, nil
}

// sendChunked sends a body in chunks until it ends or the server stops taking it, then ends it.
func (c *rawConn) sendChunked(body io.Reader) {
	w := bufio.NewWriterSize(c.Conn, 64<<10)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			fmt.Fprintf(w, "%x\r\n", n)
			_, _ = w.Write(buf[:n])
			_, _ = w.WriteString("\r\n")
			if w.Flush() != nil {
				return
			}
		}
		if err != nil {
			_, _ = w.WriteString("0\r\n\r\n")
			_ = w.Flush()
			return
		}
	}
}

// allocatedDuring is how many bytes the process allocated while f ran (the server and the
// probe's client both): an upper bound of what the server held for a request.
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
