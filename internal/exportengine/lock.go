package exportengine

import "os"

// fileLock is an advisory lock on a file, held by an open file (a descriptor on Unix, a handle on
// Windows): the system releases it when the holder closes the file or dies, which is what lets
// another process tell a live runner from a dead one. lockHandle and lockBusy, per system, take
// the lock and tell a lock held elsewhere from a failure.
type fileLock struct {
	f *os.File
}

func openLockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
}

// tryLockFile takes the lock if it is free, without waiting.
func tryLockFile(path string, exclusive bool) (*fileLock, bool, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, false, err
	}
	if err := lockHandle(f, exclusive, false); err != nil {
		_ = f.Close()
		if lockBusy(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &fileLock{f: f}, true, nil
}

// lockFile waits until it has the lock.
func lockFile(path string, exclusive bool) (*fileLock, error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	if err := lockHandle(f, exclusive, true); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &fileLock{f: f}, nil
}

func (l *fileLock) unlock() error {
	return l.f.Close() // closing the last descriptor or handle releases the lock
}
