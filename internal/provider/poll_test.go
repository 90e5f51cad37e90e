package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

func TestPoll_backsOffUpToItsBound(t *testing.T) {
	ctx := context.Background()
	start := time.Unix(1_800_000_000, 0)
	fake := clock.NewFake(start)
	var at []time.Duration
	done := make(chan error, 1)
	go func() {
		done <- poll(ctx, fake, backoff{min: 100 * time.Millisecond, max: 400 * time.Millisecond}, func(context.Context) (bool, error) {
			at = append(at, fake.Now().Sub(start))
			return len(at) == 5, nil
		})
	}()
	for range 4 {
		if err := fake.BlockUntil(ctx, 1); err != nil {
			t.Fatal(err)
		}
		next, _ := fake.NextDeadline()
		fake.Set(next)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{0, 100 * time.Millisecond, 300 * time.Millisecond, 700 * time.Millisecond, 1100 * time.Millisecond}
	if !slices.Equal(at, want) {
		t.Errorf("checks at %v, want %v", at, want)
	}
}

func TestPoll_stopsWhenTheContextEnds(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	checks := 0
	go func() {
		done <- poll(ctx, fake, backoff{min: time.Second, max: time.Minute}, func(context.Context) (bool, error) {
			checks++
			return false, nil
		})
	}()
	if err := fake.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || checks != 1 {
		t.Errorf("poll returned %v after %d checks; want context.Canceled after 1", err, checks)
	}
}

func TestPoll_returnsTheCheckError(t *testing.T) {
	boom := errors.New("boom")
	err := poll(context.Background(), clock.NewFake(time.Unix(0, 0)), backoff{min: time.Second, max: time.Second},
		func(context.Context) (bool, error) { return false, boom })
	if !errors.Is(err, boom) {
		t.Errorf("poll returned %v, want %v", err, boom)
	}
}

// advanceEachWait lets poll's waits on fake pass at once, until stop is closed.
func advanceEachWait(fake *clock.Fake, stop <-chan struct{}) {
	go func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() { <-stop; cancel() }()
		for fake.BlockUntil(ctx, 1) == nil {
			if next, ok := fake.NextDeadline(); ok {
				fake.Set(next)
			}
		}
	}()
}

// A wait goes on through calls that got no answer from the platform, until its own deadline.
func TestPoll_ridesOutAnOutage(t *testing.T) {
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))
	stop := make(chan struct{})
	defer close(stop)
	advanceEachWait(fake, stop)
	calls := 0
	err := poll(context.Background(), fake, backoff{min: time.Second, max: time.Second}, func(context.Context) (bool, error) {
		calls++
		if calls <= 6 {
			return false, &aepwire.UnavailableError{Sent: true, Err: errors.New("GET /x failed after 5 attempts: 503")}
		}
		return true, nil
	})
	if err != nil || calls != 7 {
		t.Errorf("poll through 6 unanswered calls: %v after %d calls", err, calls)
	}
}

func TestPoll_aRefusalEndsTheWaitAtOnce(t *testing.T) {
	refused := aepwire.Errorf(404, "CAT-1405", "Batch not found", "gone")
	err := poll(context.Background(), clock.NewFake(time.Unix(0, 0)), backoff{min: time.Second, max: time.Second},
		func(context.Context) (bool, error) { return false, refused })
	if !errors.Is(err, refused) {
		t.Errorf("a refusal: %v", err)
	}
}

// The end of the wait during an outage says what the platform last did, whether it comes while
// poll waits or while a call is under way.
func TestPoll_anOutagePastItsEndSaysWhatThePlatformDid(t *testing.T) {
	unanswered := &aepwire.UnavailableError{Err: errors.New("connection refused")}
	fake := clock.NewFake(time.Unix(1_800_000_000, 0))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- poll(ctx, fake, backoff{min: time.Second, max: time.Second}, func(context.Context) (bool, error) {
			return false, unanswered
		})
	}()
	if err := fake.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("ended while waiting: %v", err)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	err := poll(ctx, fake, backoff{min: time.Second, max: time.Second}, func(context.Context) (bool, error) {
		cancel()
		return false, unanswered
	})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("ended during a call: %v", err)
	}
}
