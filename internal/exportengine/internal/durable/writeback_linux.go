package durable

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing n bytes of f at off to disk, without waiting
// for them: the fsync that makes the file durable then finds little left to write, and the disk
// works while the writer goes on. It is advice; an error changes nothing the fsync does not check.
func startWriteback(f *os.File, off, n int64) {
	if n <= 0 {
		return // to the kernel, a length of 0 means to the end of the file
	}
	if c, err := f.SyscallConn(); err == nil {
		_ = c.Control(func(fd uintptr) { _ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE) })
	}
}

// datasync makes f's bytes durable, and of its metadata what reading them needs (its size).
func datasync(f *os.File) error {
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := c.Control(func(fd uintptr) { serr = unix.Fdatasync(int(fd)) }); err != nil {
		return err
	}
	if serr != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
