// Package filelock takes advisory locks on files, held by an open file (a descriptor on Unix, a
// handle on Windows): the system releases a lock when its holder closes the file or dies, which
// is what lets one process tell a live holder from a dead one. Locks conflict between open files,
// even within one process.
package filelock

import (
	"context"
	"os"
)

// Mode is how a lock is held: any number of shared holders, or one exclusive holder.
type Mode bool

const (
	Shared    Mode = false
	Exclusive Mode = true
)

// Lock is a lock held on a file, until Unlock, or until the Lock is no longer referenced and the
// garbage collector closes its file: a holder keeps it.
type Lock struct {
	f *os.File
}

func open(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // private to its user, as what it guards
}

// TryLock takes the lock of path (creating the file) if it is free, without waiting: ok is false
// when another holder has it.
func TryLock(path string, mode Mode) (l *Lock, ok bool, err error) {
	f, err := open(path)
	if err != nil {
		return nil, false, err
	}
	if err := lockHandle(f, bool(mode), false); err != nil {
		_ = f.Close()
		if lockBusy(err) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return &Lock{f: f}, true, nil
}

// Wait takes the lock of path (creating the file), waiting for as long as another holder has it.
func Wait(path string, mode Mode) (*Lock, error) {
	f, err := open(path)
	if err != nil {
		return nil, err
	}
	if err := lockHandle(f, bool(mode), true); err != nil {
		_ = f.Close()
		return nil, err
	}
	return &Lock{f: f}, nil
}

// WaitContext is Wait, given up with ctx's error when ctx ends first. A wait given up goes on in
// the background, and lets go of the lock as soon as it has it.
func WaitContext(ctx context.Context, path string, mode Mode) (*Lock, error) {
	type waited struct {
		l   *Lock
		err error
	}
	got := make(chan waited, 1)
	go func() {
		l, err := Wait(path, mode)
		got <- waited{l, err}
	}()
	select {
	case w := <-got:
		return w.l, w.err
	case <-ctx.Done():
		go func() {
			if w := <-got; w.l != nil {
				_ = w.l.Unlock()
			}
		}()
		return nil, ctx.Err()
	}
}

// Unlock lets go of the lock.
func (l *Lock) Unlock() error {
	return l.f.Close() // closing the last descriptor or handle releases the lock
}
