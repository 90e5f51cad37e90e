package provider

import (
	"context"
	"time"
)

// backoff is the schedule of a wait: it starts at min and doubles up to max.
type backoff struct {
	min, max time.Duration
}

// poll calls check until it reports done or fails, sleeping between calls on the backoff
// schedule. It stops as soon as ctx is done (a timeout, or Ctrl-C in Terraform) and then returns
// the context's error.
func poll(ctx context.Context, b backoff, check func(context.Context) (bool, error)) error {
	wait := b.min
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-timer.C:
		}
		wait = min(wait*2, b.max)
	}
}
