package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)

func received(c <-chan time.Time) (time.Time, bool) {
	select {
	case t := <-c:
		return t, true
	default:
		return time.Time{}, false
	}
}

func TestFakeTimerFiresAtItsDeadline(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(time.Second)
	f.Advance(999 * time.Millisecond)
	if _, ok := received(tm.C()); ok {
		t.Fatal("the timer fired before its deadline")
	}
	f.Advance(time.Millisecond)
	got, ok := received(tm.C())
	if !ok || !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("fired = %v at %v, want true at %v", ok, got, epoch.Add(time.Second))
	}
	if f.Waiters() != 0 {
		t.Fatalf("a fired timer still waits: %d waiters", f.Waiters())
	}
}

func TestFakeTimersFireInDeadlineOrder(t *testing.T) {
	f := NewFake(epoch)
	late, early := f.NewTimer(3*time.Second), f.NewTimer(time.Second)
	f.Advance(5 * time.Second)
	a, _ := received(early.C())
	b, _ := received(late.C())
	if !a.Equal(epoch.Add(time.Second)) || !b.Equal(epoch.Add(3*time.Second)) {
		t.Fatalf("early fired at %v, late at %v", a, b)
	}
	if !f.Now().Equal(epoch.Add(5 * time.Second)) {
		t.Fatalf("now = %v", f.Now())
	}
}

func TestFakeTimerStopAndReset(t *testing.T) {
	f := NewFake(epoch)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Fatal("Stop of an active timer reported false")
	}
	f.Advance(2 * time.Second)
	if _, ok := received(tm.C()); ok {
		t.Fatal("a stopped timer fired")
	}
	if tm.Reset(time.Second) {
		t.Fatal("Reset of a stopped timer reported it active")
	}
	f.Advance(time.Second)
	if _, ok := received(tm.C()); !ok {
		t.Fatal("a reset timer did not fire")
	}
	// A value not received is dropped by Reset, as with time.Timer since Go 1.23.
	tm.Reset(time.Second)
	f.Advance(time.Second)
	tm.Reset(time.Second)
	if _, ok := received(tm.C()); ok {
		t.Fatal("Reset kept a stale value in the channel")
	}
}

func TestFakeTickerTicksAndDropsWhatIsNotReceived(t *testing.T) {
	f := NewFake(epoch)
	tk := f.NewTicker(time.Second)
	f.Advance(time.Second)
	if got, ok := received(tk.C()); !ok || !got.Equal(epoch.Add(time.Second)) {
		t.Fatalf("first tick = %v, %v", got, ok)
	}
	f.Advance(3 * time.Second) // three ticks, one slot: two are dropped
	if _, ok := received(tk.C()); !ok {
		t.Fatal("no tick after three periods")
	}
	if _, ok := received(tk.C()); ok {
		t.Fatal("a ticker's channel held more than one tick")
	}
	tk.Stop()
	if f.Waiters() != 0 {
		t.Fatal("a stopped ticker still waits")
	}
}

func TestBlockUntilSeesAWaiterStartedElsewhere(t *testing.T) {
	f := NewFake(epoch)
	done := make(chan error)
	go func() { done <- Sleep(context.Background(), f, time.Minute) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("BlockUntil: %v", err)
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("Sleep: %v", err)
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	f := NewFake(epoch)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, f, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep = %v, want context.Canceled", err)
	}
	if f.Waiters() != 0 {
		t.Fatal("Sleep left its timer waiting")
	}
}

func TestNonPositiveTimerFiresAtOnce(t *testing.T) {
	f := NewFake(epoch)
	if _, ok := received(f.NewTimer(0).C()); !ok {
		t.Fatal("a zero timer did not fire at once")
	}
}
