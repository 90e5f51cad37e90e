package durable

import (
	"errors"
	"os"
	"testing"
)

// A pipe cannot be synced: the error of the background sync is Stop's.
func TestWritebackStopReportsWhatTheBackgroundSyncMet(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	wb := NewWriteback(w)
	wb.Written(SyncEvery - 1)
	if wb.kick != nil {
		t.Fatal("a background sync asked for before SyncEvery bytes")
	}
	if err := wb.Stop(); err != nil {
		t.Fatalf("Stop without a sync: %v", err)
	}
	wb.Written(SyncEvery)
	err = wb.Stop()
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "fdatasync" {
		t.Fatalf("Stop: %v, want the error of fdatasync on a pipe", err)
	}
	if again := wb.Stop(); !errors.Is(again, err) {
		t.Errorf("Stop again: %v, want the first error %v", again, err)
	}
}
