package reliability

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Two applies at once on one data directory, with different configurations.
func TestTwoAppliesAtOnce(t *testing.T) {
	requireTerraform(t)
	const people = 20000
	data, _ := sampleData(t, people)
	ref := reference(t, people)
	dataDir := t.TempDir()
	ws := []*workspace{
		newWorkspace(t, pipelineNamed(embeddedProvider(dataDir), data, "a-")),
		newWorkspace(t, pipelineNamed(embeddedProvider(dataDir), data, "b-")),
	}
	outs := make([]string, len(ws))
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = w.run(applyArgs...)
		}()
	}
	wg.Wait()
	var lost, dup int64
	for i, w := range ws {
		if errs[i] != nil {
			t.Fatalf("apply %d: %v\n%s", i, errs[i], outs[i])
		}
		if strings.Contains(strings.ToLower(outs[i]), "database is locked") {
			t.Errorf("apply %d showed a locked database:\n%s", i, outs[i])
		}
		var job jobOutput
		w.output("job", &job)
		l, d := checkJob(t, fmt.Sprintf("apply %d's job", i), job.Profiles, job.Events, ref)
		l2, d2 := checkStoreNamed(t, dataDir, ref, []string{"a-", "b-"}[i])
		lost, dup = lost+l+l2, dup+d+d2
		w.planIsEmpty()
	}
	record(t, outcome{"two applies at once on one data directory", "both SUCCEEDED, no lock error", lost, dup})
}

// One apply with 100 export jobs at -parallelism=10.
func TestHundredJobsInOneApply(t *testing.T) {
	requireTerraform(t)
	const people, count = 2000, 100
	data, _ := sampleData(t, people)
	ref := reference(t, people)
	dataDir := t.TempDir()
	config := pipeline(embeddedProvider(dataDir), data) + fmt.Sprintf(`
resource "experienceplatform_export_job" "many" {
  count       = %d
  destination = { dataset_id = experienceplatform_dataset.export.id }
  event_list  = {}
  triggers    = { n = count.index }
  depends_on  = [experienceplatform_batch.source]
}
`, count)
	w := newWorkspace(t, config)
	start := time.Now()
	out := w.mustRun(append(applyArgs, "-parallelism=10")...)
	took := time.Since(start)
	if strings.Contains(strings.ToLower(out), "database is locked") {
		t.Errorf("the apply showed a locked database:\n%s", out)
	}
	all := jobs(t, dataDir)
	if len(all) != count+1 {
		t.Fatalf("%d jobs, want %d", len(all), count+1)
	}
	var lost, dup int64
	for _, j := range all {
		if j.status != aepwire.JobSucceeded {
			t.Errorf("job %d ended %s", j.id, j.status)
			continue
		}
		l, d := checkJob(t, fmt.Sprintf("job %d", j.id), j.profiles, j.events, ref)
		lost, dup = lost+l, dup+d
	}
	w.planIsEmpty()
	record(t, outcome{fmt.Sprintf("%d export jobs in one apply, -parallelism=10", count+1),
		fmt.Sprintf("all SUCCEEDED in %s", took.Round(100*time.Millisecond)), lost, dup})
}
