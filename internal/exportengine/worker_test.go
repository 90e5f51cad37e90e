package exportengine

import (
	"context"
	"math"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/plugintls"
)

// A worker runs the jobs of its data directory, and exits once it has had nothing to run for its
// idle time, as its clock tells it.
func TestWorkerRunsJobsThenExitsWhenIdle(t *testing.T) {
	// The creating engine hears of a job run elsewhere by polling, on the wall clock.
	env := newJobEnv(t, Options{Clock: clock.System})
	env.ingestSample(t, 100)
	j := env.create(t, env.e)
	ctx := context.Background()
	workerClock := newFakeClock()
	exited := make(chan error, 1)
	go func() { exited <- RunWorker(ctx, Options{DataDir: env.dataDir, Clock: workerClock}, time.Second) }()
	if done := wait(t, env.e, j.ID); done.Status != aepwire.JobSucceeded {
		t.Fatalf("the worker's job ended %s: %+v", done.Status, done.Errors)
	}
	// The run is over once its lock is free; then the worker waits for its idle time.
	if released, held := env.e.locks.WatchJob(j.ID); held {
		<-released
	}
	idle, stop := context.WithCancel(ctx)
	var err error
	go func() { err = <-exited; stop() }()
	var waited time.Duration
	// Each round, the worker's scheduler and its idle wait are on the clock.
	for workerClock.BlockUntil(idle, 2) == nil {
		if waited > 2*time.Second {
			t.Fatal("the worker still runs two seconds after its last job")
		}
		const step = 25 * time.Millisecond
		workerClock.Advance(step)
		waited += step
	}
	if err != nil || waited < time.Second {
		t.Errorf("the worker exited after %s idle (%v), want a second", waited, err)
	}
	if WorkerRunning(env.dataDir) {
		t.Error("the worker lock is still held")
	}
}

// A worker's environment is its parent's with the data directory named, less Terraform's plugin
// certificate and any data directory the parent was itself a worker for.
func TestWorkerEnvironment(t *testing.T) {
	parent := []string{"PATH=/bin", plugintls.ClientCertEnv + "=-----BEGIN CERTIFICATE-----", WorkerEnv + "=/old",
		"PLUGIN_CLIENT_CERTS=kept", "HOME=/root"}
	got := workerEnviron(parent, "/data")
	want := []string{"PATH=/bin", "PLUGIN_CLIENT_CERTS=kept", "HOME=/root", WorkerEnv + "=/data"}
	if !slices.Equal(got, want) {
		t.Errorf("workerEnviron = %q, want %q", got, want)
	}
	if parent[1] != plugintls.ClientCertEnv+"=-----BEGIN CERTIFICATE-----" {
		t.Errorf("the parent's environment changed: %q", parent)
	}
}

// LimitMemory gives the process the engine's memory limit and collector's percentage, and
// leaves each alone where its environment variable sets it.
func TestLimitMemory(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(math.MaxInt64))
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	LimitMemory()
	if got := debug.SetGCPercent(100); got != GCPercent {
		t.Errorf("the collector's percentage: %d, want %d", got, GCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != MemoryLimit {
		t.Errorf("the memory limit: %d, want %d", got, MemoryLimit)
	}

	t.Setenv("GOGC", "200")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	LimitMemory()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set, the collector's percentage: %d, want it left at 100", got)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set, the memory limit: %d, want it left unset", got)
	}
}
