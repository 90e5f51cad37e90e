package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// tokenRecorder passes requests to the server and remembers the access tokens it issues.
type tokenRecorder struct {
	next   http.Handler
	mu     sync.Mutex
	tokens []string
}

func (tr *tokenRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasSuffix(r.URL.Path, "/ims/token/v3") {
		tr.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	tr.next.ServeHTTP(rec, r)
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &body) == nil && body.AccessToken != "" {
		tr.mu.Lock()
		tr.tokens = append(tr.tokens, body.AccessToken)
		tr.mu.Unlock()
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = io.Copy(w, rec.Body)
}

// With TF_LOG=trace, neither the client secret, nor a token the provider obtained, nor a static
// token appears in any log line.
func TestTraceLogsCarryNoSecrets(t *testing.T) {
	requireTerraform(t)
	const people = 500
	data, _ := sampleData(t, people)
	ctx := context.Background()
	engine, err := exportengine.Open(ctx, exportengine.Options{DataDir: t.TempDir(), RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer engine.Close()
	const (
		clientID    = "trace-client"
		secret      = "p7-client-secret-Zq93"
		staticToken = "p7-static-token-Hw21"
	)
	tr := &tokenRecorder{next: aepserver.New(engine, aepserver.Options{
		Credentials:  []aepserver.Credential{{ClientID: clientID, ClientSecret: secret}},
		AccessTokens: map[string]string{staticToken: clientID},
		OrgID:        "embedded@AdobeOrg",
	})}
	srv := httptest.NewServer(tr)
	defer srv.Close()

	for _, c := range []struct{ name, credentials string }{
		{"client credentials", "client_id = \"" + clientID + "\"\n  client_secret = \"" + secret + "\""},
		{"static token", "access_token = \"" + staticToken + "\"\n  client_id = \"" + clientID + "\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			provider := "provider \"experienceplatform\" {\n  endpoint = \"" + srv.URL + "\"\n  ims_endpoint = \"" + srv.URL +
				"\"\n  org_id = \"embedded@AdobeOrg\"\n  " + c.credentials + "\n}\n"
			logPath := filepath.Join(t.TempDir(), "trace.log")
			w := newWorkspace(t, pipeline(provider, data), "TF_LOG=trace", "TF_LOG_PATH="+logPath)
			w.mustRun(applyArgs...)
			w.mustRun("destroy", "-auto-approve", "-input=false", "-no-color")
			log, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(log, []byte("ApplyResourceChange")) {
				t.Fatalf("the trace log has no provider calls: %d bytes", len(log))
			}
			tr.mu.Lock()
			secrets := append([]string{secret, staticToken}, tr.tokens...)
			tr.mu.Unlock()
			if c.name == "client credentials" && len(secrets) == 2 {
				t.Fatal("the provider obtained no token: the search would prove nothing")
			}
			for _, s := range secrets {
				for i, line := range bytes.Split(log, []byte("\n")) {
					if bytes.Contains(line, []byte(s)) {
						t.Errorf("trace log line %d carries a secret: %.300s", i+1, line)
					}
				}
			}
			record(t, outcome{"TF_LOG=trace, remote mode, " + c.name,
				"no secret or token in " + humanBytes(len(log)) + " of trace log", 0, 0})
		})
	}
}

func humanBytes(n int) string {
	value, unit := float64(n)/(1<<10), " KB"
	if n >= 1<<20 {
		value, unit = float64(n)/(1<<20), " MB"
	}
	return strings.TrimRight(strings.TrimRight(strconv.FormatFloat(value, 'f', 1, 64), "0"), ".") + unit
}
