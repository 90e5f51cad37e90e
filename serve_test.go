package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// serving runs the -serve command with flags until the test ends, and returns its address.
func serving(t *testing.T, args ...string) (addr string, logs *syncBuffer) {
	t.Helper()
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse(append([]string{"-data-dir", t.TempDir(), "-client-id", "c", "-org-id", "o@AdobeOrg"}, args...)); err != nil {
		t.Fatal(err)
	}
	f.clientSecret = "s"
	logs = &syncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runServer(ctx, f, log.New(logs, "", 0), func(a string) { ready <- a }) }()
	select {
	case addr = <-ready:
	case err := <-done:
		stop()
		t.Fatalf("-serve %v: %v", args, err)
	}
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serving: %v", err)
		}
	})
	return addr, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRefusesPlainHTTPBeyondLoopback(t *testing.T) {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"-serve", "0.0.0.0:0", "-data-dir", t.TempDir(), "-client-id", "c"}); err != nil {
		t.Fatal(err)
	}
	f.clientSecret = "s"
	err := runServer(context.Background(), f, log.New(io.Discard, "", 0), func(string) { t.Error("it served") })
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") || !strings.Contains(err.Error(), "-tls-cert") ||
		!strings.Contains(err.Error(), "-insecure-listen") {
		t.Errorf("got %v, want a refusal naming -tls-cert and -insecure-listen", err)
	}
}

func TestServeInsecureListenWarns(t *testing.T) {
	addr, logs := serving(t, "-serve", "0.0.0.0:0", "-insecure-listen")
	if !strings.Contains(logs.String(), "WARNING: serving plain HTTP") || !strings.Contains(logs.String(), "-public-url") {
		t.Errorf("no warning in the log:\n%s", logs)
	}
	_, port, _ := net.SplitHostPort(addr)
	resp, err := http.PostForm("http://127.0.0.1:"+port+"/ims/token/v3", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"c"}, "client_secret": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("token: %d", resp.StatusCode)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their files and a pool
// that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "aep test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// With a certificate the server speaks HTTPS only, and may listen beyond loopback; its links
// name the public URL.
func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	addr, logs := serving(t, "-serve", "0.0.0.0:0", "-tls-cert", certFile, "-tls-key", keyFile,
		"-public-url", "https://aep.example.com:8443")
	if strings.Contains(logs.String(), "WARNING") {
		t.Errorf("a warning with TLS:\n%s", logs)
	}
	_, port, _ := net.SplitHostPort(addr)
	base := "https://127.0.0.1:" + port
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.PostForm(base+"/ims/token/v3", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"},
		"client_secret": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok aepwire.TokenResponse
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || tok.AccessToken == "" {
		t.Fatalf("token over TLS: %d", resp.StatusCode)
	}

	call := func(method, path, body string) *http.Response {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header = http.Header{"Authorization": {"Bearer " + tok.AccessToken}, "X-Api-Key": {"c"}, "X-Gw-Ims-Org-Id": {"o@AdobeOrg"},
			"X-Sandbox-Name": {"prod"}, "Content-Type": {"application/json"}}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp = call("POST", "/data/foundation/catalog/dataSets", `{"name":"u","schemaRef":{"id":"`+aepwire.SchemaProfileUnion+`"}}`)
	loc := resp.Header.Get("Location")
	resp = call("POST", "/data/core/ups/export/jobs", `{"destination":{"datasetId":"`+loc[strings.LastIndexByte(loc, '/')+1:]+
		`"},"schema":{"name":"_xdm.context.profile"}}`)
	if got := resp.Header.Get("X-Location"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(got, "https://aep.example.com:8443/data/core/ups/export/jobs/") {
		t.Errorf("export job: %d, X-Location %q, want it on the public URL", resp.StatusCode, got)
	}

	plain, err := http.Get("http://127.0.0.1:" + port + "/data/core/ups/export/jobs")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %d", plain.StatusCode)
		}
	}
}

func TestServeFlagsThatDoNotGoTogether(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-tls-cert", certFile}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-key", keyFile}, "-tls-cert and -tls-key go together"},
		{[]string{"-tls-cert", keyFile, "-tls-key", certFile}, "loading -tls-cert and -tls-key"},
		{[]string{"-public-url", "aep.example.com"}, "-public-url \"aep.example.com\" is not a base URL"},
		{[]string{"-public-url", "https://aep.example.com/?x=1"}, "is not a base URL"},
		{[]string{"-public-url", "ftp://aep.example.com"}, "is not a base URL"},
		{[]string{"-max-conns", "0"}, "-max-conns must be at least 1"},
		{[]string{"-max-conns-per-addr", "-1"}, "-max-conns-per-addr must be at least 1, or 0 for a quarter of -max-conns"},
		{[]string{"-max-batch-files", "0"}, "-max-batch-files must be at least 1"},
		{[]string{"-max-pending-jobs", "-5"}, "-max-pending-jobs must be at least 1, or 0 for no limit"},
		{[]string{"-client-id", "team\t"}, `-client-id: client_id "team\t" has blanks at an end or control characters`},
		{[]string{"-sandboxes", " , "}, "-sandboxes names no sandbox"},
		{[]string{"-sandboxes", "prod,Dev Team"}, `-sandboxes: sandbox name "Dev Team" is not valid: use lower-case letters`},
	} {
		var f serveFlags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f.register(fs)
		if err := fs.Parse(append([]string{"-serve", "127.0.0.1:0", "-client-id", "c"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		f.clientSecret = "s"
		if _, err := f.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512KiB": 512 << 10, "256MiB": 256 << 20, "10GiB": 10 << 30,
		"2 TiB": 2 << 40, "100B": 100} {
		var b byteSize
		if err := b.Set(in); err != nil || int64(b) != want {
			t.Errorf("Set(%q) = %d, %v, want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1.5GiB", "10GB", "lots", "9999999999TiB"} {
		var b byteSize
		if err := b.Set(in); err == nil || !strings.Contains(err.Error(), "not a size") {
			t.Errorf("Set(%q) = %d, %v, want refused", in, b, err)
		}
	}
	b := byteSize(256 << 20)
	if b.String() != "256MiB" {
		t.Errorf("String() = %q", b.String())
	}
}

// A batch that the server accepted, and had not ingested when it stopped (killed, say), is
// ingested when it serves the data directory again.
func TestServeResumesTheBatchesLeftProcessing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		Tags: map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UploadBatchFile(ctx, b.ID, ds.ID, "p.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`+"\n")); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	// As a server killed after it answered COMPLETE leaves the batch.
	db, err := sql.Open("sqlite", store.DSN(filepath.Join(dir, "aep.db")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE batches SET status = ? WHERE id = ?`, aepwire.BatchProcessing, b.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	_, logs := serving(t, "-serve", "127.0.0.1:0", "-data-dir", dir)
	if !strings.Contains(logs.String(), "resuming the completion of the batches left processing: 1") {
		t.Errorf("the log does not tell of the batch resumed:\n%s", logs)
	}
	// A client's COMPLETE sent again to a second engine waits for the server's completion (or
	// makes it itself, the server's then finding it ended): the batch ends once.
	other, err := exportengine.Open(ctx, exportengine.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if got, err := other.CompleteBatch(ctx, b.ID); err != nil || got.Status != aepwire.BatchSuccess || got.RecordCount != 1 {
		t.Errorf("the resumed batch: %+v, %v; want success with its record", got, err)
	}
}

// The quotas the flags set reach the engine that -serve opens: a sandbox's dataset past
// -max-datasets is refused, saying which flag.
func TestServeHoldsSandboxesToTheirQuotas(t *testing.T) {
	addr, _ := serving(t, "-serve", "127.0.0.1:0", "-max-datasets", "1")
	token := serveToken(t, addr, "c", "s")
	body := `{"name":"p","schemaRef":{"id":"` + aepwire.SchemaProfile + `","contentType":"application/vnd.adobe.xed+json;version=1"}}`
	if status, answer := serveCall(t, addr, "c", token, "prod", "POST", "/data/foundation/catalog/dataSets", body); status != http.StatusCreated {
		t.Fatalf("the first dataset: %d %s", status, answer)
	}
	status, answer := serveCall(t, addr, "c", token, "prod", "POST", "/data/foundation/catalog/dataSets", body)
	if status != http.StatusBadRequest || !strings.Contains(answer, "-max-datasets") {
		t.Errorf("the second dataset: %d %s; want a 400 naming -max-datasets", status, answer)
	}
}

// serveToken obtains a token from the plain-HTTP server at addr for a client.
func serveToken(t *testing.T, addr, id, secret string) string {
	t.Helper()
	resp, err := http.PostForm("http://"+addr+"/ims/token/v3", url.Values{"grant_type": {"client_credentials"},
		"client_id": {id}, "client_secret": {secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok aepwire.TokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("%s's token: %d %+v, %v", id, resp.StatusCode, tok, err)
	}
	return tok.AccessToken
}

// serveCall makes a request of the plain-HTTP server at addr as a client, in a sandbox, and
// returns the answer's status and body.
func serveCall(t *testing.T, addr, client, token, sandbox, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"Authorization": {"Bearer " + token}, "X-Api-Key": {client}, "X-Gw-Ims-Org-Id": {"o@AdobeOrg"},
		"X-Sandbox-Name": {sandbox}, "Content-Type": {"application/json"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(answer)
}

// -clients grants each client the sandboxes it names; the file, which holds secrets, must be
// readable by its owner alone, and may name only sandboxes -sandboxes serves.
func TestServeClientsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil { // past the umask
			t.Fatal(err)
		}
		return path
	}
	good := `[{"client_id": "dev-team", "client_secret": "dev-secret-Q3", "sandboxes": ["dev"]}]`
	cases := []struct{ file, want string }{
		{write("qa.json", `[{"client_id": "qa-team", "client_secret": "s", "sandboxes": ["qa"]}]`, 0o600),
			`names sandbox "qa", which -sandboxes does not serve (prod,dev)`},
		{write("twice.json", `[{"client_id": "c", "client_secret": "s"}]`, 0o600), `client_id "c" is given twice`},
		{write("unknown.json", `[{"client_id": "x", "secret": "s"}]`, 0o600), "is not a JSON list of clients"},
		{write("more.json", good+` [{"client_id": "b", "client_secret": "s", "sandboxes": ["dev"]}]`, 0o600),
			"holds more after its list of clients"},
		{write("none.json", `[{"client_id": "x", "client_secret": "s", "sandboxes": []}]`, 0o600), `client "x" names no sandboxes`},
		{write("blank.json", `[{"client_id": "team ", "client_secret": "s", "sandboxes": ["dev"]}]`, 0o600),
			`client_id "team " has blanks at an end or control characters`},
		{write("huge.json", "["+strings.Repeat(" ", 1<<20)+"]", 0o600), "more than the 1 MiB a list of clients may hold"},
	}
	if runtime.GOOS != "windows" { // where a file's mode does not say who may read it
		cases = append(cases, struct{ file, want string }{write("open.json", good, 0o644), "others may read it (mode 0644)"})
	}
	for _, tc := range cases {
		var f serveFlags
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		f.register(fs)
		if err := fs.Parse([]string{"-client-id", "c", "-sandboxes", "prod,dev", "-clients", tc.file}); err != nil {
			t.Fatal(err)
		}
		f.clientSecret = "s"
		if _, err := f.credentials(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", filepath.Base(tc.file), err, tc.want)
		}
	}

	addr, _ := serving(t, "-serve", "127.0.0.1:0", "-sandboxes", "prod,dev", "-clients", write("clients.json", good, 0o600))
	token := serveToken(t, addr, "dev-team", "dev-secret-Q3")
	for sandbox, want := range map[string]int{"dev": http.StatusOK, "prod": http.StatusForbidden} {
		if status, answer := serveCall(t, addr, "dev-team", token, sandbox, "GET", "/data/foundation/catalog/dataSets", ""); status != want {
			t.Errorf("dev-team in %s: %d %s, want %d", sandbox, status, answer, want)
		}
	}
}
