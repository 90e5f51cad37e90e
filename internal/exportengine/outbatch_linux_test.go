package exportengine

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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
	ob, err := newOutBatch(dir, "b")
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
