package jobs

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
)

// slots are the jobs a runner runs at once (Config.MaxRunning). A job holds a slot while it
// runs, and may lend it while it waits for something another job does (Progress.Wait), so that
// a job that has nothing to do does not keep one that could run from starting. A job that lent
// its slot and is ready to go on gets one back before any new job starts, in the order such jobs
// became ready. No more jobs lend than there are slots: a runner holds at most twice as many
// claimed jobs as it runs. While a job is queued for a slot, every slot is held: a slot given
// back goes to the first job queued, and a new job takes one only when none is.
type slots struct {
	mu     sync.Mutex
	max    int
	busy   int             // slots held
	lent   int             // jobs that lent their slot and do not hold one again
	queued []chan struct{} // jobs ready to go on, waiting for a slot, first come first
	freed  func()          // tells the scheduler that a new job can start
}

// take takes a slot for a new job, if one is free and no job that lent its slot waits for one.
func (s *slots) take() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy >= s.max || len(s.queued) > 0 {
		return false
	}
	s.busy++
	return true
}

// give gives back a slot: to the first job queued for one, or to a new job.
func (s *slots) give() {
	if s.release() {
		s.freed()
	}
}

// untake gives back the slot take took for a job that could not be claimed, without telling the
// scheduler, which goes on to the next job (and would otherwise try the same one again at once).
func (s *slots) untake() { s.release() }

// release gives back a slot, and reports whether it is free for a new job rather than handed to
// a job queued for one.
func (s *slots) release() (free bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queued) > 0 {
		close(s.queued[0])
		s.queued = s.queued[1:]
		s.lent--
		return false
	}
	s.busy--
	return true
}

// lend gives back the slot of a job that waits, unless as many jobs have lent theirs as there
// are slots; it reports whether it did.
func (s *slots) lend() bool {
	s.mu.Lock()
	if s.lent >= s.max {
		s.mu.Unlock()
		return false
	}
	s.lent++
	s.mu.Unlock()
	s.give()
	return true
}

// back is called by a job that lent its slot and is ready to go on: the channel it returns is
// closed once the job holds a slot again, at once if one is free and no job is queued before it.
func (s *slots) back() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan struct{})
	if s.busy < s.max && len(s.queued) == 0 {
		s.busy++
		s.lent--
		close(ch)
		return ch
	}
	s.queued = append(s.queued, ch)
	return ch
}

// withdraw takes a job that no longer waits out of the queue (its back channel is ch), and
// reports whether it holds a slot: one handed to it before it withdrew.
func (s *slots) withdraw(ch <-chan struct{}) (holds bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.queued, func(q chan struct{}) bool { return q == ch })
	if i < 0 {
		return true
	}
	s.queued = slices.Delete(s.queued, i, i+1)
	s.lent--
	return false
}

// Progress counts what a running export has written so far, and lends the job's slot while the
// export waits (Wait).
type Progress struct {
	Profiles, Events atomic.Int64

	slots *slots      // the runner's; nil outside a runner
	holds atomic.Bool // whether the job holds a slot (set by the runner at its claim)
}

// Wait waits until ready is closed or ctx ends. Meanwhile another job may run in this job's
// slot: once ready, Wait returns when the job holds a slot again, before any job the runner has
// yet to start. It returns the context's error if ctx ended. A nil Progress waits alone. Only
// one goroutine of a job may call it at a time.
func (p *Progress) Wait(ctx context.Context, ready <-chan struct{}) error {
	select { // nothing to wait for: the slot is not lent
	case <-ready:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	default:
	}
	if p == nil || p.slots == nil || !p.holds.Load() || !p.slots.lend() {
		select {
		case <-ready:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	p.holds.Store(false)
	select {
	case <-ready:
	case <-ctx.Done():
	}
	got := p.slots.back()
	select {
	case <-got:
	case <-ctx.Done():
		if !p.slots.withdraw(got) {
			return context.Cause(ctx)
		}
	}
	p.holds.Store(true)
	return context.Cause(ctx)
}
