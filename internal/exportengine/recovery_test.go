package exportengine

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/internal/childproc"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
)

// The helper process of the job crash test: a runner that says "ready" on its standard output
// when an export reaches its second chunk, and stops dead there (SIGKILL from the test).
const jobCrashEnv = "EXPORTENGINE_TEST_JOB_CRASH"

func init() {
	dir := os.Getenv(jobCrashEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	e, err := Open(ctx, Options{DataDir: dir, RunJobs: true, Hooks: Hooks{BeforeExportChunk: func(_ context.Context, seq int) {
		if seq == 1 {
			fmt.Println("ready")
			waitForKill()
		}
	}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Nothing returns unless the jobs end before the crash point.
	list, err := e.ListExportJobs(ctx, aepwire.ExportJobQuery{})
	for i := 0; err == nil && i < len(list.Records); i++ {
		_, err = e.WaitExportJob(ctx, list.Records[i].ID, nil)
	}
	fmt.Fprintln(os.Stderr, "the jobs ended before the crash point:", err)
	os.Exit(3)
}

// killRunnerMidExport starts a helper process that runs the data directory's jobs, and kills it
// when it is in the middle of an export.
func killRunnerMidExport(t *testing.T, dir string) {
	t.Helper()
	killAtReady(t, jobCrashEnv+"="+dir)
}

// waitForKill is what a helper process does at its crash point: it waits for the test to kill it,
// reading its standard input, a pipe the test never writes to. (Blocking forever on nothing else
// could be a deadlock, which the runtime ends.)
func waitForKill() {
	_, _ = io.Copy(io.Discard, os.Stdin)
	fmt.Fprintln(os.Stderr, "the test closed the helper's input instead of killing it")
	os.Exit(4)
}

// killAtReady starts the test binary as a helper process (env selects what it does), waits until
// it says "ready" on its standard output, and kills it.
func killAtReady(t *testing.T, env string) {
	t.Helper()
	if err := childproc.Start(t, env, "ready").Kill(); err == nil {
		t.Fatal("the helper exited cleanly; it should have been killed")
	}
}

func TestAbandonedJobIsResumed(t *testing.T) {
	env := newJobEnv(t, Options{}) // creates the job; runs nothing
	env.ingestSample(t, 1500)
	ctx := context.Background()
	j := env.create(t, env.e)
	killRunnerMidExport(t, env.dataDir)

	mid, err := env.e.GetExportJob(ctx, j.ID)
	if err != nil || mid.Status != aepwire.JobProcessing {
		t.Fatalf("after the crash the job is %+v, %v; want PROCESSING", mid, err)
	}
	if _, err := env.e.GetBatch(ctx, mid.Destination.BatchID); !aepwire.IsNotFound(err) {
		t.Errorf("the interrupted job's batch is visible: %v", err)
	}
	// Any engine that runs jobs and opens the store resumes it.
	runner := openEngine(t, Options{DataDir: env.dataDir, RunJobs: true})
	done := wait(t, runner, j.ID)
	if done.Status != aepwire.JobSucceeded {
		t.Fatalf("resumed job ended %s: %+v", done.Status, done.Errors)
	}
	if len(done.Warnings) != 1 || done.Warnings[0].Code != codeJobResumed || !strings.Contains(done.Warnings[0].Msg, "attempt 1 was interrupted") {
		t.Errorf("the resumed job does not say so: %+v", done.Warnings)
	}
	// The output is whole: the same as a job that was never interrupted.
	clean := env.create(t, runner)
	again := wait(t, runner, clean.ID)
	got, want := exportedRows(t, runner, done.Destination.BatchID), exportedRows(t, runner, again.Destination.BatchID)
	if len(got) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the resumed job wrote %d rows, a clean run %d", len(got), len(want))
	}
}

func TestJobAbandonedTooOftenFails(t *testing.T) {
	env := newJobEnv(t, Options{})
	env.ingestSample(t, 1500)
	j := env.create(t, env.e)
	for range jobs.MaxAttempts {
		killRunnerMidExport(t, env.dataDir)
	}
	runner := openEngine(t, Options{DataDir: env.dataDir, RunJobs: true})
	done := wait(t, runner, j.ID)
	if done.Status != aepwire.JobFailed || len(done.Errors) != 1 || done.Errors[0].Code != codeJobAbandoned ||
		!strings.Contains(done.Errors[0].Msg, "interrupted 3 times") || done.Destination.BatchID != j.Destination.BatchID {
		t.Errorf("job abandoned %d times: %+v", jobs.MaxAttempts, done)
	}
	if len(done.Warnings) != 2 {
		t.Errorf("warnings %+v, want one for each resumed attempt", done.Warnings)
	}
	if _, err := os.Stat(runner.batchDir(j.Destination.BatchID)); !os.IsNotExist(err) {
		t.Errorf("the failed job left files (batch %q): %v", j.Destination.BatchID, err)
	}
}

func TestDestinationDeletedWhileRunning(t *testing.T) {
	env, gate, j := newHeldJob(t)
	ctx := context.Background()
	if err := env.e.DeleteDataset(ctx, env.dest); err != nil {
		t.Fatal(err)
	}
	gate.release()
	done := wait(t, env.e, j.ID)
	if done.Status != aepwire.JobFailed || len(done.Errors) != 1 || done.Errors[0].Code != codeJobDestination ||
		!strings.Contains(done.Errors[0].Msg, "the destination dataset "+env.dest+" was deleted while the job ran") {
		t.Errorf("job whose destination was deleted: %s %+v", done.Status, done.Errors)
	}
	if _, err := os.Stat(env.e.batchDir(j.Destination.BatchID)); !os.IsNotExist(err) {
		t.Errorf("the failed job left files (batch %q): %v", j.Destination.BatchID, err)
	}
}

// A job whose destination goes before any runner picks it up never becomes PROCESSING: the
// runner that finds it ends it FAILED, saying what went.
func TestDestinationDeletedBeforeStart(t *testing.T) {
	env := newJobEnv(t, Options{})
	env.ingestSample(t, 100)
	ctx := context.Background()
	j := env.create(t, env.e)
	if err := env.e.DeleteDataset(ctx, env.dest); err != nil {
		t.Fatal(err)
	}
	runner := openEngine(t, Options{DataDir: env.dataDir, RunJobs: true})
	done := wait(t, runner, j.ID)
	if done.Status != aepwire.JobFailed || len(done.Errors) != 1 || done.Errors[0].Code != codeJobDestination ||
		!strings.Contains(done.Errors[0].Msg, "the job cannot run: destination.datasetId "+env.dest+" names no dataset (it was deleted after the job was created)") ||
		done.Metrics.TotalTime == nil || done.Destination.BatchID != j.Destination.BatchID {
		t.Errorf("job whose destination was deleted before it started: %s %+v %+v", done.Status, done.Errors, done.Metrics)
	}
}

// A job created by an engine that runs none is run by a worker process it spawns, which exits
// once it has been idle.
func TestSpawnedWorkerRunsJobs(t *testing.T) {
	t.Setenv(WorkerIdleEnv, "150ms")
	dir := t.TempDir()
	spawned := 0
	// Another process runs the job: this engine hears of it by polling, on the wall clock.
	env := newJobEnv(t, Options{DataDir: dir, Clock: clock.System, Spawn: func() error {
		spawned++
		return SpawnWorker(os.Args[0], dir)
	}})
	env.ingestSample(t, 100)
	ctx := context.Background()
	j := env.create(t, env.e)
	done := wait(t, env.e, j.ID)
	if done.Status != aepwire.JobSucceeded || spawned == 0 {
		t.Fatalf("job %s after %d spawns: %+v", done.Status, spawned, done.Errors)
	}
	if env.e.runner.Started() {
		t.Fatal("the creating engine ran the job itself")
	}
	exited := make(chan error, 1)
	go func() { exited <- WaitWorkerExit(ctx, dir) }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the worker did not exit after being idle")
	}
	// The worker writes to its log only when something went wrong.
	if log, err := os.ReadFile(filepath.Join(dir, workerLogFile)); err != nil || len(log) > 0 {
		t.Errorf("worker log: %v\n%s", err, log)
	}
}
