package extsort

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

type pair struct{ key, value []byte }

// sortAll adds the pairs to a sorter of the given run size and reads them back.
func sortAll(t *testing.T, dir string, runSize int, pairs []pair) []pair {
	t.Helper()
	s := New(dir, runSize, nil)
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, p := range pairs {
		if err := s.Add(p.key, p.value); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Sorted()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []pair
	for r.Next() {
		out = append(out, pair{bytes.Clone(r.Key()), bytes.Clone(r.Value())})
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The pairs come back in key order, byte by byte as bytes.Compare orders them, equal keys in the
// order they went in, whether they fit one run or spill into hundreds.
func TestSortsStablyByKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, keys := range []struct {
		name string
		key  func() []byte
	}{
		// Keys around the first 8 bytes: short, exactly 8, longer, with zero bytes and high bytes.
		{"short keys", func() []byte { return randomKey(rng, nil, rng.IntN(13)) }},
		// Keys that share long beginnings, as identities do, and end on either side of each 8 bytes
		// the sort counts on, or go on past the depth where it compares instead.
		{"keys sharing beginnings", func() []byte {
			begin := [][]byte{nil, []byte("ECID\x000436754256"), []byte("CRMID\x00CRM-0000"),
				bytes.Repeat([]byte{'x'}, 70), bytes.Repeat([]byte{0}, 15)}[rng.IntN(5)]
			return randomKey(rng, begin, rng.IntN(20))
		}},
	} {
		var pairs []pair
		for i := range 20_000 {
			pairs = append(pairs, pair{keys.key(), fmt.Appendf(nil, "%d", i)})
		}
		want := slices.Clone(pairs)
		slices.SortStableFunc(want, func(a, b pair) int { return bytes.Compare(a.key, b.key) })
		// Runs of 1,000 bytes make about 500 runs: more than are read at once, merged in rounds.
		// The sizes between make from two to a few dozen runs, most not a power of two.
		for _, runSize := range []int{1 << 30, 200_000, 90_000, 60_000, 20_000, 1000} {
			t.Run(fmt.Sprintf("%s, runs of %d", keys.name, runSize), func(t *testing.T) {
				got := sortAll(t, t.TempDir(), runSize, pairs)
				if len(got) != len(want) {
					t.Fatalf("%d pairs back, want %d", len(got), len(want))
				}
				for i := range want {
					if !bytes.Equal(got[i].key, want[i].key) || !bytes.Equal(got[i].value, want[i].value) {
						t.Fatalf("pair %d: %q=%q, want %q=%q", i, got[i].key, got[i].value, want[i].key, want[i].value)
					}
				}
			})
		}
	}
}

// randomKey is begin followed by n bytes of a few values, zero and 0xff among them.
func randomKey(rng *rand.Rand, begin []byte, n int) []byte {
	alphabet := []byte{0, 1, 'a', 'b', 0xff}
	k := slices.Clone(begin)
	for range n {
		k = append(k, alphabet[rng.IntN(len(alphabet))])
	}
	return k
}

func TestEmpty(t *testing.T) {
	if got := sortAll(t, t.TempDir(), 100, nil); len(got) != 0 {
		t.Fatalf("%d pairs from nothing", len(got))
	}
}

// Runs are private files in a directory of the sorter's own, so that sorters can share a
// directory; all gone after Close.
func TestRunFiles(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, 64, nil)
	for i := range 100 {
		if err := s.Add(fmt.Appendf(nil, "key-%03d", 99-i), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	r, err := s.Sorted()
	if err != nil {
		t.Fatal(err)
	}
	dirs, _ := os.ReadDir(dir)
	if len(dirs) != 1 {
		t.Fatalf("%d entries in the directory, want the sorter's own", len(dirs))
	}
	if info, err := dirs[0].Info(); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("the runs' directory %s: %v, %v; want mode 0700", dirs[0].Name(), info.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, dirs[0].Name()))
	if len(entries) < 10 {
		t.Fatalf("%d run files for 100 pairs in runs of 64 bytes", len(entries))
	}
	for _, e := range entries {
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("run file %s: %v, %v; want mode 0600", e.Name(), info.Mode(), err)
		}
	}
	n := 0
	for r.Next() {
		if want := fmt.Sprintf("key-%03d", n); string(r.Key()) != want {
			t.Fatalf("pair %d: key %q, want %q", n, r.Key(), want)
		}
		n++
	}
	r.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("%d files left after Close", len(entries))
	}
	if err := s.Add([]byte("k"), nil); err == nil {
		t.Fatal("Add after Sorted was taken")
	}
}

// A run file cut short is an error of the reading, not a shorter result.
func TestTruncatedRun(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, 400, nil)
	defer s.Close()
	for i := range 100 {
		if err := s.Add(fmt.Appendf(nil, "key-%03d", i), []byte("value")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.spill(); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(s.files[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(s.files[0], info.Size()-3); err != nil {
		t.Fatal(err)
	}
	r, err := s.Sorted()
	if err != nil {
		return // found as the run was opened
	}
	defer r.Close()
	for r.Next() {
	}
	if r.Err() == nil {
		t.Fatal("a truncated run read without an error")
	}
}

// Two sorters in one directory, filled and read at once, each read back its own pairs.
func TestSortersShareADirectory(t *testing.T) {
	dir := t.TempDir()
	a, b := New(dir, 256, nil), New(dir, 256, nil)
	defer a.Close()
	defer b.Close()
	for i := range 500 {
		if err := a.Add(fmt.Appendf(nil, "a%04d", 499-i), []byte("from a")); err != nil {
			t.Fatal(err)
		}
		if err := b.Add(fmt.Appendf(nil, "b%04d", 499-i), []byte("from b")); err != nil {
			t.Fatal(err)
		}
	}
	ra, err := a.Sorted()
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	rb, err := b.Sorted()
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	for i := range 500 {
		if !ra.Next() || !rb.Next() {
			t.Fatalf("pair %d: the sorters ended early: %v, %v", i, ra.Err(), rb.Err())
		}
		if string(ra.Key()) != fmt.Sprintf("a%04d", i) || string(ra.Value()) != "from a" ||
			string(rb.Key()) != fmt.Sprintf("b%04d", i) || string(rb.Value()) != "from b" {
			t.Fatalf("pair %d: %q=%q and %q=%q", i, ra.Key(), ra.Value(), rb.Key(), rb.Value())
		}
	}
}

// Sorters that follow one another on one Memory take over each other's buffers, and a sorter
// filled while the one before it is read gets its own: every pair comes back either way.
func TestMemoryIsShared(t *testing.T) {
	for _, runSize := range []int{1 << 20, 300} { // one run in memory; runs spilled to files
		t.Run(fmt.Sprintf("runs of %d", runSize), func(t *testing.T) {
			dir, mem := t.TempDir(), &Memory{}
			a := New(dir, runSize, mem)
			defer a.Close()
			for i := range 200 {
				if err := a.Add(fmt.Appendf(nil, "%03d", 199-i), nil); err != nil {
					t.Fatal(err)
				}
			}
			ra, err := a.Sorted()
			if err != nil {
				t.Fatal(err)
			}
			// Read into memory, a holds one run until its reader closes; spilled, it holds none.
			wantFree := map[int]int{1 << 20: 1, 300: 2}[runSize]
			if len(mem.free) != wantFree {
				t.Fatalf("after Sorted the memory holds %d free runs, want %d", len(mem.free), wantFree)
			}
			// Its sorts are over either way: what they counted with is free for the next sorter.
			if len(mem.scratch) != 1 {
				t.Fatalf("after Sorted the memory holds %d free scratches, want 1", len(mem.scratch))
			}
			b := New(dir, runSize, mem)
			defer b.Close()
			if len(mem.free) != 0 || len(mem.scratch) != 0 {
				t.Fatalf("the next sorter left %d runs and %d scratches free", len(mem.free), len(mem.scratch))
			}
			for i := 0; ra.Next(); i++ {
				if want := fmt.Sprintf("%03d", i); string(ra.Key()) != want {
					t.Fatalf("first sorter, pair %d: %q, want %q", i, ra.Key(), want)
				}
				if err := b.Add([]byte{byte(255 - i)}, ra.Key()); err != nil {
					t.Fatal(err)
				}
			}
			ra.Close()
			rb, err := b.Sorted()
			if err != nil {
				t.Fatal(err)
			}
			defer rb.Close()
			n := 0
			for ; rb.Next(); n++ {
				if want := fmt.Sprintf("%03d", 199-n); string(rb.Value()) != want {
					t.Fatalf("second sorter, pair %d: %q, want %q", n, rb.Value(), want)
				}
			}
			if n != 200 || rb.Err() != nil {
				t.Fatalf("second sorter: %d pairs back, %v; want 200", n, rb.Err())
			}
		})
	}
}

// BenchmarkSortRun sorts a run of 8 MiB of identity keys, as the identity graph's first sort
// holds them: a namespace, a zero byte and an id, with the record's number as the value.
func BenchmarkSortRun(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	r, sc := &run{}, &scratch{}
	var value [4]byte
	for r.size() < 8<<20 {
		var key []byte
		switch rng.IntN(3) {
		case 0:
			key = fmt.Appendf(nil, "CRMID\x00CRM-%08d", rng.IntN(10_000_000))
		case 1:
			key = fmt.Appendf(nil, "ECID\x00%019d%019d", rng.Int64N(1e18), rng.Int64N(1e18))
		default:
			key = fmt.Appendf(nil, "Email\x00%c%c%c%c.%d@mail.example", 'a'+rng.IntN(26), 'a'+rng.IntN(26),
				'a'+rng.IntN(26), 'a'+rng.IntN(26), rng.IntN(1000))
		}
		r.items = append(r.items, item{prefix: keyPrefix(key, 0), off: uint32(len(r.data)), klen: uint32(len(key)), vlen: 4})
		r.data = append(append(r.data, key...), value[:]...)
	}
	added := slices.Clone(r.items)
	b.ResetTimer()
	for range b.N {
		copy(r.items, added)
		r.sort(sc)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(added)), "ns/pair")
}
