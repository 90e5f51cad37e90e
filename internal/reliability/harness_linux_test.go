package reliability

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// awaitExit waits until the process pid has ended (it runs no more, reaped or not), for up to
// timeout, and reports whether it has. It waits on a pidfd, which becomes readable when its
// process ends, whoever the process's parent is.
func awaitExit(t *testing.T, pid int, timeout time.Duration) bool {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true // gone already
	}
	if err != nil {
		t.Fatalf("watching process %d: %v", pid, err)
	}
	defer unix.Close(fd)
	for {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(max(timeout, 0).Milliseconds()))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("waiting for process %d: %v", pid, err)
		}
		return n > 0
	}
}
