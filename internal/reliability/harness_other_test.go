//go:build !linux

package reliability

import (
	"testing"
	"time"
)

// awaitExit needs Linux's pidfd; elsewhere the tests that kill processes skip (see needsProc).
func awaitExit(t *testing.T, pid int, timeout time.Duration) bool {
	t.Skipf("waiting for process %d to end needs Linux", pid)
	return false
}
