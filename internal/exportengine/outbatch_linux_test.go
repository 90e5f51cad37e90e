package exportengine

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// openPaths are the files under dir that this process has open.
func openPaths(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var open []string
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir) {
			open = append(open, target)
		}
	}
	return open
}

// Part files are closed behind the writer: close waits for all of them, and each holds its rows.
func TestOutBatchClosesPartFilesBehindTheWriter(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	ob, err := newOutBatch(dir, "b", dropWrittenBack, 1)
	if err != nil {
		t.Fatal(err)
	}
	ob.partMax = 1 << 20
	var all bytes.Buffer
	for i := 0; all.Len() < 11<<19; i++ { // five and a half part files
		rows := bytes.Repeat([]byte(`{"n":`+strings.Repeat("7", i%5+1)+"}\n"), 4096)
		if err := ob.write(rows, 4096); err != nil {
			t.Fatal(err)
		}
		all.Write(rows)
	}
	if err := ob.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if open := openPaths(t, dir); len(open) != 0 {
		t.Fatalf("after close, part files still open: %v", open)
	}
	if len(ob.files) != 6 {
		t.Fatalf("%d part files, want 6", len(ob.files))
	}
	var got []byte
	var records int64
	for _, f := range ob.files {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != f.size {
			t.Errorf("%s holds %d bytes, its stat says %d", f.name, len(b), f.size)
		}
		got = append(got, b...)
		records += f.records
	}
	if !bytes.Equal(got, all.Bytes()) || records != ob.rows {
		t.Fatalf("the part files hold %d bytes and %d records, want %d and %d", len(got), records, all.Len(), ob.rows)
	}
}

// An error of writing a part file's rows back, met where they are dropped from the page cache,
// fails the write or the close that meets it, whether a step of the file meets it or closing the
// file behind the writer does; every part file is closed all the same.
func TestOutBatchReportsWriteBackErrors(t *testing.T) {
	errBack := errors.New("write-back failed")
	for _, tc := range []struct {
		name    string
		partMax int64
		size    int // bytes written, 1 MiB a write
	}{
		{"a step of a part file", partMaxBytes, 3 * writebackEvery},
		{"closing a part file", 1 << 20, 5 << 19},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			var mu sync.Mutex
			var failed bool
			ob, err := newOutBatch(dir, "b", func(f *os.File, off, n int64) error {
				mu.Lock()
				defer mu.Unlock()
				if n > 0 && !failed {
					failed = true
					return errBack
				}
				return dropWrittenBack(f, off, n)
			}, 1)
			if err != nil {
				t.Fatal(err)
			}
			ob.partMax = tc.partMax
			rows := bytes.Repeat([]byte(`{"n":7}`+"\n"), 1<<20/8)
			var writeErr error
			for written := 0; written < tc.size && writeErr == nil; written += len(rows) {
				writeErr = ob.write(rows, 1<<20/8)
			}
			closeErr := ob.close()
			if open := openPaths(t, dir); len(open) != 0 {
				t.Fatalf("after close, part files still open: %v", open)
			}
			switch {
			case !failed:
				t.Fatal("nothing was written back and dropped")
			case tc.partMax == partMaxBytes && !errors.Is(writeErr, errBack):
				t.Fatalf("the write that met the error returned %v, want %v", writeErr, errBack)
			case tc.partMax != partMaxBytes && !errors.Is(closeErr, errBack):
				t.Fatalf("close returned %v (the last write %v), want %v", closeErr, writeErr, errBack)
			}
		})
	}
}
