package segment

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

func TestCombineChecksums(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 7, 64, 1000, 70_000} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		want := Checksum(b)
		for cut := 0; cut <= size; cut += 1 + size/50 {
			if got := combineChecksums(Checksum(b[:cut]), Checksum(b[cut:]), uint64(size-cut)); got != want {
				t.Fatalf("%d bytes cut at %d: combined %#x, want %#x", size, cut, got, want)
			}
		}
		if got := ChecksumUpdate(Checksum(b[:size/2]), b[size/2:]); got != want {
			t.Errorf("%d bytes continued at %d: %#x, want %#x", size, size/2, got, want)
		}
	}
}

// TestCombineByTable compares the combination by table with zlib's, a multiplication bit by bit
// for each power x^(2^k) that n has, on random checksums and lengths of every size below 2^60.
func TestCombineByTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20_000 {
		a, b := rng.Uint32(), rng.Uint32()
		n := rng.Uint64() >> (4 + i%60) // lengths below 2^60, as x2n has them
		p := uint32(1) << 31            // x^0
		for k, m := 3, n; m != 0; m, k = m>>1, k+1 {
			if m&1 != 0 {
				p = multModP(x2n[k], p)
			}
		}
		want := a // b is the checksum of no bytes
		if n != 0 {
			want = multModP(p, a) ^ b
		}
		if got := combineChecksums(a, b, n); got != want {
			t.Fatalf("%#x and %#x over %d bytes: %#x by table, %#x bit by bit", a, b, n, got, want)
		}
	}
}

func BenchmarkCombineChecksums(b *testing.B) {
	for i := range b.N {
		combineChecksums(uint32(i), 7, 30_000+uint64(i&1023))
	}
}

// checkRunsInPieces walks each run's metadata and checks its bodies a record at a time, with the
// bytes between live records (tombstoned ones) as pieces of their own, as an export reads them.
func checkRunsInPieces(s *Segment) error {
	for run := range s.Runs() {
		c := s.CheckBodies(run)
		_, end := s.RunBodies(run)
		it := s.RunMeta(run)
		add := func(to uint64) error {
			piece := make([]byte, to-c.Next())
			if err := s.ReadAt(piece, c.Next()); err != nil {
				return err
			}
			return c.Add(uint64(len(piece)), Checksum(piece))
		}
		for it.Next() {
			r := it.Record()
			if r.BodyOff > c.Next() {
				if err := add(r.BodyOff); err != nil {
					return err
				}
			}
			if err := add(r.BodyOff + uint64(r.BodyLen)); err != nil {
				return err
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		if err := add(end); err != nil {
			return err
		}
		if !c.Done() {
			return errors.New("the check did not reach the end of the run")
		}
	}
	return nil
}

// A body region read in pieces is checked as a whole: any byte of it damaged is ErrCorrupt, which
// the metadata pass alone cannot see.
func TestBodiesCheckedInPieces(t *testing.T) {
	whole := fixtureBytes(t, t.TempDir())
	open := func(data []byte) *Segment {
		s, err := readTables(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(whole)
	if err := checkRunsInPieces(s); err != nil {
		t.Fatalf("the undamaged segment: %v", err)
	}
	for run := range s.Runs() {
		if err := s.CheckRunBodies(run); err != nil {
			t.Fatalf("run %d read whole: %v", run, err)
		}
	}
	damaged := make([]byte, len(whole))
	for run := range s.Runs() {
		start, end := s.RunBodies(run)
		for i := start; i < end; i++ {
			copy(damaged, whole)
			damaged[i] ^= 0x20
			d := open(damaged)
			if err := checkRunsInPieces(d); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d of run %d's bodies damaged, read in pieces: %v, want ErrCorrupt", i, run, err)
			}
			if err := d.CheckRunBodies(run); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d of run %d's bodies damaged, read whole: %v, want ErrCorrupt", i, run, err)
			}
			it := d.RunMeta(run)
			for it.Next() {
			}
			if it.Err() != nil {
				t.Fatalf("the metadata pass over run %d fails on a damaged body: %v", run, it.Err())
			}
		}
	}
	// A piece cannot go past its run's bodies.
	start, end := s.RunBodies(0)
	if err := s.CheckBodies(0).Add(end-start+1, 0); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a piece past the run's bodies: %v, want ErrCorrupt", err)
	}
}

// Segments without checksums are read in pieces as they are.
func TestVersion2BodiesInPieces(t *testing.T) {
	v3, err := os.ReadFile(writeFixtureVersion(t, t.TempDir(), magicV3))
	if err != nil {
		t.Fatal(err)
	}
	v2 := toV2(t, v3)
	s, err := readTables(bytes.NewReader(v2), int64(len(v2)))
	if err != nil {
		t.Fatal(err)
	}
	if err := checkRunsInPieces(s); err != nil {
		t.Fatal(err)
	}
}

// Metadata larger than the block the iterator reads it in is read whole, between others.
func TestLargeMetadata(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for i := range 5 {
		n := 1 + i*i*700 // up to 11,201 identities: about 200 KB of metadata
		ids := make([]record.Identity, n)
		for j := range ids {
			ids[j] = record.Identity{NS: "Email", ID: fmt.Sprintf("p%d-%05d@example.com", i, j)}
		}
		if err := w.Add(&record.Record{Kind: record.Fragment, Seq: uint64(i), Identities: ids, Body: fmt.Appendf(nil, `{"i":%d}`, i)}); err != nil {
			t.Fatal(err)
		}
		want = append(want, n)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []int
	for run := range s.Runs() {
		it := s.RunMeta(run)
		for it.Next() {
			got = append(got, len(it.Record().IDs))
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("identities a record: %v, want %v", got, want)
	}
}
