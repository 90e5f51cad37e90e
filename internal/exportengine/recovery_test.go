package exportengine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
)

// The helper process of the job crash test: a runner that stops dead (SIGKILL from the test) in
// the middle of an export.
const jobCrashEnv = "EXPORTENGINE_TEST_JOB_CRASH"

func init() {
	spec := os.Getenv(jobCrashEnv)
	if spec == "" {
		return
	}
	dir, ready, _ := strings.Cut(spec, "|")
	testHookChunk = func(_ context.Context, _ string, seq int) {
		if seq == 1 {
			_ = os.WriteFile(ready, nil, 0o644)
			select {} // wait for the kill
		}
	}
	e, err := Open(context.Background(), Options{DataDir: dir, RunJobs: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	time.Sleep(time.Minute)
	_ = e.Close()
	fmt.Fprintln(os.Stderr, "the helper was not killed")
	os.Exit(3)
}

// startJobRunner starts a helper process that runs the data directory's jobs and stops mid-export.
func killRunnerMidExport(t *testing.T, dir string) {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), jobCrashEnv+"="+dir+"|"+ready)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("the helper exited before the crash point: %v\n%s", err, stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	if err := <-exited; err == nil {
		t.Fatal("the helper exited cleanly; it should have been killed")
	}
}

func TestAbandonedJobIsResumed(t *testing.T) {
	env := newJobEnv(t, Options{}) // creates the job; runs nothing
	env.ingestSample(t, 1500)
	ctx := context.Background()
	j, err := env.e.CreateExportJob(ctx, env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	killRunnerMidExport(t, env.dataDir)

	mid, err := env.e.GetExportJob(ctx, j.ID)
	if err != nil || mid.Status != aepwire.JobProcessing {
		t.Fatalf("after the crash the job is %+v, %v; want PROCESSING", mid, err)
	}
	if _, err := env.e.GetBatch(ctx, mid.Destination.BatchID); !aepwire.IsNotFound(err) {
		t.Errorf("the interrupted job's batch is visible: %v", err)
	}
	// Any engine that runs jobs and opens the store resumes it.
	runner, err := Open(ctx, Options{DataDir: env.dataDir, RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	done := wait(t, runner, j.ID)
	if done.Status != aepwire.JobSucceeded {
		t.Fatalf("resumed job ended %s: %+v", done.Status, done.Errors)
	}
	if len(done.Warnings) != 1 || done.Warnings[0].Code != codeJobResumed || !strings.Contains(done.Warnings[0].Msg, "attempt 1 was interrupted") {
		t.Errorf("the resumed job does not say so: %+v", done.Warnings)
	}
	// The output is whole: the same as a job that was never interrupted.
	clean, err := runner.CreateExportJob(ctx, env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	again := wait(t, runner, clean.ID)
	got, want := exportedRows(t, runner, done.Destination.BatchID), exportedRows(t, runner, again.Destination.BatchID)
	if len(got) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the resumed job wrote %d rows, a clean run %d", len(got), len(want))
	}
}

func TestJobAbandonedTooOftenFails(t *testing.T) {
	env := newJobEnv(t, Options{})
	env.ingestSample(t, 1500)
	ctx := context.Background()
	j, err := env.e.CreateExportJob(ctx, env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	for range jobs.MaxAttempts {
		killRunnerMidExport(t, env.dataDir)
	}
	runner, err := Open(ctx, Options{DataDir: env.dataDir, RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	done := wait(t, runner, j.ID)
	if done.Status != aepwire.JobFailed || len(done.Errors) != 1 || done.Errors[0].Code != codeJobAbandoned ||
		!strings.Contains(done.Errors[0].Msg, "interrupted 3 times") || done.Destination.BatchID != "" {
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
	env := newJobEnv(t, Options{RunJobs: true})
	env.ingestSample(t, 1500)
	reached, release := pauseExports(t)
	ctx := context.Background()
	j, err := env.e.CreateExportJob(ctx, env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	<-reached
	if err := env.e.DeleteDataset(ctx, env.dest); err != nil {
		t.Fatal(err)
	}
	release()
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
	j, err := env.e.CreateExportJob(ctx, env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.e.DeleteDataset(ctx, env.dest); err != nil {
		t.Fatal(err)
	}
	runner, err := Open(ctx, Options{DataDir: env.dataDir, RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Close()
	done := wait(t, runner, j.ID)
	if done.Status != aepwire.JobFailed || len(done.Errors) != 1 || done.Errors[0].Code != codeJobDestination ||
		!strings.Contains(done.Errors[0].Msg, "the job cannot run: destination.datasetId "+env.dest+" names no dataset (it was deleted after the job was created)") ||
		done.Metrics.TotalTime == nil || done.Destination.BatchID != "" {
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
	j, err := env.e.CreateExportJob(ctx, env.request(), "")
	if err != nil {
		t.Fatal(err)
	}
	done := wait(t, env.e, j.ID)
	if done.Status != aepwire.JobSucceeded || spawned == 0 {
		t.Fatalf("job %s after %d spawns: %+v", done.Status, spawned, done.Errors)
	}
	if env.e.runner != nil {
		t.Fatal("the creating engine ran the job itself")
	}
	deadline := time.Now().Add(10 * time.Second)
	for env.e.workerRunning() {
		if time.Now().After(deadline) {
			t.Fatal("the worker did not exit after being idle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The worker writes to its log only when something went wrong.
	if log, err := os.ReadFile(filepath.Join(dir, workerLogFile)); err != nil || len(log) > 0 {
		t.Errorf("worker log: %v\n%s", err, log)
	}
}
