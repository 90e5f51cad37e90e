//go:build unix

package exportengine

import (
	"os"
	"syscall"
)

// mapFile maps a file read-only. The mapping's pages are the page cache's: reading a body from
// it costs no system call, and dropping them (release) costs nothing but a later minor fault.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapFile(b []byte) error {
	if b == nil {
		return nil
	}
	return syscall.Munmap(b)
}

// releaseMapped drops a mapping's pages from the process (they stay in the page cache), so that
// random reads across a large file do not pile up in the resident set.
func releaseMapped(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
