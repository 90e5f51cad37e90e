package graph

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
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

// writeKept keeps comps, of values of 4 bytes, in dir.
func writeKept(t *testing.T, dir string, key Key, comps []keptComponent) string {
	t.Helper()
	w, err := CreateKept(dir, key, 4)
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
	path := writeKept(t, dir, key, sampleKept)
	r, err := OpenKept(path, key, 4, nil)
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
	path := writeKept(t, dir, key, sampleKept[:2])
	notKept := func(what string, key Key, valueSize int) {
		t.Helper()
		r, err := OpenKept(path, key, valueSize, nil)
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

// A kept graph is not synced, so its pages may be read again from the disk between OpenKept's
// check and the caller's pass: that pass checks the values and the sum again, and a file that
// reads otherwise than it did is an error, not components.
func TestKeptGraphThatChangesAfterTheCheckIsAnError(t *testing.T) {
	key := Key{9}
	valid := func(v []byte) bool { return v[0] != 'X' }
	for _, tc := range []struct {
		name string
		at   func(whole []byte) int // the byte changed
		to   byte
		// want is how many components read before the error.
		want int
	}{
		// The first value of the second component: it is read, then refused as it is read.
		{"a value no longer valid", func(w []byte) int { return bytes.Index(w, []byte("cccc")) }, 'X', 1},
		// A byte of the last component's values that valid still takes: only the sum, at the
		// last component, finds it.
		{"a byte only the sum covers", func(w []byte) int { return bytes.LastIndex(w, []byte("dddd")) }, 'e', 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			comps := []keptComponent{sampleKept[0], sampleKept[1], sampleKept[2]}
			path := writeKept(t, t.TempDir(), key, comps)
			r, err := OpenKept(path, key, 4, valid)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			whole, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteAt([]byte{tc.to}, int64(tc.at(whole)))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for r.Next() {
				n++
			}
			if !errors.Is(r.Err(), ErrKeptChanged) || n != tc.want {
				t.Fatalf("read %d components, then %v; want %d, then ErrKeptChanged", n, r.Err(), tc.want)
			}
		})
	}
	// Unchanged, the same reader reads every component with the check on.
	path := writeKept(t, t.TempDir(), key, sampleKept[:3])
	r, err := OpenKept(path, key, 4, valid)
	if err != nil {
		t.Fatal(err)
	}
	if got := readKept(t, r); len(got) != 3 {
		t.Fatalf("read %d components, want 3", len(got))
	}
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

// A component's count of identities sizes nothing, so it may be more than the file holds: a small
// store with a component past AEP's guardrail of 50 reads back.
func TestKeptGraphOfFewBytesAndManyIdentities(t *testing.T) {
	dir := t.TempDir()
	comps := []keptComponent{{"ECID", 255, []byte("abcd")}}
	path := writeKept(t, dir, Key{3}, comps)
	r, err := OpenKept(path, Key{3}, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readKept(t, r); len(got) != 1 || got[0].identities != 255 {
		t.Errorf("read %+v, want %+v", got, comps)
	}
}

// rawKept writes a kept graph of the given entries and count of components, with a sum that holds
// whatever the entries say.
func rawKept(t *testing.T, key Key, valueSize int, count uint64, entries []byte) string {
	t.Helper()
	b := append([]byte(keptMagic), key[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(valueSize))
	b = append(b, entries...)
	b = binary.BigEndian.AppendUint64(b, count)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	b = append(b, keptEnd...)
	path := filepath.Join(t.TempDir(), "kept.graph")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A kept graph whose sum holds but whose entries do not parse, or that the caller's check refuses,
// is no kept graph: the export builds the graph anew rather than fail at the entry.
func TestKeptGraphThatDoesNotParseIsNotKept(t *testing.T) {
	entry := func(ns string, identities, values uint64, body string) []byte {
		b := binary.AppendUvarint(nil, uint64(len(ns)))
		b = append(b, ns...)
		b = binary.AppendUvarint(b, identities)
		b = binary.AppendUvarint(b, values)
		return append(b, body...)
	}
	good := entry("ECID", 2, 2, "abcdefgh")
	if r, err := OpenKept(rawKept(t, Key{}, 4, 1, good), Key{}, 4, nil); err != nil {
		t.Fatalf("a well-formed file: %v", err)
	} else {
		r.Close()
	}
	for name, c := range map[string]struct {
		count   uint64
		entries []byte
	}{
		"more components counted than there are": {2, good},
		"bytes after the last component":         {1, append(slices.Clone(good), 0)},
		"a namespace longer than the file":       {1, append(binary.AppendUvarint(nil, 1<<40), "ECID"...)},
		"more values than the file holds":        {1, entry("ECID", 2, 1<<40, "abcd")},
		"more identities than any component":     {1, entry("ECID", 1<<40, 1, "abcd")},
		"a value cut short":                      {1, entry("ECID", 2, 2, "abcdef")},
	} {
		if r, err := OpenKept(rawKept(t, Key{}, 4, c.count, c.entries), Key{}, 4, nil); !errors.Is(err, ErrNotKept) {
			if err == nil {
				r.Close()
			}
			t.Errorf("%s: %v, want ErrNotKept", name, err)
		}
	}
	refuse := func(v []byte) bool { return string(v) != "efgh" }
	if r, err := OpenKept(rawKept(t, Key{}, 4, 1, good), Key{}, 4, refuse); !errors.Is(err, ErrNotKept) {
		if err == nil {
			r.Close()
		}
		t.Errorf("a value the caller refuses: %v, want ErrNotKept", err)
	}
}
