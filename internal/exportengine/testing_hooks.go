package exportengine

import (
	"context"
	"os"
	"time"
)

// PauseExportsWhile makes the exports of this process wait, before their first chunk of
// profiles goes to be merged, for as long as the file at path exists, or until the job is cancelled. It exists for
// the tests of other packages, which need an export job to stay running while they act on it
// (a worker process reads the path from its environment, in their TestMain). It must be called
// before any export starts.
func PauseExportsWhile(path string) {
	testHookChunk = func(ctx context.Context, seq int) {
		if seq != 0 {
			return
		}
		for {
			if _, err := os.Stat(path); err != nil || ctx.Err() != nil {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
}
