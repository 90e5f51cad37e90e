package filelock

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/internal/childproc"
)

// holderEnv makes the test binary a process that takes a lock, says so on stdout, and waits to be
// killed.
const holderEnv = "FILELOCK_TEST_HOLDER"

// held keeps the holder's lock referenced: an unreferenced Lock's file is closed by the garbage
// collector, which releases the lock.
var held *Lock

func TestMain(m *testing.M) {
	if path := os.Getenv(holderEnv); path != "" {
		var err error
		if held, err = Wait(path, Exclusive); err != nil {
			os.Exit(2)
		}
		_, _ = os.Stdout.WriteString("locked\n")
		// Wait for the kill, reading a pipe the test never writes to: a goroutine blocked
		// forever on nothing else would be a deadlock, which ends the process.
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func TestLocksConflictBetweenOpenFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	ex, ok, err := TryLock(path, Exclusive)
	if err != nil || !ok {
		t.Fatalf("TryLock of a free lock: %v, %v", ok, err)
	}
	for _, mode := range []Mode{Shared, Exclusive} {
		if _, ok, err := TryLock(path, mode); err != nil || ok {
			t.Errorf("TryLock(%v) beside an exclusive holder in the same process: ok %v, %v", mode, ok, err)
		}
	}
	if err := ex.Unlock(); err != nil {
		t.Fatal(err)
	}
	a, ok1, err1 := TryLock(path, Shared)
	b, ok2, err2 := TryLock(path, Shared)
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		t.Fatalf("two shared holders: %v %v %v %v", ok1, ok2, err1, err2)
	}
	if _, ok, _ := TryLock(path, Exclusive); ok {
		t.Error("an exclusive lock was taken beside shared holders")
	}
	_ = a.Unlock()
	_ = b.Unlock()
}

func TestWaitReturnsWhenTheHolderLetsGo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	held, _, err := TryLock(path, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Wait(path, Shared)
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// A lock dies with its holder: what tells a dead runner from a live one.
func TestLockIsReleasedWhenItsHolderDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	holder := childproc.Start(t, holderEnv+"="+path, "locked")
	if _, ok, err := TryLock(path, Shared); err != nil || ok {
		t.Fatalf("the holder's lock was taken: %v, %v", ok, err)
	}
	_ = holder.Kill()
	l, err := Wait(path, Exclusive)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Unlock()
}
