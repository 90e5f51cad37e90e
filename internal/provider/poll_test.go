package provider

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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
