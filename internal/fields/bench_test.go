package fields

import (
	"strconv"
	"testing"
)

// BenchmarkParse measures what a list costs to parse: hostile lists of 1 MiB (refused by their
// length), the same shapes at the length limit (parsed, or refused by their depth), and 1 MiB
// with the limits lifted, which is the parser's own cost: sixteen times the bytes of the
// at-limit runs allocate sixteen times as much, and take a little more than sixteen times as
// long, for a tree that no longer fits in the caches.
func BenchmarkParse(b *testing.B) {
	run := func(b *testing.B, s string, maxLength, maxDepth int) {
		b.SetBytes(int64(len(s)))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = parse(s, maxLength, maxDepth)
		}
	}
	for _, shape := range hostileShapes {
		b.Run("hostile-1MiB/"+shape.name, func(b *testing.B) { run(b, shape.make(1<<20), MaxLength, MaxDepth) })
	}
	for _, shape := range hostileShapes {
		b.Run("limit-"+strconv.Itoa(MaxLength)+"/"+shape.name, func(b *testing.B) { run(b, shape.make(MaxLength), MaxLength, MaxDepth) })
	}
	for _, shape := range hostileShapes {
		b.Run("unlimited-1MiB/"+shape.name, func(b *testing.B) { run(b, shape.make(1<<20), 2<<20, 2<<20) })
	}
}
