package segment

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// A run's order is comparePending's: by primary namespace, then id, then sequence, whatever order
// the records came in, for ids that differ within their first 16 bytes, after them, or only in
// trailing zero bytes, and for runs of one namespace or several.
func TestRunOrderIsComparePendings(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	stems := []string{"", "a", "CRM-0000000", "CRM-00000001234", "0123456789abcde", "0123456789abcdef",
		"04367542563197634482941093680474338188", "é"}
	tails := []string{"", "\x00", "\x00\x00", "0", "1", "\xff", "0\x00", "01234567", "ab\x00c"}
	randomID := func() string {
		id := stems[rng.IntN(len(stems))] + tails[rng.IntN(len(tails))]
		if rng.IntN(3) == 0 {
			id += fmt.Sprint(rng.IntN(1000))
		}
		return id
	}
	for _, namespaces := range [][]string{{"ECID"}, {"ECID", "Email", "E", "", "CRMID"}} {
		for _, n := range []int{1, 2, 50, 3000} {
			t.Run(fmt.Sprintf("%d records, %d namespaces", n, len(namespaces)), func(t *testing.T) {
				var pending []pendingRecord
				for _, seq := range rng.Perm(n) {
					id := randomID()
					pending = append(pending, pendingRecord{
						primary: record.Identity{NS: namespaces[rng.IntN(len(namespaces))], ID: id},
						idKey:   IDKey(id), seq: uint64(seq),
					})
				}
				want := slices.Clone(pending)
				slices.SortFunc(want, comparePending)
				var sc orderScratch
				for round := range 2 { // the scratch is kept from run to run
					got := sc.order(pending)
					if len(got) != n {
						t.Fatalf("round %d: %d records ordered, want %d", round, len(got), n)
					}
					for i, k := range got {
						if p := pending[k.idx]; p.primary != want[i].primary || p.seq != want[i].seq {
							t.Fatalf("round %d, record %d: %q seq %d, want %q seq %d",
								round, i, p.primary, p.seq, want[i].primary, want[i].seq)
						}
					}
				}
			})
		}
	}
}

// A run's events come out of sortEvents in compareEvents' order: runs small enough to be sorted
// as they are and runs counted into buckets, with hashes spread, hashes that share their first
// two bytes (one bucket), hashes met more than once (an _id written again), which then go by
// sequence, and one _id written every time.
func TestSortEventsIsCompareEvents(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, eventBuckets/16 - 1, eventBuckets / 16, 3 * eventBuckets} {
		for _, shape := range []string{"spread", "one bucket", "repeated", "one _id"} {
			t.Run(fmt.Sprintf("%d events, %s", n, shape), func(t *testing.T) {
				events := make([]eventEntry, n)
				for i := range events {
					e := &events[i]
					switch {
					case shape == "repeated" && i > 0 && rng.IntN(3) == 0:
						e.hash = events[rng.IntN(i)].hash
					case shape == "one _id":
						e.hash = EventHash{1, 2, 3}
					default:
						for j := range e.hash {
							e.hash[j] = byte(rng.Uint32())
						}
						if shape == "one bucket" {
							e.hash[0], e.hash[1] = 0xab, 0xcd
						}
					}
					e.seq = rng.Uint64N(1 << 40)
					e.idx = uint32(i)
				}
				want := slices.Clone(events)
				slices.SortFunc(want, compareEvents)
				given := slices.Clone(events)
				var sc orderScratch
				got := sc.sortEvents(events)
				if !slices.Equal(got, want) {
					t.Fatalf("sortEvents of %d events is not compareEvents' order", n)
				}
				if !slices.Equal(events, given) {
					t.Fatalf("sortEvents of %d events changed the events it was given", n)
				}
			})
		}
	}
}

// BenchmarkSortEvents orders a run's events, 120,000 of them (a run of 64 MiB of events of about
// 550 bytes each).
func BenchmarkSortEvents(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	src := make([]eventEntry, 120_000)
	for i := range src {
		for j := range src[i].hash {
			src[i].hash[j] = byte(rng.Uint32())
		}
		src[i].seq, src[i].idx = uint64(i), uint32(i)
	}
	events := make([]eventEntry, len(src))
	var sc orderScratch
	b.Run("buckets", func(b *testing.B) {
		for b.Loop() {
			copy(events, src)
			sc.sortEvents(events)
		}
	})
	b.Run("compareEvents", func(b *testing.B) {
		for b.Loop() {
			copy(events, src)
			slices.SortFunc(events, compareEvents)
		}
	})
}

// compareEvents orders hashes as their bytes do (the event index is searched that way), then
// sequences: for hashes that differ in their first eight bytes, only in their last eight, or not
// at all.
func TestCompareEventsIsByteOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for range 10000 {
		var a, b eventEntry
		for j := range a.hash {
			a.hash[j] = byte(rng.IntN(3)) // few values: many hashes share a prefix, or are equal
			b.hash[j] = byte(rng.IntN(3)) + byte(rng.IntN(2))*0xfe
		}
		switch rng.IntN(4) {
		case 0:
			copy(b.hash[:8], a.hash[:8])
		case 1:
			b.hash = a.hash // then the sequences order them
		}
		a.seq, b.seq = rng.Uint64N(3), rng.Uint64N(3)
		want := bytes.Compare(a.hash[:], b.hash[:])
		if want == 0 {
			want = cmp.Compare(a.seq, b.seq)
		}
		if got := compareEvents(a, b); got != want {
			t.Fatalf("compareEvents(%x/%d, %x/%d) = %d, want %d", a.hash, a.seq, b.hash, b.seq, got, want)
		}
	}
}
