package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// backoff is the schedule of a wait: it starts at min and doubles up to max.
type backoff struct {
	min, max time.Duration
}

// poll calls check until it reports done or fails, waiting between calls on the backoff schedule
// of clock c. A call that got no answer from the platform (unreachable, or unavailable, for longer
// than the client's tries of one call) does not end the wait: what is waited for goes on
// meanwhile. It stops as soon as ctx is done (a timeout, or Ctrl-C in Terraform) and then returns
// the context's error.
func poll(ctx context.Context, c clock.Clock, b backoff, check func(context.Context) (bool, error)) error {
	wait := b.min
	var outage error
	for {
		done, err := check(ctx)
		switch {
		case err == nil && done:
			return nil
		case err == nil:
			outage = nil
		case aepwire.IsUnavailable(err) && ctx.Err() != nil:
			return fmt.Errorf("%w (the platform had not answered since: %w)", ctx.Err(), err)
		case aepwire.IsUnavailable(err):
			if outage == nil {
				tflog.Warn(ctx, "the platform does not answer; waiting on", map[string]any{"error": err.Error()})
			}
			outage = err
		default:
			return err
		}
		if err := clock.Sleep(ctx, c, wait); err != nil {
			if outage != nil {
				return fmt.Errorf("%w (the platform had not answered since: %w)", err, outage)
			}
			return err
		}
		wait = min(wait*2, b.max)
	}
}
