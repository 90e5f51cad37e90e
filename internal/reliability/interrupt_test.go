package reliability

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Ctrl-C during the wait for a job: Terraform stops promptly with the job in its state
// (tainted); the next apply replaces it, and destroy leaves no job running.
func TestInterruptDuringExportWait(t *testing.T) {
	requireTerraform(t)
	dataDir := t.TempDir()
	r := startPipeline(t, dataDir, embeddedProvider(dataDir))
	w, ref, out, done := r.w, r.ref, r.out, r.done
	r.midExport()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	var stopped time.Duration
	select {
	case err := <-done:
		stopped = time.Since(sent)
		if err == nil && !strings.Contains(out.String(), "interrupted") {
			t.Logf("the job ended before the interrupt reached the wait:\n%s", out)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("terraform still runs 30s after SIGINT:\n%s", out)
	}
	if stopped > 5*time.Second {
		t.Errorf("terraform took %s to stop after SIGINT", stopped)
	}
	state := w.mustRun("state", "show", "-no-color", "experienceplatform_export_job.profiles")
	if !strings.Contains(state, `id `) {
		t.Fatalf("the state does not hold the job after the interrupt:\n%s", state)
	}
	tainted := strings.Contains(state, "tainted")

	// The next apply handles the interrupted job: replaced (cancelled if it still ran) when the
	// interrupt left it tainted.
	w.mustRun(applyArgs...)
	w.planIsEmpty()
	var job jobOutput
	w.output("job", &job)
	lost, dup := checkJob(t, "the new job", job.Profiles, job.Events, ref)
	all := awaitJobsEnded(t, dataDir, time.Minute)
	for _, j := range all[:len(all)-1] {
		if j.status != aepwire.JobCancelled && j.status != aepwire.JobSucceeded {
			t.Errorf("the interrupted job ended %s", j.status)
		}
	}
	w.mustRun("destroy", "-auto-approve", "-input=false", "-no-color")
	for _, j := range jobs(t, dataDir) {
		if !aepwire.JobTerminal(j.status) {
			t.Errorf("job %d is %s after destroy", j.id, j.status)
		}
	}
	record(t, outcome{"SIGINT to terraform apply while it waits for the job",
		fmt.Sprintf("stopped in %s, job in state (tainted: %t); next apply: %s; destroy clean", stopped.Round(10*time.Millisecond), tainted,
			describeJobs(all)), lost, dup})
}
