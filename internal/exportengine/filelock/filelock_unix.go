//go:build unix

package filelock

import (
	"errors"
	"os"
	"syscall"
)

// lockHandle takes a flock on f, waiting for it when wait is set.
func lockHandle(f *os.File, exclusive, wait bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if !wait {
		how |= syscall.LOCK_NB
	}
	for {
		if err := syscall.Flock(int(f.Fd()), how); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func lockBusy(err error) bool { return errors.Is(err, syscall.EWOULDBLOCK) }
