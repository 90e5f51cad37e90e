package exportengine

import (
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests: time moves only when the test says so.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openTestEngine opens an engine on a fresh data directory with a fake clock; it is closed when
// the test ends.
func openTestEngine(t *testing.T) (*Engine, *fakeClock) {
	t.Helper()
	clock := newFakeClock()
	e, err := Open(context.Background(), Options{DataDir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return e, clock
}
