//go:build !unix && !windows

package exportengine

import "errors"

// freeSpace is not known here: nothing that needs room is kept.
func freeSpace(string) (uint64, error) { return 0, errors.New("free space not known on this platform") }
