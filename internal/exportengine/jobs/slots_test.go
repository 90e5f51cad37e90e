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
	s, _ := newSlots(1)
	s.take()
	s.lend()
	s.take()
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

// Progress.Wait lends the slot while it waits, and returns holding one; a cancelled wait holds
// none unless it was handed one.
func TestProgressWait(t *testing.T) {
	s, freed := newSlots(1)
	s.take()
	p := &Progress{slots: s}
	p.holds.Store(true)
	ready := make(chan struct{})
	close(ready)
	if err := p.Wait(context.Background(), ready); err != nil || !p.holds.Load() || *freed != 1 {
		t.Fatalf("Wait: %v, holds %v, freed %d", err, p.holds.Load(), *freed)
	}
	if s.take() {
		t.Fatal("a new job took the slot of a job that waited and went on")
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped")
	cancel(stop)
	if err := p.Wait(ctx, make(chan struct{})); !errors.Is(err, stop) {
		t.Fatalf("a cancelled Wait returned %v", err)
	}
	// With the slot free, the cancelled job takes it back: its end gives it back.
	if !p.holds.Load() {
		t.Fatal("a cancelled wait with a slot free does not hold it")
	}

	// Cancelled while another job holds the slot it lent: it holds none.
	lent := make(chan struct{}, 1)
	s.freed = func() { lent <- struct{}{} }
	ctx, cancel = context.WithCancelCause(context.Background())
	waited := make(chan error)
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
	if !s.take() {
		t.Fatal("the slot is not free once the job in it ends and the cancelled one has withdrawn")
	}

	var none *Progress
	if err := none.Wait(context.Background(), ready); err != nil {
		t.Fatalf("a nil Progress: %v", err)
	}
}
