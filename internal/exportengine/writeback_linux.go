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

// dropWrittenBack waits until n bytes of f at off, handed to writeback before, are on disk, and
// then drops their pages from the page cache: all of them, where dropCached leaves those still
// being written. The wait finds little left, as a rule, since the bytes were handed to writeback
// a step before. It returns the error of writing them back, which a later fsync of the file may
// not report again once it has been waited for here.
func dropWrittenBack(f *os.File, off, n int64) error {
	if n <= 0 {
		return nil
	}
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		const wait = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
		if serr = unix.SyncFileRange(int(fd), off, n, wait); serr == nil {
			_ = unix.Fadvise(int(fd), off, n, unix.FADV_DONTNEED)
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: serr}
	}
	return nil
}
