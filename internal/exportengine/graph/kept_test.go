package graph

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type keptComponent struct {
	ns         string
	identities int
	values     []byte
}

func writeKept(t *testing.T, dir string, key Key, valueSize int, comps []keptComponent) string {
	t.Helper()
	w, err := CreateKept(dir, key, valueSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range comps {
		if err := w.Add([]byte(c.ns), c.identities, c.values); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "kept.graph")
	if err := w.Commit(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func readKept(t *testing.T, r *KeptReader) []keptComponent {
	t.Helper()
	defer r.Close()
	var got []keptComponent
	for r.Next() {
		got = append(got, keptComponent{string(r.Namespace()), r.Identities(), slices.Clone(r.Values())})
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

var sampleKept = []keptComponent{
	{"CRMID", 2, []byte("aaaabbbb")},
	{"Email", 51, []byte("cccc")},
	{"ECID", 1, bytes.Repeat([]byte("dddd"), 5000)}, // past the reader's buffer
	{"", 0, nil},
}

func TestKeptGraphReadsBackWhatWasWritten(t *testing.T) {
	dir := t.TempDir()
	key := Key{1, 2, 3}
	path := writeKept(t, dir, key, 4, sampleKept)
	r, err := OpenKept(path, key, 4)
	if err != nil {
		t.Fatal(err)
	}
	got := readKept(t, r)
	if len(got) != len(sampleKept) {
		t.Fatalf("read %d components, want %d", len(got), len(sampleKept))
	}
	for i, c := range sampleKept {
		if g := got[i]; g.ns != c.ns || g.identities != c.identities || !bytes.Equal(g.values, c.values) {
			t.Errorf("component %d: %q %d %d bytes, want %q %d %d bytes", i, g.ns, g.identities, len(g.values), c.ns, c.identities, len(c.values))
		}
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("the kept file: %v, mode %v, want 0600", err, st.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "kept-*")); len(left) != 0 {
		t.Errorf("files left beside the kept graph: %v", left)
	}
}

// A kept graph of another store, of values of another size, or one that does not read back
// exactly as written is no kept graph: every byte changed is found before a component is read.
func TestKeptGraphOfAnotherStoreOrDamagedIsNotKept(t *testing.T) {
	dir := t.TempDir()
	key := Key{7}
	path := writeKept(t, dir, key, 4, sampleKept[:2])
	notKept := func(what string, key Key, valueSize int) {
		t.Helper()
		r, err := OpenKept(path, key, valueSize)
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, ErrNotKept) {
			t.Errorf("%s: %v, want ErrNotKept", what, err)
		}
	}
	notKept("another store", Key{8}, 4)
	notKept("another value size", key, 8)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range whole {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			b := slices.Clone(whole)
			b[i] ^= flip
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			notKept(fmt.Sprintf("byte %d ^ %#x", i, flip), key, 4)
		}
	}
	for _, n := range []int{0, 1, keptHeader, len(whole) - keptTrailer, len(whole) - 1} {
		if err := os.WriteFile(path, whole[:n], 0o600); err != nil {
			t.Fatal(err)
		}
		notKept("cut short", key, 4)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	notKept("no file", key, 4)
}

func TestKeptGraphAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateKept(dir, Key{}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add([]byte("ECID"), 1, []byte("abc")); err == nil {
		t.Error("3 bytes of 4-byte values were added")
	}
	w.Abort()
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("an aborted kept graph left %v", left)
	}
}
