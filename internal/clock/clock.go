// Package clock is the one source of time for the engine, its runner, the HTTP server and the
// remote client. Production code takes a Clock (System, unless told otherwise); tests pass a
// Fake and move it forward, so that nothing that depends on time has to sleep to be tested.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes timers and tickers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a timer that fires once, d after now.
	NewTimer(d time.Duration) Timer
	// NewTicker returns a ticker that fires every d, starting d after now. d must be positive.
	NewTicker(d time.Duration) Ticker
}

// Timer is a time.Timer of some Clock.
type Timer interface {
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it stopped it.
	Stop() bool
	// Reset makes the timer fire d after now; it reports whether it was still active.
	Reset(d time.Duration) bool
}

// Ticker is a time.Ticker of some Clock.
type Ticker interface {
	C() <-chan time.Time
	Stop()
	Reset(d time.Duration)
}

// System is the wall clock.
var System Clock = systemClock{}

// Or returns c, or System when c is nil: what an Options field that defaults to the wall clock uses.
func Or(c Clock) Clock {
	if c == nil {
		return System
	}
	return c
}

// Sleep waits for d on c, or until ctx is done; it returns ctx's error then.
func Sleep(ctx context.Context, c Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// Since is c.Now().Sub(t).
func Since(c Clock, t time.Time) time.Duration { return c.Now().Sub(t) }

type systemClock struct{}

func (systemClock) Now() time.Time                   { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer   { return systemTimer{time.NewTimer(d)} }
func (systemClock) NewTicker(d time.Duration) Ticker { return systemTicker{time.NewTicker(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

type systemTicker struct{ t *time.Ticker }

func (t systemTicker) C() <-chan time.Time   { return t.t.C }
func (t systemTicker) Stop()                 { t.t.Stop() }
func (t systemTicker) Reset(d time.Duration) { t.t.Reset(d) }
