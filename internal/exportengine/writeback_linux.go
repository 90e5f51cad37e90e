package exportengine

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCached tells the kernel that n bytes of f at off will not be read again, so that their
// pages in the page cache, when clean, are freed at once: files the engine writes or reads once do
// not push the profile store's segments out of the page cache, and what they held is reused by
// the next pages written. Pages not yet on disk are left. It is advice, and fails silently.
func dropCached(f *os.File, off, n int64) {
	if n <= 0 {
		return // to the kernel, a length of 0 means to the end of the file
	}
	if c, err := f.SyscallConn(); err == nil {
		_ = c.Control(func(fd uintptr) { _ = unix.Fadvise(int(fd), off, n, unix.FADV_DONTNEED) })
	}
}
