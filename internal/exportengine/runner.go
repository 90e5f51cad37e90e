package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
)

// Export jobs run in an engine opened with RunJobs: a worker process of its own (started through
// Options.Spawn), the HTTP server, or a test. The runner of a job holds an exclusive lock on the
// job's lock file for as long as it runs it, so that any process can tell a running job from one
// whose runner died (the kernel drops the lock with the process), and so that waiters learn the
// moment a job ends by taking the lock themselves.

const (
	jobsDir = "jobs"
	// schedulerPoll is how often a runner looks for jobs created by other processes and for jobs
	// whose runner died.
	schedulerPoll = 25 * time.Millisecond
	// cancelPoll is how often a running job checks whether it was cancelled from another process.
	cancelPoll = 50 * time.Millisecond
	// progressEvery is how often a running job records its counters.
	progressEvery = time.Second
)

func (e *Engine) jobLockPath(id int64) string {
	return filepath.Join(e.dir, jobsDir, strconv.FormatInt(id, 10)+".lock")
}

// runner is the part of an engine that runs jobs.
type runner struct {
	stopOnce sync.Once
	mu       sync.Mutex
	running  map[int64]context.CancelFunc
	wake     chan struct{}
	stop     chan struct{}
	done     sync.WaitGroup
	max      int
}

func (e *Engine) startRunner(maxJobs int) {
	e.runner = &runner{running: map[int64]context.CancelFunc{}, wake: make(chan struct{}, 1), stop: make(chan struct{}), max: maxJobs}
	e.runner.done.Add(1)
	go e.schedule()
}

// stopRunner stops taking jobs and interrupts the running ones. Interrupted jobs stay PROCESSING
// with their locks released, so the next runner resumes them.
func (e *Engine) stopRunner() {
	r := e.runner
	if r == nil {
		return
	}
	r.stopOnce.Do(func() {
		close(r.stop)
		r.mu.Lock()
		for _, cancel := range r.running {
			cancel()
		}
		r.mu.Unlock()
	})
	r.done.Wait()
}

// jobsChanged tells whoever runs jobs that there is work: this engine's scheduler, or a worker
// process.
func (e *Engine) jobsChanged() {
	if e.runner != nil {
		select {
		case e.runner.wake <- struct{}{}:
		default:
		}
		return
	}
	e.ensureWorker()
}

// spawnSettle is how long a worker process just started is given to take the worker lock before
// another is started: waiters call ensureWorker every few milliseconds, and starting a process
// takes longer than that.
const spawnSettle = 500 * time.Millisecond

// ensureWorker starts a worker process unless one is running or was just started.
func (e *Engine) ensureWorker() {
	if e.spawn == nil || e.workerRunning() {
		return
	}
	now := e.clock.Now().UnixNano()
	last := e.spawned.Load()
	if now-last < int64(spawnSettle) || !e.spawned.CompareAndSwap(last, now) {
		return
	}
	if err := e.spawn(); err != nil {
		e.spawnErr.Store(&err)
		e.spawned.Store(0) // a failed start holds nothing back
	}
}

func (e *Engine) workerRunning() bool { return WorkerRunning(e.dir) }

func (e *Engine) schedule() {
	r := e.runner
	defer r.done.Done()
	timer := e.clock.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-r.wake:
		case <-timer.C():
		}
		e.claimJobs()
		timer.Reset(schedulerPoll)
	}
}

// runningJobs is how many jobs this engine runs now.
func (e *Engine) runningJobs() int {
	e.runner.mu.Lock()
	defer e.runner.mu.Unlock()
	return len(e.runner.running)
}

// runnableJobs lists the jobs that need a runner: NEW ones, and PROCESSING ones nobody holds.
func (e *Engine) runnableJobs(ctx context.Context) ([]int64, error) {
	rows, err := e.store.db.QueryContext(ctx, `SELECT id, status FROM export_jobs WHERE status IN (?, ?) ORDER BY id`,
		jobs.New.Wire(), jobs.Processing.Wire())
	if err != nil {
		return nil, err
	}
	type cand struct {
		id    int64
		state jobs.State
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.id, &c.state); err != nil {
			rows.Close()
			return nil, err
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []int64
	for _, c := range cands {
		if c.state == jobs.New {
			out = append(out, c.id)
			continue
		}
		if l, ok, err := filelock.TryLock(e.jobLockPath(c.id), filelock.Exclusive); err == nil && ok {
			_ = l.Unlock()
			out = append(out, c.id)
		}
	}
	return out, nil
}

func (e *Engine) claimJobs() {
	ctx := context.Background()
	r := e.runner
	ids, err := e.runnableJobs(ctx)
	if err != nil {
		return // the database is busy or closing; the next round tries again
	}
	for _, id := range ids {
		r.mu.Lock()
		_, mine := r.running[id]
		full := len(r.running) >= r.max
		r.mu.Unlock()
		if mine {
			continue
		}
		if full {
			return
		}
		lock, ok, err := filelock.TryLock(e.jobLockPath(id), filelock.Exclusive)
		if err != nil || !ok {
			continue
		}
		j, spec, err := e.claim(ctx, id)
		if err != nil || j == nil {
			_ = lock.Unlock()
			continue
		}
		jobCtx, cancel := context.WithCancel(context.Background())
		r.mu.Lock()
		r.running[id] = cancel
		r.mu.Unlock()
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			e.run(jobCtx, j, spec)
			cancel()
			r.mu.Lock()
			delete(r.running, id)
			r.mu.Unlock()
			_ = lock.Unlock()
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}()
	}
}

// claim moves a job this engine holds the lock of to PROCESSING. It returns nil when the job
// needs no running (it ended meanwhile, or it was abandoned too often and is failed here).
func (e *Engine) claim(ctx context.Context, id int64) (*jobRow, *exportSpec, error) {
	// Anything left by an interrupted attempt is discarded first, so that a job is never seen
	// to have ended while files of its attempts remain. This engine holds the job's lock: no
	// attempt is writing them.
	e.removeJobOutput(id)
	// A job's request never changes: what it says by itself is read before the transaction.
	stored, err := e.getJobRow(ctx, e.store.db, id)
	if err != nil {
		return nil, nil, err
	}
	spec, parseErr := parseExportRequest(stored.req)
	var claimed *jobRow
	err = e.writeJobs(ctx, func(tx *sql.Tx) error {
		j, err := e.getJobRow(ctx, tx, id)
		if err != nil {
			return err
		}
		now := e.nowMs()
		decision := jobs.Decide(j.state, j.attempts, j.cancelRequested)
		by := decision.Mover(j.state)
		switch decision {
		case jobs.Skip:
			return nil
		case jobs.EndCancelled:
			return e.transition(ctx, tx, j, jobs.Cancelled, by, nil, now)
		case jobs.GiveUp:
			return e.transition(ctx, tx, j, jobs.Failed, by, []aepwire.JobError{{Code: codeJobAbandoned, Msg: fmt.Sprintf(
				"the job was interrupted %d times (the engine process running it stopped) and is not started again", j.attempts)}}, now)
		}
		// The spec is resolved in the transaction that starts the job, so that a job is never
		// PROCESSING on a request that no longer holds (its destination or merge policy deleted
		// since it was created): such a job ends FAILED here, saying what went.
		if parseErr != nil {
			return e.transition(ctx, tx, j, jobs.Failed, by, []aepwire.JobError{{Code: codeJobInternal,
				Msg: "the job cannot run: its request is not valid any more: " + parseErr.Error()}}, now)
		}
		if err := e.resolve(ctx, tx, spec); err != nil {
			if ctx.Err() != nil {
				return err
			}
			code, msg := codeJobInternal, "the job cannot run: its request cannot be read back: "+err.Error()
			if we := (*aepwire.Error)(nil); errors.As(err, &we) {
				code, msg = codeJobDestination, "the job cannot run: "+we.Detail+" (it was deleted after the job "+
					"was created); create it again or name another, and create a new job"+applyAgain
			}
			return e.transition(ctx, tx, j, jobs.Failed, by, []aepwire.JobError{{Code: code, Msg: msg}}, now)
		}
		if decision == jobs.Resume {
			j.warnings = append(j.warnings, aepwire.JobError{Code: codeJobResumed, Msg: fmt.Sprintf(
				"attempt %d was interrupted: the engine process running it stopped; the job was started again from the beginning", j.attempts)})
		}
		j.attempts++
		j.started = now
		j.metrics = aepwire.ExportMetrics{TotalTime: &aepwire.FeedbackMetrics{StartTimeInMs: j.creation}}
		j.gatewayIDs = map[string]string{"exportJob": newUUID()}
		claimed = j
		return e.transition(ctx, tx, j, jobs.Processing, by, nil, now)
	})
	if err != nil || claimed == nil {
		return nil, nil, err
	}
	return claimed, spec, nil
}

// removeJobOutput deletes the files a job's attempts wrote.
func (e *Engine) removeJobOutput(id int64) {
	j, err := e.getJobRow(context.Background(), e.store.db, id)
	if err != nil {
		return
	}
	for _, b := range j.batchIDs {
		var n int
		if e.store.db.QueryRow(`SELECT COUNT(*) FROM batches WHERE id = ?`, b).Scan(&n) == nil && n == 0 {
			_ = os.RemoveAll(e.batchDir(b))
		}
	}
}

// applyAgain ends the messages of jobs that a new job would fix.
const applyAgain = " (with Terraform, apply again: the failed job is replaced)"

// requestGoneError says that something a job's request names was deleted while the job ran.
type requestGoneError string

func (e requestGoneError) Error() string { return string(e) }

// failJob ends a job as FAILED with the reason.
func (e *Engine) failJob(ctx context.Context, id int64, cause error) {
	code := codeJobInternal
	var gone requestGoneError
	if errors.As(cause, &gone) {
		code = codeJobDestination
	}
	e.finish(ctx, id, jobs.Failed, jobs.Runner, []aepwire.JobError{{Code: code, Msg: cause.Error()}})
}

// run runs a claimed job to its end.
func (e *Engine) run(ctx context.Context, j *jobRow, spec *exportSpec) {
	progress := &exportProgress{}
	monitorDone := make(chan struct{})
	var cancelled bool
	var monitorWG sync.WaitGroup
	monitorWG.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer monitorWG.Done()
		cancelled = e.monitor(ctx, j.id, progress, cancel, monitorDone)
	}()
	res, err := e.runExport(ctx, j, spec, progress)
	close(monitorDone)
	monitorWG.Wait()
	cancel()

	bg := context.Background()
	switch {
	case cancelled:
		e.finish(bg, j.id, jobs.Cancelled, jobs.Runner, nil)
	case err != nil && e.closing():
		// The engine is closing: leave the job PROCESSING for the next runner to resume.
		e.removeJobOutput(j.id)
	case err != nil:
		e.failJob(bg, j.id, err)
	default:
		switch err := e.commitExport(bg, j, res); {
		case errors.Is(err, errCancelledAtCommit):
			e.finish(bg, j.id, jobs.Cancelled, jobs.Runner, nil)
		case err != nil:
			e.failJob(bg, j.id, fmt.Errorf("committing the exported batches: %w", err))
		}
	}
}

// finish ends a job, unless it has ended already: by the runner that ran it, or by the API for a
// job that lost its runner.
func (e *Engine) finish(ctx context.Context, id int64, to jobs.State, by jobs.Mover, errs []aepwire.JobError) {
	e.removeJobOutput(id) // before the job ends, as in claim
	_ = e.writeJobs(ctx, func(tx *sql.Tx) error {
		j, err := e.getJobRow(ctx, tx, id)
		if err != nil || j.state.Ended() {
			return err
		}
		return e.transition(ctx, tx, j, to, by, errs, e.nowMs())
	})
}

// monitor watches a running job until done is closed: it cancels the run when the job is
// cancelled from anywhere, and records progress. It reports whether the job was cancelled.
func (e *Engine) monitor(ctx context.Context, id int64, p *exportProgress, cancel context.CancelFunc, done <-chan struct{}) bool {
	tick := e.clock.NewTicker(cancelPoll)
	defer tick.Stop()
	lastProgress := e.clock.Now()
	for {
		select {
		case <-done:
			return e.cancelRequested(id)
		case <-ctx.Done():
			// Cancelled by this engine (a local DELETE, or Close); a DELETE has set the flag.
			<-done
			return e.cancelRequested(id)
		case <-tick.C():
			if e.cancelRequested(id) {
				cancel()
				<-done
				return true
			}
			if clock.Since(e.clock, lastProgress) >= progressEvery {
				lastProgress = e.clock.Now()
				e.recordProgress(id, p)
			}
		}
	}
}

func (e *Engine) cancelRequested(id int64) bool {
	var flag bool
	err := e.store.db.QueryRow(`SELECT cancel_requested FROM export_jobs WHERE id = ?`, id).Scan(&flag)
	return err == nil && flag
}

func (e *Engine) recordProgress(id int64, p *exportProgress) {
	profiles, events := p.profiles.Load(), p.events.Load()
	_ = e.writeJobs(context.Background(), func(tx *sql.Tx) error {
		j, err := e.getJobRow(context.Background(), tx, id)
		if err != nil || j.state != jobs.Processing {
			return err
		}
		j.metrics.TotalExportedProfileCounter = &profiles
		j.metrics.ExportedEventCounter = &events
		metrics, _ := json.Marshal(j.metrics)
		_, err = tx.Exec(`UPDATE export_jobs SET metrics = ? WHERE id = ?`, string(metrics), id)
		return err
	})
}

// cancelLocal interrupts a job this engine runs.
func (e *Engine) cancelLocal(id int64) {
	if e.runner == nil {
		return
	}
	e.runner.mu.Lock()
	cancel, ok := e.runner.running[id]
	e.runner.mu.Unlock()
	if ok {
		cancel()
	}
}

// cancelIfAbandoned cancels a PROCESSING job that no runner holds, which no runner would ever
// see the cancellation of.
func (e *Engine) cancelIfAbandoned(ctx context.Context, id int64) error {
	lock, ok, err := filelock.TryLock(e.jobLockPath(id), filelock.Exclusive)
	if err != nil || !ok {
		return err
	}
	e.finish(ctx, id, jobs.Cancelled, jobs.API, nil)
	return lock.Unlock()
}

// recoverJobs looks for jobs without a runner when the engine opens: NEW jobs nobody started, and
// PROCESSING jobs whose runner died. They are resumed by this engine's runner or a worker.
func (e *Engine) recoverJobs(ctx context.Context) error {
	ids, err := e.runnableJobs(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	e.jobsChanged()
	return nil
}

// WaitExportJob waits until a job has ended and returns it. It is told the moment the job's
// runner finishes (or dies), rather than polling; onChange, when set, hears of every status
// change and, while the job runs, of its progress every few seconds.
func (e *Engine) WaitExportJob(ctx context.Context, id int64, onChange func(*aepwire.ExportJob)) (*aepwire.ExportJob, error) {
	lastStatus := ""
	wait := 2 * time.Millisecond
	for {
		changed := e.jobEvents.wait()
		job, err := e.GetExportJob(ctx, id)
		if err != nil {
			return nil, err
		}
		if onChange != nil && job.Status != lastStatus {
			onChange(job)
		}
		lastStatus = job.Status
		state, _ := jobs.ParseWire(job.Status)
		if state.Ended() {
			return job, nil
		}
		if state == jobs.Processing {
			released, held := e.watchJobLock(id)
			if held {
				if err := e.awaitRelease(ctx, id, released, onChange); err != nil {
					return nil, err
				}
				continue
			}
			// Its runner died: have it resumed.
			e.jobsChanged()
		} else {
			e.jobsChanged()
			if err := e.spawnError(); err != nil {
				return nil, fmt.Errorf("no runner could be started for export job %d: %w", id, err)
			}
		}
		// A runner of this engine says when it moves the job; one in another process is polled.
		timer := e.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-timer.C():
		}
		timer.Stop()
		wait = min(wait*2, 50*time.Millisecond)
	}
}

// watchJobLock reports whether a runner holds the job's lock and, if so, returns a channel that
// is closed when it lets go.
func (e *Engine) watchJobLock(id int64) (<-chan struct{}, bool) {
	path := e.jobLockPath(id)
	if l, ok, err := filelock.TryLock(path, filelock.Shared); err == nil && ok {
		_ = l.Unlock()
		return nil, false
	}
	released := make(chan struct{})
	go func() {
		// Blocks until the runner releases the lock; it stays blocked past a cancelled wait,
		// and ends when the job does.
		if l, err := filelock.Wait(path, filelock.Shared); err == nil {
			_ = l.Unlock()
		}
		close(released)
	}()
	return released, true
}

func (e *Engine) awaitRelease(ctx context.Context, id int64, released <-chan struct{}, onChange func(*aepwire.ExportJob)) error {
	tick := e.clock.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-released:
			return nil
		case <-tick.C():
			if onChange != nil {
				if job, err := e.GetExportJob(ctx, id); err == nil {
					onChange(job)
				}
			}
		}
	}
}

func (e *Engine) spawnError() error {
	if err := e.spawnErr.Load(); err != nil {
		return *err
	}
	return nil
}
