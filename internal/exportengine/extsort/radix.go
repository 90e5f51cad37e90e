package extsort

import (
	"bytes"
	"cmp"
	"slices"
)

// A run is sorted by radix, 8 bytes of the key at a time from the first: the items are ordered on
// those 8 bytes (the prefix) by counting, a byte at a time from the last, and each group of items
// whose prefixes are equal is then ordered on the next 8 bytes, while any of its keys has more.
// Counting is stable, so that equal keys stay in the order they went in without comparing where
// they lie. The keys the engine sorts share long beginnings ("ECID", a zero byte, digits; "CRMID",
// a zero byte, "CRM-0000"), on which a comparison sort spends most of its comparisons reading
// the same bytes again.

// smallSort is the size below which a group is sorted by comparing: counting costs a pass over
// 256 counters a byte.
const smallSort = 64

// maxDepth is how many 8-byte steps into the keys counting goes: a group whose keys are still
// equal after 64 bytes is sorted by comparing, so that identical long keys cost no deep recursion.
const maxDepth = 8

// scratch is what a sort counts with: as many items as the run, and a count of each byte value at
// each of the 8 places of a prefix. It is kept for the next sort.
type scratch struct {
	items  []item
	counts [8][256]int
}

// sort orders the run's pairs by key, in byte order, equal keys in the order they went in.
func (r *run) sort(sc *scratch) {
	n := len(r.items)
	if n < 2 {
		return
	}
	if cap(sc.items) < n {
		sc.items = make([]item, n)
	}
	r.sortFrom(sc, r.items, sc.items[:n], 0)
}

// sortFrom sorts items whose keys are equal in their first 8*depth bytes (padded with zeros), and
// which are in the order they went in, by the rest of their keys; spare is as long as items.
func (r *run) sortFrom(sc *scratch, items, spare []item, depth int) {
	at := 8 * depth
	if len(items) < smallSort || depth >= maxDepth {
		slices.SortFunc(items, func(a, b item) int { return r.compareFrom(&a, &b, at) })
		return
	}
	if depth > 0 { // at depth 0, Add set each prefix
		for i := range items {
			items[i].prefix = keyPrefix(r.key(&items[i]), at)
		}
	}
	byPrefix(&sc.counts, items, spare)
	next := uint32(at + 8)
	for i := 0; i < len(items); {
		j, longer := i+1, items[i].klen > next
		for ; j < len(items) && items[j].prefix == items[i].prefix; j++ {
			longer = longer || items[j].klen > next
		}
		switch {
		case j-i < 2:
		case longer:
			r.sortFrom(sc, items[i:j], spare[i:j], depth+1)
		default:
			// Every key of the group ends within these 8 bytes, where they are equal but for the
			// padding: a shorter key is a prefix of a longer one, and comes first.
			slices.SortStableFunc(items[i:j], func(a, b item) int { return cmp.Compare(a.klen, b.klen) })
		}
		i = j
	}
}

// byPrefix orders items by prefix, stably: a pass a byte, from the lowest, skipping a byte that all
// the prefixes share. spare is as long as items.
func byPrefix(c *[8][256]int, items, spare []item) {
	*c = [8][256]int{}
	for i := range items {
		p := items[i].prefix
		c[0][byte(p)]++
		c[1][byte(p>>8)]++
		c[2][byte(p>>16)]++
		c[3][byte(p>>24)]++
		c[4][byte(p>>32)]++
		c[5][byte(p>>40)]++
		c[6][byte(p>>48)]++
		c[7][byte(p>>56)]++
	}
	src, dst := items, spare
	for b := range c {
		shift := 8 * uint(b)
		counts := &c[b]
		if counts[byte(src[0].prefix>>shift)] == len(src) {
			continue
		}
		start := 0
		for v, n := range counts {
			counts[v] = start
			start += n
		}
		for i := range src {
			v := byte(src[i].prefix >> shift)
			dst[counts[v]] = src[i]
			counts[v]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
}

// compareFrom orders two items whose keys are equal in their first from bytes (padded with
// zeros): by the rest of their keys, then the shorter first, then the one that went in first.
func (r *run) compareFrom(a, b *item, from int) int {
	if c := bytes.Compare(tail(r.key(a), from), tail(r.key(b), from)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.klen, b.klen); c != 0 {
		return c
	}
	return cmp.Compare(a.off, b.off)
}

// tail is k from its byte from on: empty when k is no longer.
func tail(k []byte, from int) []byte {
	if from >= len(k) {
		return nil
	}
	return k[from:]
}
