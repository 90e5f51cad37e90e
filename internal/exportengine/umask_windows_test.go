package exportengine

import "testing"

// withUmask skips the test: Windows has no umask, and no POSIX file modes to check.
func withUmask(t *testing.T, _ int) {
	t.Skip("file modes are POSIX")
}
