package exportengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/graph"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Options configure an engine.
type Options struct {
	// DataDir holds the engine's database and data files. It is created when missing.
	DataDir string
	// Clock is the engine's one source of time: its timestamps, and every wait of its runner
	// (the scheduler's poll, cancellation checks, progress, a worker's idle time) and of
	// WaitExportJob. It defaults to the wall clock; tests pass a clock.Fake and move it.
	Clock clock.Clock
	// Sandbox is the sandbox of the calls whose context names none (see aepwire.WithSandbox): the
	// provider's sandbox_name, or the server's default sandbox. A data directory written before it
	// knew sandboxes belongs to the sandbox of the first engine that opens it. Empty means "prod".
	Sandbox string
	// ImsOrg is the organisation the engine reports in the objects it returns.
	ImsOrg string
	// RunBytes bounds the records a batch's ingestion holds in memory before it sorts them and
	// writes them out as one run of the batch's profile segment. Zero means 64 MiB.
	RunBytes int
	// SortRunBytes bounds what an export through the identity graph holds in memory for each of
	// its external sorts (the identities, then the records' places): two runs of this size each,
	// one filling while the other is sorted and written. Zero means 8 MiB.
	SortRunBytes int
	// RunJobs makes this engine run export jobs itself, in goroutines: for worker processes,
	// servers and tests. Without it, jobs are run by a worker that Spawn starts.
	RunJobs bool
	// Spawn starts a worker process for this data directory (see RunWorker) when jobs need a
	// runner and RunJobs is off. A worker that finds another one running exits at once.
	Spawn func() error
	// MaxBatchBytes bounds the bytes of a batch's files together, and MaxBatchFiles their
	// number: an upload past either is refused with a 413 that names the limit, and the batch
	// keeps what it held. Zero means no limit.
	MaxBatchBytes int64
	MaxBatchFiles int
	// DiskReserve is the room, in bytes, that uploads and new export jobs leave free on the data
	// directory's file system, so that its database and the work under way keep room to write:
	// an upload is refused with a 507 when less is free, or stopped as soon as it would leave
	// less; so is the creation of an export job. Zero keeps no reserve.
	DiskReserve int64
	// Quotas bound what one sandbox holds (the served engine's: a sandbox's client cannot take
	// the database for itself). The zero value bounds nothing.
	Quotas Quotas
	// MaxConcurrentJobs bounds the jobs a runner runs at once; zero means 2. Each job uses every
	// core, so more mostly adds memory. An export waiting for another export of its store lends
	// its place meanwhile, so a runner may hold up to twice as many jobs, at most half of them
	// lending their place.
	MaxConcurrentJobs int
	// Workers is the number of goroutines that merge and encode profiles in one job; zero means
	// one a core.
	Workers int
	// Hooks are called at fixed points of the engine's work.
	Hooks Hooks
	// Log, when set, hears of what the engine does with no caller to answer: why a batch
	// completed in the background (AcceptBatch) failed.
	Log func(format string, args ...any)
}

// Hooks are points at which a program takes part in the engine's work: each is called in the
// goroutine doing that work, which waits for it to return, so that a hook must not wait for that
// work itself (Close, or deleting the batch being completed, from a batch's hooks). A nil hook is
// skipped. Tests use them to hold a job or an ingestion at a known point, and to learn that it
// got there.
type Hooks struct {
	// BeforeExportChunk is called before each chunk of an export's profiles goes to be merged,
	// with the chunk's sequence number (from 0). ctx ends when the job is cancelled or its
	// runner stops.
	BeforeExportChunk func(ctx context.Context, seq int)
	// AfterSegmentRun is called, while a batch is completed, after each sorted run of its profile
	// segment is written to the file.
	AfterSegmentRun func()
	// WaitForBatch is called when a batch's completion, or an upload's move into place, starts
	// to wait for the batch's lock, which another completion or upload holds.
	WaitForBatch func(batch string)
	// GraphDone is called once an export through the identity graph has its profiles' places:
	// with reused true when they came from the graph an earlier export kept, or else with what
	// keeping this export's graph for the next came to (nil when it is kept).
	GraphDone func(reused bool, keepErr error)
	// WaitForGraph is called when an export through the identity graph starts to wait for the
	// export that is building the same store's graph, or keeping its event bodies.
	WaitForGraph func()
	// EventsKept is called with what keeping the event bodies beside the identity graph came to,
	// by an export that reads a kept graph without them (the export that builds the graph keeps
	// none): nil once it has written its profiles and kept them, or why it did not (at once when
	// it does not start to, such as when the file system is short of room for them).
	EventsKept func(err error)
	// EventsRead is called when an export that read a kept graph, and the event bodies kept with
	// it, has written its profiles: with how many events it read from those, and how many from
	// their batches because the kept bodies did not check out.
	EventsRead func(kept, fromStore int64)
	// BeforeKeepingEvents is called by the goroutine that keeps the event bodies of an export
	// through a kept identity graph, before it keeps those of each chunk, with the chunk's
	// sequence number; ctx ends when the job is cancelled or its runner stops.
	BeforeKeepingEvents func(ctx context.Context, seq int)
	// BatchInBackgroundDone is called when a completion that AcceptBatch or ResumeBatches started
	// has returned, with its error (nil when the batch ended, and when it was no longer there to
	// complete).
	BatchInBackgroundDone func(batch string, err error)
	// WaitingForBatch is called by WaitBatch each time it has found the batch processing, as it
	// starts to wait for a change.
	WaitingForBatch func(batch string)
	// Tidied is called after each of KeepTidy's looks for batches to abandon, with its error.
	Tidied func(err error)
}

// DefaultImsOrg is the organisation of an engine opened without one.
const DefaultImsOrg = "embedded@AdobeOrg"

// Engine is an open data directory.
type Engine struct {
	dir          string
	clock        clock.Clock
	imsOrg       string
	runBytes     int
	sortRunBytes int
	// freeSpace reports the room left on a directory's file system (tests shrink it).
	freeSpace func(dir string) (uint64, error)
	// writtenBack is what an export's output batches wait for their rows to be written back
	// with (outBatch.writtenBack); tests make it fail.
	writtenBack func(f *os.File, off, n int64) error
	workers     int
	// maxBatchBytes and maxBatchFiles are Options.MaxBatchBytes and MaxBatchFiles.
	maxBatchBytes int64
	maxBatchFiles int
	// diskReserve is Options.DiskReserve; quotas Options.Quotas.
	diskReserve int64
	quotas      Quotas
	store       *store.Store
	// home is the sandbox of calls whose context names none; sandboxes caches the names of the
	// sandboxes known to exist.
	home      string
	sandboxes sync.Map

	locks  jobs.Locks
	runner *jobs.Runner[*claimedJob] // started when RunJobs
	hooks  Hooks
	// graphBuilds are the identity graphs this engine's exports are building, by store: an export
	// of the same store waits for the graph to be kept rather than build it too.
	graphBuilds struct {
		sync.Mutex
		m map[graph.Key]*graphBuild
	}
	// jobEvents tells waiters in this process that this engine changed an export job.
	jobEvents signal
	// largeLocks are the locks of the large files in progress (largefiles.go).
	largeLocks largeLocks
	// background runs the completions of batches that AcceptBatch accepted.
	background background
	// tidy is KeepTidy's goroutine, which closing stops.
	tidy      sync.WaitGroup
	closing   chan struct{}
	closeOnce sync.Once
	log       func(format string, args ...any)
}

// databaseFile is the name of the engine's SQLite database inside the data directory.
const databaseFile = "aep.db"

// Open opens (creating when needed) the data directory and brings its database schema up to date.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.DataDir == "" {
		return nil, errors.New("exportengine: data directory is empty")
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolving data directory %q: %w", opts.DataDir, err)
	}
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if err := narrow(dir, privateDir); err != nil {
		return nil, fmt.Errorf("making the data directory private: %w", err)
	}
	e := &Engine{dir: dir, clock: clock.Or(opts.Clock), imsOrg: opts.ImsOrg, runBytes: opts.RunBytes, sortRunBytes: opts.SortRunBytes, workers: opts.Workers, hooks: opts.Hooks, freeSpace: freeSpace, writtenBack: dropWrittenBack,
		locks: jobs.NewLocks(dir), home: opts.Sandbox,
		maxBatchBytes: opts.MaxBatchBytes, maxBatchFiles: opts.MaxBatchFiles, diskReserve: opts.DiskReserve, quotas: opts.Quotas, log: opts.Log,
		closing: make(chan struct{})}
	e.background.start()
	if e.log == nil {
		e.log = func(string, ...any) {}
	}
	if e.workers <= 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	if e.sortRunBytes <= 0 {
		e.sortRunBytes = graph.RunSize
	}
	for _, sub := range []string{batchesDir, jobs.LocksDir, keptGraphsDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), privateDir); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
	}
	if e.imsOrg == "" {
		e.imsOrg = DefaultImsOrg
	}
	if e.home == "" {
		e.home = aepwire.DefaultSandbox
	}
	if err := CheckSandboxName(e.home); err != nil {
		return nil, err
	}
	e.store, err = store.Open(ctx, filepath.Join(dir, databaseFile))
	if err != nil {
		return nil, err
	}
	if err := e.makePrivate(ctx); err != nil {
		_ = e.store.Close()
		return nil, err
	}
	if err := e.claimUnowned(ctx); err != nil {
		_ = e.store.Close()
		return nil, fmt.Errorf("giving the data directory's objects to sandbox %s: %w", e.home, err)
	}
	if err := e.ensureSandbox(ctx, e.home); err != nil {
		_ = e.store.Close()
		return nil, fmt.Errorf("creating sandbox %s: %w", e.home, err)
	}
	if _, err := e.abandonStaleBatches(ctx); err != nil {
		_ = e.store.Close()
		return nil, fmt.Errorf("ending batches left loading: %w", err)
	}
	if err := e.collectOrphanBatchDirs(ctx); err != nil {
		_ = e.store.Close()
		return nil, fmt.Errorf("cleaning up the data directory: %w", err)
	}
	e.runner = jobs.NewRunner(jobs.Config[*claimedJob]{Locks: e.locks, Store: jobStore{e}, Export: e.export, Clock: e.clock,
		MaxRunning: opts.MaxConcurrentJobs, Spawn: opts.Spawn})
	if opts.RunJobs {
		e.runner.Start()
	}
	if err := e.recoverJobs(ctx); err != nil {
		_ = e.Close()
		return nil, fmt.Errorf("looking for interrupted export jobs: %w", err)
	}
	return e, nil
}

// Sandbox is the engine's own sandbox: that of calls whose context names none.
func (e *Engine) Sandbox() string { return e.home }

// DataDir is the absolute path of the engine's data directory.
func (e *Engine) DataDir() string { return e.dir }

// Close stops the engine's runner, if it has one, the completions it runs in the background and
// its tidying (KeepTidy), and releases the database. Jobs it was running are left to be resumed
// by the next runner, and batches it was completing processing, for ResumeBatches.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() { close(e.closing) })
	e.tidy.Wait()
	e.background.stop()
	e.runner.Stop()
	return e.store.Close()
}

func (e *Engine) nowMs() int64 { return e.clock.Now().UnixMilli() }

// signal wakes every goroutine waiting on it when notified: a channel closed and replaced.
type signal struct {
	mu sync.Mutex
	c  chan struct{}
}

// wait returns a channel that is closed at the next notify. Take it before looking at what it
// signals, so that a change made in between is not missed.
func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		s.c = make(chan struct{})
	}
	return s.c
}

func (s *signal) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		close(s.c)
		s.c = nil
	}
}
