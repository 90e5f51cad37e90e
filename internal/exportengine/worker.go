package exportengine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/plugintls"
)

// A worker is a process that runs the export jobs of a data directory and exits when none has
// been left for a while. The provider starts one (SpawnWorker) for the jobs it creates, so that a
// job keeps running after Terraform stops the provider, and so that a job whose runner died is
// resumed. At most one worker runs per data directory: it holds the worker lock.

const (
	workerLogFile = "worker.log"

	// WorkerEnv names the environment variable that makes a program a worker for the data
	// directory it holds; the program must then call WorkerMain (see main.go).
	WorkerEnv = "AEP_ENGINE_WORKER"
	// WorkerIdleEnv, when set to a duration, is how long a worker waits for new jobs before it exits.
	WorkerIdleEnv = "AEP_ENGINE_WORKER_IDLE"

	defaultWorkerIdle = 2 * time.Second
)

// WorkerIdle is the idle time of workers: WorkerIdleEnv when it is a valid duration, else 2s.
func WorkerIdle() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(WorkerIdleEnv)); err == nil && d > 0 {
		return d
	}
	return defaultWorkerIdle
}

// RunWorker runs the export jobs of the data directory opts.DataDir, with an engine opened with
// opts (RunJobs set), until there has been nothing to run for idle, as opts.Clock tells it. It
// returns at once when another worker is running.
func RunWorker(ctx context.Context, opts Options, idle time.Duration) error {
	opts.RunJobs = true
	locks := jobs.NewLocks(opts.DataDir)
	for {
		lock, ok, err := locks.TryWorker()
		if err != nil || !ok {
			return err
		}
		e, err := Open(ctx, opts)
		if err != nil {
			_ = lock.Unlock()
			return err
		}
		e.runner.WaitIdle(ctx, idle)
		// Stop taking jobs, then let go of the worker lock, then look once more: a job created
		// meanwhile has a spawner that found this worker still holding the lock.
		e.runner.Stop()
		_ = lock.Unlock()
		left, err := e.runner.Runnable(ctx)
		_ = e.Close()
		if err != nil || len(left) == 0 || ctx.Err() != nil {
			return err
		}
	}
}

// SpawnWorker starts the executable exe as a detached worker for dataDir: in a session of its
// own, with its output in the data directory's worker.log, so that it outlives its parent.
func SpawnWorker(exe, dataDir string) error {
	logFile, err := os.OpenFile(filepath.Join(dataDir, workerLogFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, privateFile)
	if err != nil {
		return fmt.Errorf("opening the worker log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(exe)
	cmd.Env = workerEnviron(os.Environ(), dataDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = detachedProcess()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting an engine worker: %w", err)
	}
	// Reap the worker if it ends before this process does.
	go func() { _ = cmd.Wait() }()
	return nil
}

// workerEnviron is a worker's environment: its parent's, with WorkerEnv naming the data directory,
// less the certificate Terraform gives a provider for its plugin handshake, which a worker has no
// use for (and which would make it build go-plugin's P-521 tables: see plugintls).
func workerEnviron(parent []string, dataDir string) []string {
	env := make([]string, 0, len(parent)+1)
	for _, kv := range parent {
		if name, _, _ := strings.Cut(kv, "="); name != plugintls.ClientCertEnv && name != WorkerEnv {
			env = append(env, kv)
		}
	}
	return append(env, WorkerEnv+"="+dataDir)
}

// WorkerMain is the whole life of a worker process, which a program calls when WorkerEnv is set:
// it runs the jobs of the data directory WorkerEnv names with an engine opened with opts, and
// returns the process's exit code. A worker's process is the program's: it should set its memory
// limit (MemoryLimit) first.
func WorkerMain(opts Options) int {
	opts.DataDir = os.Getenv(WorkerEnv)
	if err := RunWorker(context.Background(), opts, WorkerIdle()); err != nil {
		fmt.Fprintf(os.Stderr, "%s engine worker for %s: %v\n", clock.Or(opts.Clock).Now().UTC().Format(time.RFC3339), opts.DataDir, err)
		return 1
	}
	return 0
}

// MemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit) that a process running
// export jobs should set, unless GOMEMLIMIT sets one. An export through the identity graph holds
// 5 bytes an identity and its sorts' runs (under 200 MB at 4 million people); past the limit
// the garbage collector works harder rather than let the process grow.
const MemoryLimit = 320 << 20

// GCPercent is the garbage collector's target percentage (runtime/debug.SetGCPercent) that a
// process running export jobs should set, unless GOGC sets one. What an export holds is mostly
// bytes without pointers (the sorts' runs, the chunks' bodies and rows), which a collection does
// not scan: collecting when the heap has grown by half rather than doubled costs little CPU, and
// takes a fifth off the process's peak (BENCHMARKS.md, "The collector at 50%, measured").
const GCPercent = 50

// LimitMemory sets the memory limit and the collector's percentage of a process that runs export
// jobs (MemoryLimit, GCPercent), each unless its environment variable (GOMEMLIMIT, GOGC) sets it.
func LimitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
}

// WorkerRunning reports whether a worker process runs the jobs of dataDir now.
func WorkerRunning(dataDir string) bool { return jobs.NewLocks(dataDir).WorkerRunning() }

// WaitWorkerExit waits until no worker process runs the jobs of dataDir: for a program that
// removes or moves a data directory. A worker started meanwhile finds the lock taken for a moment
// and exits at once.
func WaitWorkerExit(ctx context.Context, dataDir string) error {
	return jobs.NewLocks(dataDir).WaitWorkerExit(ctx)
}
