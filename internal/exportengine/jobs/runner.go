package jobs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

const (
	// schedulerPoll is how often a runner looks for jobs created by other processes and for jobs
	// whose runner died.
	schedulerPoll = 25 * time.Millisecond
	// cancelPoll is how often a running job checks whether it was cancelled from another process.
	cancelPoll = 50 * time.Millisecond
	// progressEvery is how often a running job records its counters.
	progressEvery = time.Second
	// spawnSettle is how long a worker process just started is given to take the worker lock
	// before another is started: waiters wake the runner every few milliseconds, and starting a
	// process takes longer than that.
	spawnSettle = 500 * time.Millisecond
	// DefaultMaxRunning is how many jobs a runner runs at once unless told otherwise.
	DefaultMaxRunning = 2
)

// Ref is a job as the runner first sees it.
type Ref struct {
	ID    int64
	State State
}

// Store is the runner's way to the job table. Each call is a transaction of its own, and every
// move it makes goes through the store's one transition, checked against the table (Check).
type Store[J any] interface {
	// Unfinished lists the jobs that are New or Processing, in the order they are to be run.
	Unfinished(ctx context.Context) ([]Ref, error)
	// Claim is called by a runner that holds a job's lock: it does what Decide says, starting
	// an attempt (New or Processing to Processing) or ending the job. It returns the job to run,
	// and false when there is none.
	Claim(ctx context.Context, id int64) (job J, run bool, err error)
	// End moves a job that has not ended to the end state to, made by by; cause is why it
	// failed, nil otherwise.
	End(ctx context.Context, id int64, to State, by Mover, cause error) error
	// Discard removes what a job's attempts wrote. The caller holds the job's lock, so that no
	// attempt is writing.
	Discard(ctx context.Context, id int64)
	// CancelRequested reports whether a cancellation of the job is recorded.
	CancelRequested(ctx context.Context, id int64) (bool, error)
	// RecordProgress records what a running job has written so far.
	RecordProgress(ctx context.Context, id int64, profiles, events int64) error
}

// Export does a claimed job's work, reporting what it has written in p, and commits its output,
// ending the job Succeeded in the same transaction. Any error leaves the job for the runner to
// end: ErrCancelledAtCommit when the commit found a cancellation, and anything else a failure.
type Export[J any] func(ctx context.Context, job J, p *Progress) error

// ErrCancelledAtCommit says that a job was cancelled after its export ended, before its commit.
var ErrCancelledAtCommit = errors.New("the job was cancelled before its output was committed")

// Config is what a Runner needs.
type Config[J any] struct {
	// Locks are the lock files of the data directory.
	Locks Locks
	// Store is the job table.
	Store Store[J]
	// Export is what running a job does.
	Export Export[J]
	// Clock is the runner's source of time.
	Clock clock.Clock
	// MaxRunning bounds the jobs run at once; zero means DefaultMaxRunning. A job that waits
	// for another (Progress.Wait) lends its place meanwhile.
	MaxRunning int
	// Spawn starts a worker process for the data directory, when this runner does not run jobs
	// itself (Start is not called): Wake calls it when there is work and no worker runs.
	Spawn func() error
}

// Runner claims jobs, runs them with the export function, cancels them and rescues the ones
// whose runner died. A Runner that is not started runs nothing: it cancels jobs that lost their
// runner, and hands work to a worker process (Config.Spawn).
type Runner[J any] struct {
	cfg Config[J]

	started  bool
	stopping atomic.Bool
	stopOnce sync.Once
	mu       sync.Mutex
	running  map[int64]context.CancelFunc
	slots    slots
	wake     chan struct{}
	stop     chan struct{}
	done     sync.WaitGroup

	spawnErr atomic.Pointer[error] // the last error of Spawn
	spawned  atomic.Int64          // when Spawn last started a worker, in Unix nanoseconds
}

// NewRunner returns a runner that is not started.
func NewRunner[J any](cfg Config[J]) *Runner[J] {
	cfg.Clock = clock.Or(cfg.Clock)
	if cfg.MaxRunning <= 0 {
		cfg.MaxRunning = DefaultMaxRunning
	}
	r := &Runner[J]{cfg: cfg, running: map[int64]context.CancelFunc{}, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	r.slots = slots{max: cfg.MaxRunning, freed: r.poke}
	return r
}

// Start makes the runner run jobs: New ones, and Processing ones whose runner died. Call it once,
// before any other method.
func (r *Runner[J]) Start() {
	r.started = true
	r.done.Add(1)
	go r.schedule()
}

// Started reports whether the runner runs jobs.
func (r *Runner[J]) Started() bool { return r.started }

// Stop stops taking jobs and interrupts the running ones, and returns once they have let go of
// their locks. An interrupted job stays Processing, its output discarded, for the next runner to
// resume.
func (r *Runner[J]) Stop() {
	if !r.started {
		return
	}
	r.stopOnce.Do(func() {
		r.stopping.Store(true)
		close(r.stop)
		r.mu.Lock()
		for _, cancel := range r.running {
			cancel()
		}
		r.mu.Unlock()
	})
	r.done.Wait()
}

// Wake tells whoever runs jobs that there is work: this runner's scheduler, or a worker process
// (started when none runs).
func (r *Runner[J]) Wake() {
	if r.started {
		r.poke()
		return
	}
	r.ensureWorker()
}

// ensureWorker starts a worker process unless one is running or was just started.
func (r *Runner[J]) ensureWorker() {
	if r.cfg.Spawn == nil || r.cfg.Locks.WorkerRunning() {
		return
	}
	now := r.cfg.Clock.Now().UnixNano()
	last := r.spawned.Load()
	if now-last < int64(spawnSettle) || !r.spawned.CompareAndSwap(last, now) {
		return
	}
	if err := r.cfg.Spawn(); err != nil {
		r.spawnErr.Store(&err)
		r.spawned.Store(0) // a failed start holds nothing back
	}
}

// SpawnError is the error of the last failed start of a worker process, if any.
func (r *Runner[J]) SpawnError() error {
	if err := r.spawnErr.Load(); err != nil {
		return *err
	}
	return nil
}

func (r *Runner[J]) schedule() {
	defer r.done.Done()
	timer := r.cfg.Clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-timer.C():
		}
		r.claimJobs()
		timer.Reset(schedulerPoll)
	}
}

// poke wakes the scheduler.
func (r *Runner[J]) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Running is how many jobs this runner has claimed and not yet ended, those that lent their
// slot included.
func (r *Runner[J]) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

// Runnable lists the jobs that need a runner: New ones, and Processing ones that no runner holds
// (the rescuer's work).
func (r *Runner[J]) Runnable(ctx context.Context) ([]int64, error) {
	refs, err := r.cfg.Store.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, j := range refs {
		if j.State == New || !r.cfg.Locks.JobHeld(j.ID) {
			out = append(out, j.ID)
		}
	}
	return out, nil
}

func (r *Runner[J]) claimJobs() {
	ctx := context.Background()
	ids, err := r.Runnable(ctx)
	if err != nil {
		return // the database is busy or closing; the next round tries again
	}
	for _, id := range ids {
		r.mu.Lock()
		_, mine := r.running[id]
		r.mu.Unlock()
		if mine {
			continue
		}
		if r.stopping.Load() || !r.slots.take() {
			return
		}
		lock, ok, err := r.cfg.Locks.tryJob(id)
		if err != nil || !ok {
			r.slots.untake()
			continue
		}
		// Anything left by an interrupted attempt is discarded first, so that a job is never
		// seen to have ended while files of its attempts remain.
		r.cfg.Store.Discard(ctx, id)
		job, run, err := r.cfg.Store.Claim(ctx, id)
		if err != nil || !run {
			_ = lock.Unlock()
			r.slots.untake()
			continue
		}
		jobCtx, cancel := context.WithCancel(context.Background())
		r.mu.Lock()
		r.running[id] = cancel
		// A job claimed while the runner came to stop missed Stop's cancellations (it marks the
		// runner stopping before it takes the lock to cancel the running jobs): it stops here,
		// rather than keeping Stop waiting for its whole run.
		stopping := r.stopping.Load()
		r.mu.Unlock()
		if stopping {
			cancel()
		}
		progress := &Progress{slots: &r.slots}
		progress.holds.Store(true)
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			r.run(jobCtx, id, job, progress)
			cancel()
			r.mu.Lock()
			delete(r.running, id)
			r.mu.Unlock()
			_ = lock.Unlock()
			if progress.holds.Load() {
				r.slots.give()
			}
		}()
		// A claim may change the order of the rest (the store's order can depend on what runs,
		// as the sandboxes' turns do): the next place is filled from the order read again.
		r.poke()
		return
	}
}

// run runs a claimed job to its end, or until the runner stops.
func (r *Runner[J]) run(ctx context.Context, id int64, job J, progress *Progress) {
	monitorDone := make(chan struct{})
	var cancelled bool
	var monitorWG sync.WaitGroup
	monitorWG.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer monitorWG.Done()
		cancelled = r.monitor(ctx, id, progress, cancel, monitorDone)
	}()
	err := r.cfg.Export(ctx, job, progress)
	close(monitorDone)
	monitorWG.Wait()
	cancel()

	bg := context.Background()
	switch {
	case err == nil: // committed: the job ended Succeeded
	case cancelled || errors.Is(err, ErrCancelledAtCommit):
		r.end(bg, id, Cancelled, nil)
	case r.stopping.Load():
		// The runner stops: leave the job Processing for the next runner to resume.
		r.cfg.Store.Discard(bg, id)
	default:
		r.end(bg, id, Failed, err)
	}
}

// end ends a job this runner holds, its output discarded first, as in a claim.
func (r *Runner[J]) end(ctx context.Context, id int64, to State, cause error) {
	r.cfg.Store.Discard(ctx, id)
	_ = r.cfg.Store.End(ctx, id, to, ByRunner, cause)
}

// monitor watches a running job until done is closed: it cancels the run when the job is
// cancelled from anywhere, and records progress. It reports whether the job was cancelled.
func (r *Runner[J]) monitor(ctx context.Context, id int64, p *Progress, cancel context.CancelFunc, done <-chan struct{}) bool {
	c := r.cfg.Clock
	// The time is read before the ticker starts: whoever sees the ticker waiting (a test's fake
	// clock) sees the time it counts a second of progress from.
	lastProgress := c.Now()
	tick := c.NewTicker(cancelPoll)
	defer tick.Stop()
	requested := func() bool {
		yes, err := r.cfg.Store.CancelRequested(context.Background(), id)
		return err == nil && yes
	}
	for {
		select {
		case <-done:
			return requested()
		case <-ctx.Done():
			// Cancelled in this process (a local cancellation, which has recorded itself, or
			// Stop).
			<-done
			return requested()
		case <-tick.C():
			if requested() {
				cancel()
				<-done
				return true
			}
			if clock.Since(c, lastProgress) >= progressEvery {
				lastProgress = c.Now()
				_ = r.cfg.Store.RecordProgress(context.Background(), id, p.Profiles.Load(), p.Events.Load())
			}
		}
	}
}

// Cancel acts on a cancellation of a Processing job that the store has recorded: a run in this
// runner stops at once; one in another process sees the record within its next check; and a job
// that no runner holds is ended Cancelled here.
func (r *Runner[J]) Cancel(ctx context.Context, id int64) error {
	r.mu.Lock()
	cancel, ok := r.running[id]
	r.mu.Unlock()
	if ok {
		cancel()
		return nil
	}
	lock, ok, err := r.cfg.Locks.tryJob(id)
	if err != nil || !ok {
		return err
	}
	r.cfg.Store.Discard(ctx, id)
	return errors.Join(r.cfg.Store.End(ctx, id, Cancelled, ByAPI, nil), lock.Unlock())
}

// WaitIdle returns once the runner has had nothing to run for idle, or ctx ends.
func (r *Runner[J]) WaitIdle(ctx context.Context, idle time.Duration) {
	c := r.cfg.Clock
	idleSince := c.Now()
	for ctx.Err() == nil {
		if clock.Sleep(ctx, c, schedulerPoll) != nil {
			return
		}
		if r.Running() > 0 {
			idleSince = c.Now()
			continue
		}
		if ids, err := r.Runnable(ctx); err == nil && len(ids) > 0 {
			idleSince = c.Now()
			continue
		}
		if clock.Since(c, idleSince) >= idle {
			return
		}
	}
}
