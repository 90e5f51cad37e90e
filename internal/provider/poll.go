package provider

import (
	"context"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// backoff is the schedule of a wait: it starts at min and doubles up to max.
type backoff struct {
	min, max time.Duration
}

// poll calls check until it reports done or fails, waiting between calls on the backoff schedule
// of clock c. It stops as soon as ctx is done (a timeout, or Ctrl-C in Terraform) and then returns
// the context's error.
func poll(ctx context.Context, c clock.Clock, b backoff, check func(context.Context) (bool, error)) error {
	wait := b.min
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		if err := clock.Sleep(ctx, c, wait); err != nil {
			return err
		}
		wait = min(wait*2, b.max)
	}
}
