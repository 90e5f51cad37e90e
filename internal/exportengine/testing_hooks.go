package exportengine

import (
	"context"
	"os"
	"path/filepath"
	"time"
)

// PauseExportsWhile makes the exports of this process wait, before their first chunk of
// profiles goes to be merged, for as long as a file of the given name exists in the engine's data
// directory, or until the job is cancelled. It exists for the tests of other packages, which need
// an export job to stay running while they act on it. It must be called before any export starts.
func PauseExportsWhile(name string) {
	testHookChunk = func(ctx context.Context, dataDir string, seq int) {
		if seq != 0 {
			return
		}
		path := filepath.Join(dataDir, name)
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
