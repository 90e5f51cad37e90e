//go:build !linux

package exportengine

import "os"

// dropCached does nothing where there is no posix_fadvise.
func dropCached(*os.File, int64, int64) {}
