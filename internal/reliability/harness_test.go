package reliability

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	_ "modernc.org/sqlite"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

var (
	dataRoot     string // generated sample data, shared by the tests
	terraformBin string // the Terraform CLI under test
	providerBin  string // the provider built from this module
	providerDir  string // where it is, for dev_overrides
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	terraformBin = os.Getenv("TF_ACC_TERRAFORM_PATH")
	if terraformBin != "" {
		dir, err := os.MkdirTemp("", "reliability-provider-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		providerDir = dir
		providerBin = filepath.Join(dir, "terraform-provider-experienceplatform")
		build := exec.Command("go", "build", "-o", providerBin, "github.com/aepkit/terraform-provider-experienceplatform")
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building the provider:", err)
			return 1
		}
	}
	root, err := os.MkdirTemp("", "reliability-data-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(root)
	dataRoot = root
	code := m.Run()
	printOutcomes()
	return code
}

// requireTerraform skips a test, saying why, without a Terraform CLI to run.
func requireTerraform(t *testing.T) {
	t.Helper()
	if terraformBin == "" {
		t.Skip("set TF_ACC_TERRAFORM_PATH to a terraform binary (make test does) to run the end-to-end reliability tests")
	}
}

// outcome is a row of the table of faults injected and what came of them.
type outcome struct {
	fault, result    string
	lost, duplicated int64
}

type recorded struct {
	outcome
	failed bool
}

var (
	outcomesMu sync.Mutex
	outcomes   []recorded
)

func record(t *testing.T, o outcome) {
	outcomesMu.Lock()
	defer outcomesMu.Unlock()
	outcomes = append(outcomes, recorded{o, t.Failed()})
}

func printOutcomes() {
	if len(outcomes) == 0 {
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "\nfault injected\toutcome\trecords lost\tduplicates")
	for _, o := range outcomes {
		if o.failed {
			o.result = "TEST FAILED: " + o.result
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\n", o.fault, o.result, o.lost, o.duplicated)
	}
	_ = w.Flush()
}

// workspace is a Terraform working directory that uses the provider built here.
type workspace struct {
	t   *testing.T
	dir string
	env []string
}

func newWorkspace(t *testing.T, config string, env ...string) *workspace {
	t.Helper()
	dir := t.TempDir()
	rc := filepath.Join(dir, "dev.tfrc")
	if err := os.WriteFile(rc, fmt.Appendf(nil, "provider_installation {\n  dev_overrides {\n    \"aepkit/experienceplatform\" = %q\n  }\n  direct {}\n}\n",
		providerDir), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &workspace{t: t, dir: dir, env: append([]string{"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1",
		"AEP_ENGINE_WORKER_IDLE=300ms"}, env...)}
	w.write(config)
	// Workers outlive the provider by their idle time; let them go before the directories do.
	t.Cleanup(func() { awaitNoWorkers(t) })
	return w
}

// awaitNoWorkers waits, up to 6s, until no engine worker of the provider built here runs.
func awaitNoWorkers(t *testing.T) {
	deadline := time.Now().Add(6 * time.Second)
	for {
		_, workers := providerProcesses(t)
		if len(workers) == 0 {
			return
		}
		for _, pid := range workers {
			if !awaitExit(t, pid, time.Until(deadline)) {
				t.Log("engine workers still run 6s after the test")
				return
			}
		}
	}
}

func (w *workspace) write(config string) {
	w.t.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(config), 0o644); err != nil {
		w.t.Fatal(err)
	}
}

func (w *workspace) command(args ...string) *exec.Cmd {
	cmd := exec.Command(terraformBin, args...)
	cmd.Dir = w.dir
	cmd.Env = append(os.Environ(), w.env...)
	return cmd
}

var applyArgs = []string{"apply", "-auto-approve", "-input=false", "-no-color"}

// run runs terraform and returns its combined output.
func (w *workspace) run(args ...string) (string, error) {
	out, err := w.command(args...).CombinedOutput()
	return string(out), err
}

// mustRun runs terraform and fails the test if it fails.
func (w *workspace) mustRun(args ...string) string {
	w.t.Helper()
	out, err := w.run(args...)
	if err != nil {
		w.t.Fatalf("terraform %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// planIsEmpty checks that a plan proposes no change.
func (w *workspace) planIsEmpty() {
	w.t.Helper()
	out, err := w.run("plan", "-detailed-exitcode", "-input=false", "-no-color")
	if err != nil {
		w.t.Fatalf("after the repair, plan is not empty (%v):\n%s", err, out)
	}
}

// output reads an output value into v.
func (w *workspace) output(name string, v any) {
	w.t.Helper()
	out, err := w.command("output", "-json", name).Output()
	if err != nil {
		w.t.Fatalf("terraform output %s: %v", name, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		w.t.Fatalf("output %s: %v\n%s", name, err, out)
	}
}

// start starts terraform in the background.
func (w *workspace) start(args ...string) (*exec.Cmd, *bytes.Buffer, <-chan error) {
	w.t.Helper()
	cmd := w.command(args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, &out, done
}

// waitFor polls cond until it holds, failing the test after timeout, or as soon as the
// background command ends.
func waitFor(t *testing.T, what string, timeout time.Duration, done <-chan error, out *bytes.Buffer, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("terraform ended (%v) before %s:\n%s", err, what, out)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %s", what, timeout)
		}
	}
}

// providerProcesses lists the processes of the provider built here: providers that Terraform
// started, and engine workers (with AEP_ENGINE_WORKER in their environment).
func providerProcesses(t *testing.T) (providers, workers []int) {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != providerBin {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if bytes.Contains(env, []byte("AEP_ENGINE_WORKER=")) {
			workers = append(workers, pid)
		} else {
			providers = append(providers, pid)
		}
	}
	return providers, workers
}

// kill9 kills processes with SIGKILL and waits until they are gone.
func kill9(t *testing.T, pids ...int) {
	t.Helper()
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			_ = p.Kill() // SIGKILL where there are signals
		}
	}
	for _, pid := range pids {
		if !awaitExit(t, pid, 5*time.Second) {
			t.Fatalf("process %d still runs after SIGKILL", pid)
		}
	}
}

// needsProc skips a test that finds processes through /proc.
func needsProc(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Skip("the crash tests find the provider's processes through /proc")
	}
}

// db opens the engine's database read-only, to watch and check what the engine did.
func db(t *testing.T, dataDir string) *sql.DB {
	t.Helper()
	dbsMu.Lock()
	defer dbsMu.Unlock()
	if d, ok := dbs[dataDir]; ok {
		return d
	}
	d, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "aep.db")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	dbs[dataDir] = d
	t.Cleanup(func() {
		dbsMu.Lock()
		delete(dbs, dataDir)
		dbsMu.Unlock()
		_ = d.Close()
	})
	return d
}

// dbs holds one read-only handle a data directory, for the pollers that ask every few milliseconds.
var (
	dbsMu sync.Mutex
	dbs   = map[string]*sql.DB{}
)

func queryInt(t *testing.T, d *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n sql.NullInt64
	if err := d.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n.Int64
}

func queryString(t *testing.T, d *sql.DB, query string, args ...any) string {
	t.Helper()
	var s sql.NullString
	if err := d.QueryRow(query, args...).Scan(&s); err != nil && err != sql.ErrNoRows {
		t.Fatalf("%s: %v", query, err)
	}
	return s.String
}

// generated is sample data made once per size for the whole run.
var (
	generatedMu sync.Mutex
	generated   = map[int]generatedData{}
)

type generatedData struct {
	dir    string
	counts sampledata.Counts
}

// sampleData returns a directory of generated sample data for people people.
func sampleData(t *testing.T, people int) (string, sampledata.Counts) {
	t.Helper()
	generatedMu.Lock()
	defer generatedMu.Unlock()
	g, ok := generated[people]
	if !ok {
		g.dir = filepath.Join(dataRoot, fmt.Sprintf("people-%d", people))
		var err error
		if g.counts, err = sampledata.Generate(g.dir, sampledata.Options{Seed: 7, People: people, EventsPerPerson: 3}); err != nil {
			t.Fatal(err)
		}
		generated[people] = g
	}
	return g.dir, g.counts
}

// freePort returns a TCP address on the loopback interface that nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// server is the engine served over HTTP by the provider's binary, as remote mode's endpoint.
type server struct {
	t                *testing.T
	addr, dataDir    string
	clientID, secret string
	cmd              *exec.Cmd
	done             chan struct{} // closed when the process has exited
	exitErr          error
	log              *bytes.Buffer
}

func startServer(t *testing.T, dataDir, addr string) *server {
	t.Helper()
	s := &server{t: t, addr: addr, dataDir: dataDir, clientID: "reliability-client", secret: "s3cr3t-" + strconv.FormatInt(time.Now().UnixNano(), 36)}
	s.start()
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *server) start() {
	s.t.Helper()
	s.cmd = exec.Command(providerBin, "-serve", s.addr, "-data-dir", s.dataDir, "-client-id", s.clientID)
	s.cmd.Env = append(os.Environ(), "AEP_CLIENT_SECRET="+s.secret)
	s.log = &bytes.Buffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		s.exitErr = cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		select {
		case <-s.done:
			s.t.Fatalf("the server exited: %v\n%s", s.exitErr, s.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the server did not listen at %s", s.addr)
		}
	}
}

func (s *server) kill9() {
	s.t.Helper()
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *server) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
}

// embeddedProvider is the provider configuration of a workspace on the embedded engine in dataDir.
func embeddedProvider(dataDir string) string {
	return fmt.Sprintf("provider \"experienceplatform\" {\n  data_dir = %q\n}\n", dataDir)
}

func (s *server) provider() string {
	return fmt.Sprintf(`provider "experienceplatform" {
  endpoint      = "http://%s"
  ims_endpoint  = "http://%s"
  client_id     = %q
  client_secret = %q
  org_id        = "embedded@AdobeOrg"
}
`, s.addr, s.addr, s.clientID, s.secret)
}
