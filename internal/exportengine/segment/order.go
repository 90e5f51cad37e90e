package segment

import (
	"slices"
	"strings"
)

// A run is written in primary identity order. Its records are ordered by radix on a key of their
// own: the rank of the primary namespace among the run's, then the first 16 bytes of the primary
// id (idKey), counted a byte at a time from the last, stably; records whose keys are equal are
// then ordered by comparePending, which reads the rest of the ids and the sequences. A run holds
// one namespace or a few, and ids that differ early, so most of the counting passes are skipped
// (every record has the same byte) and few records share a key. Ordering 24-byte keys and
// writing through them moves a tenth of what sorting the pending records themselves did.

// runKey is a record's key in its run's order, with its index in the run.
type runKey struct {
	id   [2]uint64
	rank uint32
	idx  uint32
}

// orderScratch is what ordering a run takes: two key buffers, each byte's counts at each of the
// key's places, and the run's namespaces.
type orderScratch struct {
	keys, spare []runKey
	counts      [keyBytes][256]int
	names       []string
	ranks       []uint32
	eventCounts *[eventBuckets]int32 // for sortEvents, made when first wanted
}

// keyBytes is how many bytes of a runKey order it: the rank's lowest 4, then 16 of the id.
const keyBytes = 20

// order returns the indexes of the pending records in the order they are written. The slice is
// the scratch's, until the next call.
func (sc *orderScratch) order(pending []pendingRecord) []runKey {
	n := len(pending)
	if n == 0 {
		return nil
	}
	sc.keys = slices.Grow(sc.keys[:0], n)[:n]
	sc.spare = slices.Grow(sc.spare[:0], n)[:n]
	keys := sc.keys
	sc.rankNamespaces(pending)
	for i := range pending {
		keys[i] = runKey{id: pending[i].idKey, rank: sc.ranks[keys[i].rank], idx: uint32(i)}
	}
	keys = sc.byKey(keys, sc.spare)
	compare := func(a, b runKey) int { return comparePending(pending[a.idx], pending[b.idx]) }
	for i := 0; i < n; {
		j := i + 1
		for j < n && keys[j].id == keys[i].id && keys[j].rank == keys[i].rank {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(keys[i:j], compare)
		}
		i = j
	}
	return keys
}

// rankNamespaces gives each distinct primary namespace of the run its rank in byte order, and
// leaves in sc.keys[i].rank the index, in sc.ranks, of record i's rank.
func (sc *orderScratch) rankNamespaces(pending []pendingRecord) {
	clear(sc.names)
	sc.names = sc.names[:0]
	last := -1
	for i := range pending {
		ns := pending[i].primary.NS
		if last < 0 || sc.names[last] != ns {
			if last = slices.Index(sc.names, ns); last < 0 {
				sc.names = append(sc.names, ns)
				last = len(sc.names) - 1
			}
		}
		sc.keys[i].rank = uint32(last)
	}
	sorted := slices.Clone(sc.names)
	slices.SortFunc(sorted, strings.Compare)
	sc.ranks = sc.ranks[:0]
	for _, ns := range sc.names {
		r, _ := slices.BinarySearch(sorted, ns)
		sc.ranks = append(sc.ranks, uint32(r))
	}
}

// byKey orders keys by rank, then id, stably, and returns them (in keys or in spare): a pass a
// byte, from the lowest, skipping a byte that every key has the same.
func (sc *orderScratch) byKey(keys, spare []runKey) []runKey {
	c := &sc.counts
	*c = [keyBytes][256]int{}
	for i := range keys {
		k := &keys[i]
		for b := range 8 {
			c[b][byte(k.id[1]>>(8*b))]++
			c[8+b][byte(k.id[0]>>(8*b))]++
		}
		for b := range 4 {
			c[16+b][byte(k.rank>>(8*b))]++
		}
	}
	src, dst := keys, spare
	for place := range c {
		counts := &c[place]
		if counts[keyByte(&src[0], place)] == len(src) {
			continue
		}
		start := 0
		for v, n := range counts {
			counts[v] = start
			start += n
		}
		for i := range src {
			v := keyByte(&src[i], place)
			dst[counts[v]] = src[i]
			counts[v]++
		}
		src, dst = dst, src
	}
	return src
}

// keyByte is byte place of k's key, counting from the lowest: the id's second half, its first,
// then the rank.
func keyByte(k *runKey, place int) byte {
	switch {
	case place < 8:
		return byte(k.id[1] >> (8 * place))
	case place < 16:
		return byte(k.id[0] >> (8 * (place - 8)))
	default:
		return byte(k.rank >> (8 * (place - 16)))
	}
}

// eventBuckets is how many buckets sortEvents counts events into: by the first two bytes of
// their hashes.
const eventBuckets = 1 << 16

// sortEvents returns a run's events ordered by hash, then sequence (compareEvents), in a slice
// of their own, leaving events as they are (the caller's scratch, for the next run). Hashes are
// uniform, so counting them into buckets by their first two bytes leaves a few in each (about two
// in a run of 64 MiB of events), which are then sorted in place: a sixth of the time a comparison
// sort of the whole run takes (BenchmarkSortEvents). A run with few events is copied, then sorted.
func (sc *orderScratch) sortEvents(events []eventEntry) []eventEntry {
	if len(events) < eventBuckets/16 {
		sorted := slices.Clone(events)
		slices.SortFunc(sorted, compareEvents)
		return sorted
	}
	if sc.eventCounts == nil {
		sc.eventCounts = new([eventBuckets]int32)
	}
	c := sc.eventCounts
	*c = [eventBuckets]int32{}
	for i := range events {
		c[eventBucket(&events[i])]++
	}
	var start int32
	for v, n := range c {
		c[v] = start
		start += n
	}
	sorted := make([]eventEntry, len(events))
	for i := range events {
		b := eventBucket(&events[i])
		sorted[c[b]] = events[i]
		c[b]++
	}
	// Each bucket now ends where the next starts: sort each, by insertion if it holds a few. One
	// _id sent many times in a batch fills one bucket, as could _ids chosen for it: those go to
	// the comparison sort.
	from := 0
	for _, end := range c {
		bucket := sorted[from:end]
		if len(bucket) > 12 {
			slices.SortFunc(bucket, compareEvents)
		} else {
			for i := 1; i < len(bucket); i++ {
				for j := i; j > 0 && compareEvents(bucket[j-1], bucket[j]) > 0; j-- {
					bucket[j-1], bucket[j] = bucket[j], bucket[j-1]
				}
			}
		}
		from = int(end)
	}
	return sorted
}

func eventBucket(e *eventEntry) uint16 { return uint16(e.hash[0])<<8 | uint16(e.hash[1]) }
