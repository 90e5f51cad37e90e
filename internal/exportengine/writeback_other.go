//go:build !linux

package exportengine

import "os"

// dropCached does nothing where there is no posix_fadvise.
func dropCached(*os.File, int64, int64) {}

// dropWrittenBack does nothing where there is no sync_file_range: the commit's fsync waits for
// the bytes instead.
func dropWrittenBack(*os.File, int64, int64) error { return nil }
