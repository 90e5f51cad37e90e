package jobs

import (
	"context"
	"path/filepath"
	"strconv"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
)

// The lock protocol. Any number of processes may open a data directory; they agree through two
// kinds of lock files in it, which the system releases when their holder dies:
//
//   - jobs/<id>.lock: the runner of a job holds it exclusively for as long as it runs the job. A
//     Processing job whose lock is free has lost its runner. A waiter learns the moment a job's
//     run ends by taking the lock, shared, itself.
//   - worker.lock: a worker process (see RunWorker in the engine) holds it exclusively for as
//     long as it runs the directory's jobs, so that at most one worker runs per directory.

const (
	// LocksDir holds the job lock files, under the data directory.
	LocksDir       = "jobs"
	workerLockFile = "worker.lock"
)

// Locks are the lock files of one data directory.
type Locks struct{ dir string }

// NewLocks returns the locks of the data directory dir.
func NewLocks(dir string) Locks { return Locks{dir: dir} }

func (l Locks) jobPath(id int64) string {
	return filepath.Join(l.dir, LocksDir, strconv.FormatInt(id, 10)+".lock")
}

func (l Locks) workerPath() string { return filepath.Join(l.dir, workerLockFile) }

// tryJob takes the lock of a job, to run it, unless another runner holds it.
func (l Locks) tryJob(id int64) (*filelock.Lock, bool, error) {
	return filelock.TryLock(l.jobPath(id), filelock.Exclusive)
}

// JobHeld reports whether a runner holds the lock of a job.
func (l Locks) JobHeld(id int64) bool {
	lock, ok, err := filelock.TryLock(l.jobPath(id), filelock.Shared)
	if err != nil || !ok {
		return err == nil
	}
	_ = lock.Unlock()
	return false
}

// WatchJob reports whether a runner holds the lock of a job and, if so, returns a channel that
// is closed when it lets go: when the run ends, or its process dies.
func (l Locks) WatchJob(id int64) (released <-chan struct{}, held bool) {
	if !l.JobHeld(id) {
		return nil, false
	}
	c := make(chan struct{})
	go func() {
		// Blocks until the runner lets go; it outlives a cancelled wait, and ends with the run.
		if lock, err := filelock.Wait(l.jobPath(id), filelock.Shared); err == nil {
			_ = lock.Unlock()
		}
		close(c)
	}()
	return c, true
}

// TryWorker takes the worker lock, unless a worker holds it.
func (l Locks) TryWorker() (*filelock.Lock, bool, error) {
	return filelock.TryLock(l.workerPath(), filelock.Exclusive)
}

// WorkerRunning reports whether a worker process holds the worker lock.
func (l Locks) WorkerRunning() bool {
	lock, ok, err := l.TryWorker()
	if err != nil || !ok {
		return err == nil
	}
	_ = lock.Unlock()
	return false
}

// WaitWorkerExit waits until no worker holds the worker lock, or ctx ends. A worker started
// meanwhile finds the lock taken for a moment and exits at once.
func (l Locks) WaitWorkerExit(ctx context.Context) error {
	done := make(chan error, 1)
	go func() {
		// Blocks while a worker holds the lock; past a cancelled wait it ends when the worker does.
		lock, err := filelock.Wait(l.workerPath(), filelock.Exclusive)
		if err == nil {
			err = lock.Unlock()
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
