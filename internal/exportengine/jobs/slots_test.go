package jobs

import (
	"context"
	"errors"
	"testing"
)

// closed reports whether ch is closed, without waiting.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func newSlots(n int) (*slots, *int) {
	freed := 0
	return &slots{max: n, freed: func() { freed++ }}, &freed
}

// lentAndRetaken is n slots, each lent by the job that took it and taken again by a new job.
func lentAndRetaken(t *testing.T, n int) *slots {
	t.Helper()
	s, _ := newSlots(n)
	for range n {
		if !s.take() {
			t.Fatal("a job could not take a free slot")
		}
	}
	for range n {
		if !s.lend() {
			t.Fatal("a job could not lend its slot")
		}
	}
	for range n {
		if !s.take() {
			t.Fatal("a new job could not take a slot lent")
		}
	}
	return s
}

// A job that lends its slot lets a new job start in it; once ready, it gets a slot back before
// any new job, from the first job to end; and no more jobs lend than there are slots.
func TestSlotsLentAndGivenBack(t *testing.T) {
	s, freed := newSlots(1)
	if !s.take() || s.take() {
		t.Fatal("one slot: the first take must succeed and the second fail")
	}
	if !s.lend() || *freed != 1 {
		t.Fatalf("the first job could not lend its slot (freed %d)", *freed)
	}
	if !s.take() {
		t.Fatal("a new job could not take the slot lent")
	}
	if s.lend() {
		t.Fatal("a second job lent its slot beside the first, with one slot")
	}
	back := s.back()
	if closed(back) {
		t.Fatal("the job that lent its slot got one back while the only one is held")
	}
	if s.take() {
		t.Fatal("a new job took a slot before the job queued for one")
	}
	s.give() // the new job ends
	if !closed(back) || *freed != 1 {
		t.Fatalf("the slot given back went to a new job (queued job back: %v, freed %d)", closed(back), *freed)
	}
	if s.take() {
		t.Fatal("a new job took the slot handed to the job queued for it")
	}
	if !s.lend() {
		t.Fatal("the job could not lend its slot again once it had it back")
	}
	if !s.take() {
		t.Fatal("a new job could not take the slot lent again")
	}
}

// A job that withdraws from the queue holds no slot, unless one was handed to it before.
func TestSlotsWithdrawn(t *testing.T) {
	s := lentAndRetaken(t, 1)
	back := s.back()
	if s.withdraw(back) {
		t.Fatal("a job that withdrew before a slot was free holds one")
	}
	s.give()
	if closed(back) || !s.take() {
		t.Fatal("the slot went to a job that had withdrawn, not to a new one")
	}
	if !s.lend() {
		t.Fatal("the withdrawn job still counts as lending")
	}
	s.take()
	back = s.back()
	s.give() // handed to the queued job as it withdraws
	if !s.withdraw(back) {
		t.Fatal("a job handed a slot before it withdrew does not hold it")
	}
}

// Jobs queued for a slot get one in the order they became ready.
func TestSlotsQueuedInOrder(t *testing.T) {
	s := lentAndRetaken(t, 2)
	first, second := s.back(), s.back()
	s.give()
	if !closed(first) || closed(second) {
		t.Fatalf("the slot given back went to the job queued second (first %v, second %v)", closed(first), closed(second))
	}
	s.give()
	if !closed(second) {
		t.Fatal("the second slot given back did not go to the job queued second")
	}
}

// Progress.Wait lends the slot while it waits, unless there is nothing to wait for, and returns
// holding one; a cancelled wait holds none unless it was handed one.
func TestProgressWait(t *testing.T) {
	s, _ := newSlots(1)
	lent := make(chan struct{}, 1)
	s.freed = func() { lent <- struct{}{} }
	s.take()
	p := &Progress{slots: s}
	p.holds.Store(true)

	ready := make(chan struct{})
	close(ready)
	stop := errors.New("stopped")
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(stop)
	if err := p.Wait(context.Background(), ready); err != nil || !p.holds.Load() || len(lent) != 0 {
		t.Fatalf("Wait for what is ready: %v, holds %v, lent %d", err, p.holds.Load(), len(lent))
	}
	if err := p.Wait(cancelled, make(chan struct{})); !errors.Is(err, stop) || !p.holds.Load() || len(lent) != 0 {
		t.Fatalf("Wait cancelled before it began: %v, holds %v, lent %d", err, p.holds.Load(), len(lent))
	}

	// Lent while it waits; once ready, it takes the free slot back.
	ready = make(chan struct{})
	waited := make(chan error)
	go func() { waited <- p.Wait(context.Background(), ready) }()
	<-lent
	close(ready)
	if err := <-waited; err != nil || !p.holds.Load() {
		t.Fatalf("Wait: %v, holds %v", err, p.holds.Load())
	}
	if s.take() {
		t.Fatal("a new job took the slot of a job that waited and went on")
	}

	// Cancelled while another job holds the slot it lent: it holds none.
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { waited <- p.Wait(ctx, make(chan struct{})) }()
	<-lent
	if !s.take() {
		t.Fatal("a new job could not take the slot lent")
	}
	cancel(stop)
	if err := <-waited; !errors.Is(err, stop) || p.holds.Load() {
		t.Fatalf("a wait cancelled while its slot is taken returned %v, holds %v", err, p.holds.Load())
	}
	s.give()
	<-lent
	if !s.take() {
		t.Fatal("the slot is not free once the job in it ends and the cancelled one has withdrawn")
	}

	var none *Progress
	if err := none.Wait(context.Background(), ready); err != nil {
		t.Fatalf("a nil Progress: %v", err)
	}
}
