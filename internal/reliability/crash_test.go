package reliability

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// crashPeople is the size of the crash tests' data: enough that an ingestion and an export each
// take a second or more here, so that a kill lands in their middle. AEP_RELIABILITY_PEOPLE sets
// another (`make reliability` runs them on more).
var crashPeople = func() int {
	if n, err := strconv.Atoi(os.Getenv("AEP_RELIABILITY_PEOPLE")); err == nil && n > 0 {
		return n
	}
	return 60000
}()

// noPartialBatch checks that every successful batch of a source dataset holds all of its file.
func noPartialBatch(t *testing.T, dataDir string, ref *expected) {
	t.Helper()
	d := db(t, dataDir)
	rows, err := d.Query(`SELECT d.name, b.id, b.record_count FROM batches b JOIN datasets d ON d.id = b.dataset_id
		WHERE b.status = 'success' AND d.name != 'export'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, id string
		var n int64
		if err := rows.Scan(&name, &id, &n); err != nil {
			t.Fatal(err)
		}
		if n != ref.records[name] {
			t.Errorf("batch %s of %s is visible with %d records, its file has %d", id, name, n, ref.records[name])
		}
	}
}

// checkJobs checks that every job ended SUCCEEDED (an interrupted one resumed) or FAILED with a
// reason, and that each that succeeded exported what a clean run exports.
func checkJobs(t *testing.T, all []jobRow, ref *expected) (lost, duplicated int64) {
	t.Helper()
	for _, j := range all {
		switch j.status {
		case aepwire.JobSucceeded:
			l, d := checkJob(t, fmt.Sprintf("job %d", j.id), j.profiles, j.events, ref)
			lost, duplicated = lost+l, duplicated+d
		case aepwire.JobFailed:
			if !strings.Contains(j.errors, "EXPORT-") {
				t.Errorf("job %d FAILED without saying why: %s", j.id, j.errors)
			}
		default:
			t.Errorf("job %d ended %s", j.id, j.status)
		}
	}
	return lost, duplicated
}

// crashRun is an apply of the pipeline, started in the background, that a test breaks.
type crashRun struct {
	t       *testing.T
	dataDir string
	ref     *expected
	w       *workspace
	cmd     *exec.Cmd
	out     *bytes.Buffer
	done    <-chan error
}

// startPipeline starts applying the pipeline on the crash tests' data with the provider
// configuration provider, whose engine keeps its data in dataDir.
func startPipeline(t *testing.T, dataDir, provider string) *crashRun {
	t.Helper()
	data, _ := sampleData(t, crashPeople)
	r := &crashRun{t: t, dataDir: dataDir, ref: reference(t, crashPeople)}
	r.w = newWorkspace(t, pipeline(provider, data))
	r.cmd, r.out, r.done = r.w.start(applyArgs...)
	return r
}

func (r *crashRun) midIngestion() {
	waitFor(r.t, "an ingestion writing its profile segment", 2*time.Minute, r.done, r.out, func() bool { return segmentBeingWritten(r.dataDir) })
}

func (r *crashRun) midExport() {
	waitFor(r.t, "the export job processing", 2*time.Minute, r.done, r.out, func() bool { return jobProcessing(r.t, r.dataDir) })
}

// firstApplyFails checks that the broken apply failed.
func (r *crashRun) firstApplyFails() {
	r.t.Helper()
	if err := <-r.done; err == nil {
		r.t.Fatalf("apply succeeded although its provider was killed:\n%s", r.out)
	}
}

// firstApply says how the broken apply ended.
func (r *crashRun) firstApply(succeeded string) string {
	if err := <-r.done; err != nil {
		return "apply failed: " + lastLine(r.out.String())
	}
	return succeeded
}

// repair applies again, and checks the plan is empty and every record is in the store once.
func (r *crashRun) repair() (lost, duplicated int64) {
	r.t.Helper()
	r.w.mustRun(applyArgs...)
	r.w.planIsEmpty()
	return checkStore(r.t, r.dataDir, r.ref)
}

// job checks the export job of the state against the reference run.
func (r *crashRun) job() (lost, duplicated int64) {
	r.t.Helper()
	var job jobOutput
	r.w.output("job", &job)
	return checkJob(r.t, "the job", job.Profiles, job.Events, r.ref)
}

// allJobs waits for every job to end and checks those that succeeded against the reference.
func (r *crashRun) allJobs() ([]jobRow, int64, int64) {
	r.t.Helper()
	all := awaitJobsEnded(r.t, r.dataDir, 2*time.Minute)
	if len(all) == 0 || !strings.Contains(all[0].warnings, "EXPORT-1003") {
		r.t.Errorf("jobs %+v: want the interrupted job resumed", all)
	}
	lost, dup := checkJobs(r.t, all, r.ref)
	return all, lost, dup
}

func TestKillProviderMidIngestion(t *testing.T) {
	requireTerraform(t)
	needsProc(t)
	dataDir := t.TempDir()
	r := startPipeline(t, dataDir, embeddedProvider(dataDir))
	r.midIngestion()
	providers, _ := providerProcesses(t)
	kill9(t, providers...)
	r.firstApplyFails()
	noPartialBatch(t, dataDir, r.ref)

	lost, dup := r.repair()
	l, d := r.job()
	left := queryInt(t, db(t, dataDir), `SELECT COUNT(*) FROM batches WHERE status = 'loading'`)

	// The interrupted batch stays loading (and invisible) until a day has passed; then the next
	// engine to open the store ends it abandoned and removes its files.
	dayLater := clock.NewFake(time.Now().Add(24*time.Hour + time.Minute))
	later, err := exportengine.Open(context.Background(), exportengine.Options{DataDir: dataDir, Clock: dayLater})
	if err != nil {
		t.Fatal(err)
	}
	_ = later.Close()
	d2 := db(t, dataDir)
	if n := queryInt(t, d2, `SELECT COUNT(*) FROM batches WHERE status = 'loading'`); n != 0 {
		t.Errorf("%d batches still loading a day later", n)
	}
	abandoned := queryInt(t, d2, `SELECT COUNT(*) FROM batches WHERE status = 'abandoned'`)
	if abandoned != left {
		t.Errorf("%d batches abandoned a day later, want the %d left loading", abandoned, left)
	}
	if id := queryString(t, d2, `SELECT id FROM batches WHERE status = 'abandoned' LIMIT 1`); id != "" {
		if _, err := os.Stat(filepath.Join(dataDir, "batches", id)); !os.IsNotExist(err) {
			t.Errorf("the abandoned batch %s still has its files: %v", id, err)
		}
	}
	// The store is checked again after the repair: the counts are of the worse of the two checks.
	lost2, dup2 := checkStore(t, dataDir, r.ref)
	record(t, outcome{"SIGKILL provider mid-ingestion (embedded)",
		fmt.Sprintf("apply failed; next apply ingested anew, job SUCCEEDED; %d interrupted batch left loading (empty), "+
			"ended abandoned, its files removed, by the first engine to open the store a day later", left),
		max(lost, lost2) + l, max(dup, dup2) + d})
}

func TestKillProviderAndWorkerMidExport(t *testing.T) {
	requireTerraform(t)
	needsProc(t)
	dataDir := t.TempDir()
	r := startPipeline(t, dataDir, embeddedProvider(dataDir))
	r.midExport()
	providers, workers := providerProcesses(t)
	if len(workers) == 0 {
		t.Fatal("no engine worker runs the job")
	}
	kill9(t, append(providers, workers...)...)
	r.firstApplyFails()
	noPartialBatch(t, dataDir, r.ref)

	// The job was created but never reached the state: the next apply starts another, and the
	// engine resumes the interrupted one.
	lost, dup := r.repair()
	all, l, d := r.allJobs()
	if len(all) != 2 {
		t.Errorf("jobs %+v: want the interrupted job and the next apply's", all)
	}
	record(t, outcome{"SIGKILL provider and worker mid-export (embedded)",
		"apply failed; next apply: " + describeJobs(all), lost + l, dup + d})
}

func TestKillServerMidIngestion(t *testing.T) {
	requireTerraform(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, freePort(t))
	r := startPipeline(t, dataDir, srv.provider())
	r.midIngestion()
	srv.kill9()
	noPartialBatch(t, dataDir, r.ref)
	srv.start()
	first := r.firstApply("apply succeeded (the client retried)")
	lost, dup := r.repair()
	l, d := r.job()
	record(t, outcome{"SIGKILL server mid-ingestion (remote), restarted", first + "; next apply clean, job SUCCEEDED", lost + l, dup + d})
}

func TestKillServerMidExport(t *testing.T) {
	requireTerraform(t)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, freePort(t))
	r := startPipeline(t, dataDir, srv.provider())
	r.midExport()
	srv.kill9()
	noPartialBatch(t, dataDir, r.ref)
	srv.start()
	first := r.firstApply("apply succeeded (the client retried, the job resumed)")
	lost, dup := r.repair()
	all, l, d := r.allJobs()
	record(t, outcome{"SIGKILL server mid-export (remote), restarted", first + "; " + describeJobs(all), lost + l, dup + d})
}

// lastLine is the last non-blank line of Terraform's output that says something.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.Trim(strings.TrimSpace(lines[i]), "│╵╷ "); l != "" {
			return l
		}
	}
	return ""
}
