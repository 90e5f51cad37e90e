package durable

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestWritebackSyncsInTheBackgroundEachStep(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wb := NewWriteback(f)
	step := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	var off int64
	for off <= SyncEvery {
		if _, err := f.Write(step); err != nil {
			t.Fatal(err)
		}
		off += int64(len(step))
		wb.Written(off)
	}
	if wb.kick == nil {
		t.Fatalf("no background sync asked for after %d bytes", off)
	}
	if err := wb.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(path); err != nil || info.Size() != off {
		t.Fatalf("the file holds %v bytes (%v), want %d", info.Size(), err, off)
	}
}
