//go:build !linux

package exportengine

import "os"

// startWriteback does nothing where there is no sync_file_range: the fsync at commit writes all.
func startWriteback(*os.File, int64, int64) {}

// dropCached does nothing where there is no posix_fadvise.
func dropCached(*os.File, int64, int64) {}
