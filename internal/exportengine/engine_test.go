package exportengine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// testEpoch is where the fake clocks of tests stand when they start.
var testEpoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// newFakeClock is a clock that moves only when the test says so.
func newFakeClock() *clock.Fake { return clock.NewFake(testEpoch) }

// skewedClock is a fake clock whose reading can also be set back, as a wall clock can be: the
// engine must never count on time only moving forward.
type skewedClock struct {
	*clock.Fake
	mu   sync.Mutex
	skew time.Duration
}

func newSkewedClock() *skewedClock { return &skewedClock{Fake: newFakeClock()} }

func (c *skewedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Fake.Now().Add(c.skew)
}

// Move moves the reading by d, backwards when d is negative; timers are not affected.
func (c *skewedClock) Move(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew += d
}

// openEngine opens an engine with opts; it is closed when the test ends.
func openEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	e, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e
}

// openTestEngine opens an engine on a fresh data directory with a fake clock; it is closed when
// the test ends.
func openTestEngine(t *testing.T) (*Engine, *clock.Fake) {
	t.Helper()
	clock := newFakeClock()
	return openEngine(t, Options{DataDir: t.TempDir(), Clock: clock}), clock
}
