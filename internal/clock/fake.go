package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Fake is a Clock that moves only when told to. Its timers and tickers fire, in deadline order,
// when Advance or Set moves the time past their deadlines; BlockUntil lets a test wait for the
// code under test to start waiting on the clock, so that the test never sleeps.
//
// Like time.Timer since Go 1.23, a fake timer's channel holds at most one value, and a value not
// yet received is dropped by Stop and Reset.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
	changed chan struct{} // closed and replaced whenever waiters changes
}

// NewFake returns a Fake clock at t.
func NewFake(t time.Time) *Fake {
	return &Fake{now: t, changed: make(chan struct{})}
}

type fakeWaiter struct {
	clock  *Fake
	at     time.Time
	period time.Duration // non-zero for tickers
	c      chan time.Time
}

// Now is the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires when the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{clock: f, at: f.now.Add(d), c: make(chan time.Time, 1)}
	if d <= 0 {
		w.c <- f.now
		return (*fakeTimer)(w)
	}
	f.addLocked(w)
	return (*fakeTimer)(w)
}

// NewTicker returns a ticker that fires every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive interval for NewTicker")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{clock: f, at: f.now.Add(d), period: d, c: make(chan time.Time, 1)}
	f.addLocked(w)
	return (*fakeTicker)(w)
}

// Advance moves the time forward by d, firing what comes due on the way.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	target := f.now.Add(d)
	f.mu.Unlock()
	f.Set(target)
}

// Set moves the time to t (never backwards), firing what comes due on the way, in order.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		i := slices.IndexFunc(f.waiters, func(w *fakeWaiter) bool { return !w.at.After(t) })
		if i < 0 {
			break
		}
		// The earliest due waiter fires first.
		for j, w := range f.waiters {
			if !w.at.After(t) && w.at.Before(f.waiters[i].at) {
				i = j
			}
		}
		w := f.waiters[i]
		if w.at.After(f.now) {
			f.now = w.at
		}
		select {
		case w.c <- f.now:
		default: // a ticker's receiver is behind: the tick is dropped, as time.Ticker does
		}
		if w.period > 0 {
			w.at = w.at.Add(w.period)
		} else {
			f.removeLocked(w)
		}
	}
	if t.After(f.now) {
		f.now = t
	}
}

// Waiters is the number of timers and tickers that have yet to fire (or, for tickers, to be stopped).
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// BlockUntil waits until at least n timers and tickers are waiting on the clock, or ctx is done.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		count, changed := len(f.waiters), f.changed
		f.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// NextDeadline is when the next timer or ticker fires, and whether there is one.
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waiters) == 0 {
		return time.Time{}, false
	}
	at := f.waiters[0].at
	for _, w := range f.waiters[1:] {
		if w.at.Before(at) {
			at = w.at
		}
	}
	return at, true
}

func (f *Fake) addLocked(w *fakeWaiter) {
	f.waiters = append(f.waiters, w)
	f.notifyLocked()
}

func (f *Fake) removeLocked(w *fakeWaiter) bool {
	i := slices.Index(f.waiters, w)
	if i < 0 {
		return false
	}
	f.waiters = slices.Delete(f.waiters, i, i+1)
	f.notifyLocked()
	return true
}

func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func (w *fakeWaiter) drain() {
	select {
	case <-w.c:
	default:
	}
}

type fakeTimer fakeWaiter

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	w := (*fakeWaiter)(t)
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	w.drain()
	return w.clock.removeLocked(w)
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	w := (*fakeWaiter)(t)
	f := w.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	w.drain()
	active := f.removeLocked(w)
	w.at = f.now.Add(d)
	if d <= 0 {
		w.c <- f.now
		return active
	}
	f.addLocked(w)
	return active
}

type fakeTicker fakeWaiter

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	w := (*fakeWaiter)(t)
	w.clock.mu.Lock()
	defer w.clock.mu.Unlock()
	w.drain()
	w.clock.removeLocked(w)
}

func (t *fakeTicker) Reset(d time.Duration) {
	if d <= 0 {
		panic("clock: non-positive interval for Ticker.Reset")
	}
	w := (*fakeWaiter)(t)
	f := w.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	w.drain()
	f.removeLocked(w)
	w.at, w.period = f.now.Add(d), d
	f.addLocked(w)
}
