package fields

import (
	"runtime"
	"strconv"
	"strings"
)

// hostileShapes are field lists built to cost a parser the most for their length: deep nesting
// and long paths (which a parser that copies prefixes pays for quadratically), many distinct
// names, a long prefix shared by many paths, one endless name, and so on. Each makes a list of
// about n characters.
var hostileShapes = []struct {
	name string
	make func(n int) string
}{
	{"nested", func(n int) string { return strings.Repeat("a(", n/2) }},
	{"nested-closed", func(n int) string { return strings.Repeat("a(", n/3) + "b" + strings.Repeat(")", n/3) }},
	{"dotted", func(n int) string { return strings.Repeat("a.", n/2) + "a" }},
	{"wide", func(n int) string { return distinctNames("a", n) }},
	{"repeated", func(n int) string { return strings.Repeat("a,", n/2) + "a" }},
	{"fanout", func(n int) string {
		prefix := strings.Repeat("p.", min(n/4, MaxDepth-2)) + "p("
		return prefix + distinctNames("b", n-len(prefix)-1) + ")"
	}},
	{"forest", func(n int) string {
		var b strings.Builder
		chain := strings.Repeat("a(", MaxDepth-2) + "a" + strings.Repeat(")", MaxDepth-2)
		for i := 0; b.Len()+len(chain)+12 < n; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("x" + strconv.Itoa(i) + "(" + chain + ")")
		}
		return b.String()
	}},
	{"one-name", func(n int) string { return strings.Repeat("a", n) }},
	{"spaces", func(n int) string { return strings.Repeat(" ", n-1) + "a" }},
	{"multibyte", func(n int) string { return strings.Repeat("é", n) }},
	{"late-error", func(n int) string { return distinctNames("a", n-2) + ",," }},
}

// distinctNames is prefix0,prefix1,... up to about n characters.
func distinctNames(prefix string, n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n-len(prefix)-8; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(prefix + strconv.Itoa(i))
	}
	return b.String()
}

// allocBudget is what parsing may allocate: a little for the error and the root, then a
// constant per byte of the list. A parser that copies a path's prefix for each path below it
// overruns it within a few dozen characters of nesting.
func allocBudget(listLen int) uint64 { return 2<<10 + 96*uint64(listLen) }

// allocated is how many bytes f allocates on the heap. Another goroutine's allocations can only
// add to what one run sees, so a run over budget is tried again, and the least of the runs counts.
func allocated(budget uint64, f func()) uint64 {
	least := ^uint64(0)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if least = min(least, after.TotalAlloc-before.TotalAlloc); least <= budget {
			break
		}
	}
	return least
}
