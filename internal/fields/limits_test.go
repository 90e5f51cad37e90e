package fields

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseLimits(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("a.", n-1) + "a" }
	nested := func(n int) string { return strings.Repeat("a(", n-1) + "a" + strings.Repeat(")", n-1) }
	tooLong := fmt.Sprintf("position %d: the list is longer than %d characters, the most it may have; "+
		"select a parent path whole (a rather than a.b,a.c,...) or fewer paths", MaxLength+1, MaxLength)
	tooDeep := func(pos int) string {
		return fmt.Sprintf("position %d: the path is more than %d names deep, the most a path may be (a(b.c) counts as a.b.c); "+
			"select a parent path whole instead", pos, MaxDepth)
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"at the length limit", strings.Repeat("a", MaxLength), ""},
		{"at the length limit in characters, not bytes", strings.Repeat("é", MaxLength), ""},
		{"at the length limit with spaces", strings.Repeat(" ", MaxLength-1) + "a", ""},
		{"over the length limit", strings.Repeat("a", MaxLength+1), tooLong},
		{"over the length limit in characters", strings.Repeat("é", MaxLength+1), tooLong},
		{"over the length limit however malformed", strings.Repeat(",", MaxLength+1), tooLong},
		{"at the depth limit", deep(MaxDepth), ""},
		{"at the depth limit, nested", nested(MaxDepth), ""},
		{"at the depth limit, mixed", "x.y(" + deep(MaxDepth-2) + ")", ""},
		{"over the depth limit", deep(MaxDepth + 1), tooDeep(2*MaxDepth + 1)},
		{"over the depth limit, nested", nested(MaxDepth + 1), tooDeep(2*MaxDepth + 1)},
		{"over the depth limit, unclosed", strings.Repeat("a(", 24000), tooDeep(2*MaxDepth + 1)},
		{"over the depth limit, mixed", "x.y(" + deep(MaxDepth-1) + ")", tooDeep(4 + 2*(MaxDepth-2) + 1)},
		{"over the depth limit after a long name", "b(" + deep(MaxDepth-1) + ".long)", tooDeep(3 + 2*(MaxDepth-1))},
		{"over the depth limit below a path selected whole", "a,a(" + deep(MaxDepth) + ")", tooDeep(5 + 2*(MaxDepth-1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			var se *SyntaxError
			if !errors.As(err, &se) || err.Error() != tc.want {
				t.Fatalf("Parse:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestParseMemory holds the parser to its memory bounds, which are deterministic enough to
// assert (its speed is measured by BenchmarkParse). A hostile list of 1 MiB costs next to
// nothing, because it is refused by its length before it is parsed; every shape of list within
// the limits costs a constant per byte; and so does every shape of any length with the limits
// lifted, which is the parser's own cost growing linearly.
func TestParseMemory(t *testing.T) {
	for _, shape := range hostileShapes {
		t.Run(shape.name, func(t *testing.T) {
			s := shape.make(1 << 20)
			var err error
			if got := allocated(10<<20, func() { _, err = Parse(s) }); got > 10<<20 {
				t.Errorf("a 1 MiB list allocated %d bytes, more than 10 MiB", got)
			}
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos != MaxLength+1 {
				t.Errorf("a 1 MiB list: %v, want refused by its length", err)
			}

			s = shape.make(MaxLength)
			if got, budget := allocated(allocBudget(len(s)), func() { _, _ = Parse(s) }), allocBudget(len(s)); got > budget {
				t.Errorf("a list of %d bytes allocated %d bytes, more than %d", len(s), got, budget)
			}

			for _, n := range []int{1 << 10, 1 << 14, 1 << 18} {
				s := shape.make(n)
				if got, budget := allocated(allocBudget(len(s)), func() { _, _ = parse(s, n, n) }), allocBudget(len(s)); got > budget {
					t.Errorf("without limits, a list of %d bytes allocated %d bytes, more than %d", len(s), got, budget)
				}
			}
		})
	}
}
