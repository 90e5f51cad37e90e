package exportengine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// residentPages counts the pages of n bytes of f at off that are in the page cache.
func residentPages(t *testing.T, f *os.File, off, n int64) int {
	t.Helper()
	page := int64(os.Getpagesize())
	m, err := unix.Mmap(int(f.Fd()), off, int(n), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = unix.Munmap(m) }()
	vec := make([]byte, (n+page-1)/page)
	// mincore(2): one byte a page, its low bit set when the page is resident.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)),
		uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	resident := 0
	for _, v := range vec {
		resident += int(v & 1)
	}
	return resident
}

// writeSynced writes b to path and makes it durable, so that its pages are clean.
func writeSynced(t *testing.T, path string, b []byte) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	return f
}

// skipUnlessDroppable skips where the file system keeps clean pages that fadvise is asked to
// drop (tmpfs, whose pages are the file).
func skipUnlessDroppable(t *testing.T, dir string) {
	t.Helper()
	f := writeSynced(t, filepath.Join(dir, "probe"), bytes.Repeat([]byte("x"), 1<<20))
	dropCached(f, 0, 1<<20)
	if n := residentPages(t, f, 0, 1<<20); n != 0 {
		t.Skipf("the file system of %s keeps %d dropped pages in memory", dir, n)
	}
}

func TestCompletionDropsWhatItReadFromThePageCache(t *testing.T) {
	dir := t.TempDir()
	skipUnlessDroppable(t, dir)
	var lines bytes.Buffer
	for i := 0; lines.Len() < 3*dropBytes+12345; i++ {
		fmt.Fprintf(&lines, `{"identityMap":{"CRMID":[{"id":"c%d","primary":true}]},"person":{"name":{"firstName":"A%d"}}}`+"\n", i, i)
	}
	path := filepath.Join(dir, "upload.json")
	f := writeSynced(t, path, lines.Bytes())
	size := int64(lines.Len())
	if _, err := os.ReadFile(path); err != nil { // in the page cache, as a file just uploaded is
		t.Fatal(err)
	}
	if n := residentPages(t, f, 0, size); n == 0 {
		t.Fatal("the file read whole has no page in the page cache")
	}

	var st fileStat
	records := 0
	if err := readRecords(path, &st, func(int64, []byte) error { records++; return nil }); err != nil {
		t.Fatal(err)
	}
	if records == 0 || st.size != size {
		t.Fatalf("read %d records of %d bytes", records, st.size)
	}
	if n := residentPages(t, f, 0, size); n != 0 {
		t.Errorf("%d pages of the file completed are still in the page cache; want none", n)
	}
}

func TestExportDropsOutputWrittenBackFromThePageCache(t *testing.T) {
	dir := t.TempDir()
	skipUnlessDroppable(t, dir)
	ob, err := newOutBatch(filepath.Join(dir, "out"), "b", dropWrittenBack, 1)
	if err != nil {
		t.Fatal(err)
	}
	rows := bytes.Repeat([]byte(`{"a":1}`+"\n"), (1<<20)/8)
	writeUntil := func(size int64) {
		t.Helper()
		for ob.size < size {
			if err := ob.write(rows, int64(len(rows)/8)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The first writebackEvery bytes are handed to writeback; the next step waits until they are
	// on disk and drops them, all of them, and nothing after them.
	writeUntil(writebackEvery + 2<<20)
	if ob.wb.Handed() < writebackEvery {
		t.Fatalf("handed %d bytes to writeback, want %d", ob.wb.Handed(), writebackEvery)
	}
	first := ob.wb.Handed()
	f := ob.f
	if n := residentPages(t, f, 0, first); n == 0 {
		t.Fatal("rows just written have no page in the page cache")
	}
	writeUntil(first + writebackEvery + 2<<20)
	if ob.dropped != first {
		t.Fatalf("dropped %d bytes, want %d", ob.dropped, first)
	}
	if n := residentPages(t, f, 0, first); n != 0 {
		t.Errorf("%d pages of rows on disk are still in the page cache; want none", n)
	}
	if n := residentPages(t, f, first, ob.wb.Handed()-first); n == 0 {
		t.Error("rows handed to writeback in the last step were dropped before their turn")
	}
	// Closing the part file drops the rest of it, once written back.
	if err := ob.close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ob.dir, ob.files[0].name)
	closed, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer closed.Close()
	if n := residentPages(t, closed, 0, ob.size); n != 0 {
		t.Errorf("%d pages of a closed part file are still in the page cache; want none", n)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(got)) != ob.size || !bytes.Equal(got[:len(rows)], rows) {
		t.Errorf("the part file holds %d bytes, want %d written", len(got), ob.size)
	}
}
