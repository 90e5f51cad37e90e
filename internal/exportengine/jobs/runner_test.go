package jobs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
)

// memJob is a job of memStore.
type memJob struct {
	state           State
	attempts        int
	cancelRequested bool
	cause           error
	discarded       int
	progress        [2]int64
}

// memStore is a job table in memory that makes every move through the transition table, as a
// real store must, and tells the test of each change.
type memStore struct {
	t       *testing.T
	mu      sync.Mutex
	jobs    map[int64]*memJob
	changed chan struct{} // closed and replaced at each change
	// reorder, when set, orders what Unfinished lists (which is by id).
	reorder func([]Ref) []Ref
}

func newMemStore(t *testing.T) *memStore {
	return &memStore{t: t, jobs: map[int64]*memJob{}, changed: make(chan struct{})}
}

func (s *memStore) add(id int64, state State, attempts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id] = &memJob{state: state, attempts: attempts}
}

// move is the store's one transition.
func (s *memStore) move(j *memJob, to State, by Mover) {
	if err := Check(j.state, to, by); err != nil {
		s.t.Errorf("illegal move: %v", err)
		return
	}
	j.state = to
	close(s.changed)
	s.changed = make(chan struct{})
}

// await waits until cond holds of the job, failing the test after a minute.
func (s *memStore) await(id int64, what string, cond func(*memJob) bool) memJob {
	s.t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		j, changed := *s.jobs[id], s.changed
		s.mu.Unlock()
		if cond(&j) {
			return j
		}
		select {
		case <-changed:
		case <-deadline:
			s.t.Fatalf("job %d: %s did not happen; it is %+v", id, what, j)
		}
	}
}

func (s *memStore) Unfinished(context.Context) ([]Ref, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ref
	for id := int64(1); id <= int64(len(s.jobs)); id++ {
		if j := s.jobs[id]; j != nil && !j.state.Ended() {
			out = append(out, Ref{ID: id, State: j.state})
		}
	}
	if s.reorder != nil {
		out = s.reorder(out)
	}
	return out, nil
}

func (s *memStore) Claim(_ context.Context, id int64) (int64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	d := Decide(j.state, j.attempts, j.cancelRequested)
	switch d {
	case Skip:
		return 0, false, nil
	case EndCancelled:
		s.move(j, Cancelled, d.Mover(j.state))
		return 0, false, nil
	case GiveUp:
		s.move(j, Failed, d.Mover(j.state))
		return 0, false, nil
	}
	j.attempts++
	s.move(j, Processing, d.Mover(j.state))
	return id, true, nil
}

func (s *memStore) End(_ context.Context, id int64, to State, by Mover, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j.state.Ended() {
		return nil
	}
	j.cause = cause
	s.move(j, to, by)
	return nil
}

func (s *memStore) Discard(_ context.Context, id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id].discarded++
}

func (s *memStore) CancelRequested(_ context.Context, id int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jobs[id].cancelRequested, nil
}

func (s *memStore) RecordProgress(_ context.Context, id int64, profiles, events int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id].progress = [2]int64{profiles, events}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// requestCancel records a cancellation, as the API does before it calls Cancel.
func (s *memStore) requestCancel(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id].cancelRequested = true
}

// commit ends a job Succeeded, as an export's commit does.
func (s *memStore) commit(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.move(s.jobs[id], Succeeded, ByRunner)
}

// exports is an export function whose runs the test drives: each run says it started on
// started, then does what its job's entry in do says.
type exports struct {
	started chan int64
	mu      sync.Mutex
	do      map[int64]func(ctx context.Context, p *Progress) error
}

func newExports() *exports {
	return &exports{started: make(chan int64, 16), do: map[int64]func(context.Context, *Progress) error{}}
}

func (x *exports) on(id int64, f func(ctx context.Context, p *Progress) error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.do[id] = f
}

func (x *exports) export(ctx context.Context, id int64, p *Progress) error {
	x.started <- id
	x.mu.Lock()
	f := x.do[id]
	x.mu.Unlock()
	return f(ctx, p)
}

// untilCancelled is a run that lasts until its context ends.
func untilCancelled(ctx context.Context, _ *Progress) error {
	<-ctx.Done()
	return ctx.Err()
}

type runnerEnv struct {
	store   *memStore
	exports *exports
	clock   *clock.Fake
	locks   Locks
	runner  *Runner[int64]
}

func newRunnerEnv(t *testing.T, maxRunning int) *runnerEnv {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, LocksDir), 0o755); err != nil {
		t.Fatal(err)
	}
	env := &runnerEnv{store: newMemStore(t), exports: newExports(), clock: clock.NewFake(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)),
		locks: NewLocks(dir)}
	env.runner = NewRunner(Config[int64]{Locks: env.locks, Store: env.store, Export: env.exports.export, Clock: env.clock,
		MaxRunning: maxRunning})
	return env
}

// start starts the runner; once the test ends, it stops it and checks that every slot the jobs
// took was given back.
func (env *runnerEnv) start(t *testing.T) {
	env.runner.Start()
	t.Cleanup(func() {
		env.runner.Stop()
		s := &env.runner.slots
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.busy != 0 || s.lent != 0 || len(s.queued) != 0 {
			t.Errorf("after the runner stopped: %d slots held, %d lent, %d jobs queued for one", s.busy, s.lent, len(s.queued))
		}
	})
}

func TestRunnerRunsJobsToTheirEnd(t *testing.T) {
	for _, tc := range []struct {
		name   string
		run    func(s *memStore) func(context.Context, *Progress) error
		state  State
		cause  string
		output int // discards after the run: an ended job's output is discarded first
	}{
		{"committed", func(s *memStore) func(context.Context, *Progress) error {
			return func(context.Context, *Progress) error { s.commit(1); return nil }
		}, Succeeded, "", 0},
		{"failed", func(*memStore) func(context.Context, *Progress) error {
			return func(context.Context, *Progress) error { return errors.New("the disk is full") }
		}, Failed, "the disk is full", 1},
		{"cancelled at its commit", func(*memStore) func(context.Context, *Progress) error {
			return func(context.Context, *Progress) error { return ErrCancelledAtCommit }
		}, Cancelled, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newRunnerEnv(t, 0)
			env.store.add(1, New, 0)
			env.exports.on(1, tc.run(env.store))
			env.start(t)
			j := env.store.await(1, "the end", func(j *memJob) bool { return j.state.Ended() })
			cause := ""
			if j.cause != nil {
				cause = j.cause.Error()
			}
			if j.state != tc.state || j.attempts != 1 || cause != tc.cause {
				t.Errorf("job %+v, want %s (%q) after one attempt", j, tc.state, tc.cause)
			}
			// One discard before the claim; one more before an end other than a commit.
			if j.discarded != 1+tc.output {
				t.Errorf("output discarded %d times, want %d", j.discarded, 1+tc.output)
			}
		})
	}
}

// newRunningEnv is a started runner whose one job, 1, runs until it is cancelled.
func newRunningEnv(t *testing.T) *runnerEnv {
	env := newRunnerEnv(t, 0)
	env.store.add(1, New, 0)
	env.exports.on(1, untilCancelled)
	env.start(t)
	<-env.exports.started
	return env
}

func TestRunnerCancelsALocalRunAtOnce(t *testing.T) {
	env := newRunningEnv(t)
	env.store.requestCancel(1)
	if err := env.runner.Cancel(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if j := env.store.await(1, "the cancellation", func(j *memJob) bool { return j.state.Ended() }); j.state != Cancelled {
		t.Errorf("job %+v, want Cancelled", j)
	}
}

// A cancellation recorded by another process reaches the run at the runner's next check, on its
// clock.
func TestRunnerSeesACancellationFromElsewhere(t *testing.T) {
	env := newRunningEnv(t)
	// The scheduler's timer and the run's ticker.
	if err := env.clock.BlockUntil(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	env.store.requestCancel(1)
	env.clock.Advance(cancelPoll)
	if j := env.store.await(1, "the cancellation", func(j *memJob) bool { return j.state.Ended() }); j.state != Cancelled {
		t.Errorf("job %+v, want Cancelled", j)
	}
}

func TestRunnerRecordsProgressEverySecond(t *testing.T) {
	env := newRunnerEnv(t, 0)
	env.store.add(1, New, 0)
	counted := make(chan struct{})
	env.exports.on(1, func(ctx context.Context, p *Progress) error {
		p.Profiles.Store(7)
		p.Events.Store(11)
		close(counted)
		return untilCancelled(ctx, p)
	})
	env.start(t)
	<-counted // before a second passes: what the monitor records then is this
	if err := env.clock.BlockUntil(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(progressEvery - cancelPoll)
	if j := env.store.await(1, "nothing", func(*memJob) bool { return true }); j.progress != [2]int64{} {
		t.Errorf("progress recorded before a second had passed: %v", j.progress)
	}
	env.clock.Advance(cancelPoll)
	env.store.await(1, "the progress", func(j *memJob) bool { return j.progress == [2]int64{7, 11} })
}

// A runner that stops leaves its jobs Processing, their output discarded and their locks free,
// for the next runner; that one resumes them (the rescuer) until they have had MaxAttempts.
func TestStoppedRunsAreRescued(t *testing.T) {
	env := newRunnerEnv(t, 0)
	env.store.add(1, New, 0)
	env.exports.on(1, untilCancelled)
	for attempt := 1; attempt <= MaxAttempts; attempt++ {
		r := NewRunner(Config[int64]{Locks: env.locks, Store: env.store, Export: env.exports.export, Clock: env.clock})
		r.Start()
		<-env.exports.started
		r.Stop()
		j := env.store.await(1, "nothing", func(*memJob) bool { return true })
		if j.state != Processing || j.attempts != attempt || env.locks.JobHeld(1) {
			t.Fatalf("after attempt %d the job is %+v (lock held %v); want it Processing, its lock free", attempt, j, env.locks.JobHeld(1))
		}
	}
	if ids, err := env.runner.Runnable(context.Background()); err != nil || len(ids) != 1 {
		t.Fatalf("runnable %v, %v; want the job whose runner stopped", ids, err)
	}
	env.start(t)
	j := env.store.await(1, "giving up", func(j *memJob) bool { return j.state.Ended() })
	if j.state != Failed || j.attempts != MaxAttempts {
		t.Errorf("job %+v, want Failed after %d attempts", j, MaxAttempts)
	}
}

// gatedClaims is a memStore whose Claim says it is called, then waits until released.
type gatedClaims struct {
	*memStore
	claiming chan int64
	release  chan struct{}
}

func (s *gatedClaims) Claim(ctx context.Context, id int64) (int64, bool, error) {
	s.claiming <- id
	<-s.release
	return s.memStore.Claim(ctx, id)
}

// A job claimed once the runner is stopping (after Stop's cancellations of the jobs it runs) is
// interrupted at once, and left Processing for the next runner, rather than run to its end while
// Stop waits for it.
func TestAJobClaimedAsTheRunnerStopsIsInterrupted(t *testing.T) {
	env := newRunnerEnv(t, 0)
	env.store.add(1, New, 0)
	interrupted := make(chan struct{})
	env.exports.on(1, func(ctx context.Context, p *Progress) error {
		defer close(interrupted)
		return untilCancelled(ctx, p)
	})
	gate := &gatedClaims{memStore: env.store, claiming: make(chan int64, 1), release: make(chan struct{})}
	r := NewRunner(Config[int64]{Locks: env.locks, Store: gate, Export: env.exports.export, Clock: env.clock})
	r.Start()
	<-gate.claiming
	// Stop would now mark the runner stopping, and cancel the jobs it runs: none yet.
	r.stopping.Store(true)
	close(gate.release)
	<-env.exports.started
	<-interrupted // a job that ran on would hold the test here, until go test's timeout
	r.Stop()
	j := env.store.await(1, "nothing", func(*memJob) bool { return true })
	if j.state != Processing || j.attempts != 1 || j.discarded != 2 || env.locks.JobHeld(1) {
		t.Errorf("job %+v (lock held %v); want it Processing after its one attempt, its output discarded, its lock free",
			j, env.locks.JobHeld(1))
	}
}

// A job whose lock another runner holds is not runnable here; one whose runner is gone, and that
// was cancelled meanwhile, is cancelled by Cancel itself.
func TestCancelAJobWithoutARunner(t *testing.T) {
	env := newRunnerEnv(t, 0)
	env.store.add(1, Processing, 1)
	held, _, err := filelock.TryLock(env.locks.jobPath(1), filelock.Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := env.runner.Runnable(context.Background()); len(ids) != 0 {
		t.Errorf("a job held by another runner is runnable: %v", ids)
	}
	env.store.requestCancel(1)
	if err := env.runner.Cancel(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if j := env.store.await(1, "nothing", func(*memJob) bool { return true }); j.state != Processing {
		t.Fatalf("a job another runner holds was ended here: %+v", j)
	}
	_ = held.Unlock() // that runner dies
	if err := env.runner.Cancel(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if j := env.store.await(1, "nothing", func(*memJob) bool { return true }); j.state != Cancelled || j.discarded != 1 {
		t.Errorf("job %+v, want Cancelled with its output discarded", j)
	}
}

func TestRunnerRunsAtMostMaxRunning(t *testing.T) {
	env := newRunnerEnv(t, 2)
	for id := int64(1); id <= 3; id++ {
		env.store.add(id, New, 0)
		env.exports.on(id, untilCancelled)
	}
	env.start(t)
	first, second := <-env.exports.started, <-env.exports.started
	if first == second || env.runner.Running() != 2 {
		t.Fatalf("started %d and %d, running %d", first, second, env.runner.Running())
	}
	third := int64(6) - first - second
	env.runner.Wake()
	if j := env.store.await(third, "nothing", func(*memJob) bool { return true }); j.state != New {
		t.Errorf("a third job started beside two: %+v", j)
	}
	env.store.requestCancel(first)
	if err := env.runner.Cancel(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if got := <-env.exports.started; got != third {
		t.Errorf("started %d after %d ended, want %d", got, first, third)
	}
}

// The order of the jobs to run is read again after each claim, which may change it (as the
// sandboxes' turns do): two free places are not filled from one reading.
func TestRunnerReadsTheOrderAgainAfterEachClaim(t *testing.T) {
	env := newRunnerEnv(t, 2)
	for id := int64(1); id <= 3; id++ {
		env.store.add(id, New, 0)
		env.exports.on(id, untilCancelled)
	}
	// Once job 1 runs, job 3 goes before job 2.
	env.store.reorder = func(refs []Ref) []Ref {
		if len(refs) == 3 && refs[0].State == Processing {
			refs[1], refs[2] = refs[2], refs[1]
		}
		return refs
	}
	env.start(t)
	// The two runs tell of their starts in either order.
	if a, b := <-env.exports.started, <-env.exports.started; min(a, b) != 1 || max(a, b) != 3 {
		t.Errorf("started %d and %d; want 1 and 3, as the order after the first claim says", a, b)
	}
}

// A runner that runs nothing starts a worker process when there is work, once while a started one
// settles, and again after a failed start.
func TestWakeSpawnsAWorker(t *testing.T) {
	env := newRunnerEnv(t, 0)
	spawns := 0
	fail := errors.New("no such program")
	var spawnErr error
	r := NewRunner(Config[int64]{Locks: env.locks, Store: env.store, Export: env.exports.export, Clock: env.clock,
		Spawn: func() error { spawns++; return spawnErr }})
	r.Wake()
	r.Wake()
	if spawns != 1 || r.SpawnError() != nil {
		t.Fatalf("%d spawns, error %v; want one while it settles", spawns, r.SpawnError())
	}
	env.clock.Advance(spawnSettle)
	spawnErr = fail
	r.Wake()
	if spawns != 2 || !errors.Is(r.SpawnError(), fail) {
		t.Fatalf("%d spawns, error %v; want a second, failed, after the settle time", spawns, r.SpawnError())
	}
	r.Wake() // a failed start holds nothing back
	if spawns != 3 {
		t.Errorf("%d spawns; want a retry at once after a failed start", spawns)
	}
	worker, _, err := env.locks.TryWorker()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = worker.Unlock() }()
	env.clock.Advance(spawnSettle)
	r.Wake()
	if spawns != 3 {
		t.Errorf("a worker was started beside a running one")
	}
}

func TestWaitIdle(t *testing.T) {
	env := newRunnerEnv(t, 0)
	env.store.add(1, New, 0)
	env.exports.on(1, func(context.Context, *Progress) error { env.store.commit(1); return nil })
	env.start(t)
	<-env.exports.started
	// The run is over once its lock is free.
	if released, held := env.locks.WatchJob(1); held {
		<-released
	}
	env.store.await(1, "the end", func(j *memJob) bool { return j.state.Ended() })
	ctx, idle := context.WithCancel(context.Background())
	go func() {
		env.runner.WaitIdle(context.Background(), time.Second)
		idle()
	}()
	var waited time.Duration
	// Each round, the scheduler's timer and WaitIdle's wait; once it returns, only the scheduler's.
	for env.clock.BlockUntil(ctx, 2) == nil {
		if waited > 2*time.Second {
			t.Fatalf("not idle two seconds after the last job: %d waiters, %d running", env.clock.Waiters(), env.runner.Running())
		}
		env.clock.Advance(schedulerPoll)
		waited += schedulerPoll
	}
	if waited < time.Second {
		t.Errorf("idle after %s, want a second", waited)
	}
}

// A job that waits for another (Progress.Wait) lends its slot: a job that can run starts in it,
// and the waiting job goes on once it has the slot back.
func TestAWaitingJobLendsItsSlot(t *testing.T) {
	env := newRunnerEnv(t, 1)
	ready := make(chan struct{})
	env.store.add(1, New, 0)
	env.exports.on(1, func(ctx context.Context, p *Progress) error {
		if err := p.Wait(ctx, ready); err != nil {
			return err
		}
		env.store.commit(1)
		return nil
	})
	env.store.add(2, New, 0)
	env.exports.on(2, func(context.Context, *Progress) error { env.store.commit(2); return nil })
	env.start(t)
	if j := env.store.await(2, "its end while job 1 waits", func(j *memJob) bool { return j.state.Ended() }); j.state != Succeeded {
		t.Fatalf("job 2: %+v", j)
	}
	if j := env.store.await(1, "nothing", func(*memJob) bool { return true }); j.state != Processing {
		t.Fatalf("job 1 did not wait: %+v", j)
	}
	close(ready)
	if j := env.store.await(1, "its end", func(j *memJob) bool { return j.state.Ended() }); j.state != Succeeded {
		t.Fatalf("job 1: %+v", j)
	}
}

// A job cancelled while it waits, its slot lent to another job, holds none when it ends, whether
// it was still waiting or ready and queued for a slot: the job in its slot keeps it, and a job
// created before either starts in it once that one ends.
func TestACancelledWaitingJobHoldsNoSlot(t *testing.T) {
	for _, readyFirst := range []bool{false, true} {
		env := newRunnerEnv(t, 1)
		ready := make(chan struct{})
		env.store.add(1, New, 0)
		env.exports.on(1, func(ctx context.Context, p *Progress) error { return p.Wait(ctx, ready) })
		env.store.add(2, New, 0)
		env.exports.on(2, untilCancelled)
		env.store.add(3, New, 0)
		env.exports.on(3, func(context.Context, *Progress) error { env.store.commit(3); return nil })
		env.start(t)
		if first, second := <-env.exports.started, <-env.exports.started; first != 1 || second != 2 {
			t.Fatalf("started %d, then %d", first, second)
		}
		if readyFirst {
			close(ready) // job 2 holds the one slot: job 1 is queued for it, or about to be
		}
		for _, id := range []int64{1, 2} {
			env.store.requestCancel(id)
			if err := env.runner.Cancel(context.Background(), id); err != nil {
				t.Fatal(err)
			}
			if j := env.store.await(id, "its end", func(j *memJob) bool { return j.state.Ended() }); j.state != Cancelled {
				t.Fatalf("job %d: %+v", id, j)
			}
		}
		if j := env.store.await(3, "its end", func(j *memJob) bool { return j.state.Ended() }); j.state != Succeeded {
			t.Fatalf("job 3: %+v", j)
		}
	}
}
