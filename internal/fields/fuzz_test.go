package fields

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// FuzzParse checks that any list parses, or fails with a position inside it, within a memory
// budget proportional to its length; and that the normal form parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a", "a.b,c", "a(b,c.d)", "a..b", "a(b).c", " a , b ", "a(b(c,d),e)", "(", ")", "é.ü",
		"a(a(a(a(a(a(a(a(a(a(a(a(", "a.a.a.a.a.a.a.a.a(b,c,d,e,f,g,h,i,j,k)", "a,b,c,d,e,f,g,h,i,j,k,a.b", "x\xffy.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sel *Selector
		var err error
		if got, budget := allocated(allocBudget(len(s)), func() { sel, err = Parse(s) }), allocBudget(len(s)); got > budget {
			t.Fatalf("Parse(%q) allocated %d bytes, more than %d for %d bytes", s, got, budget, len(s))
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 1 || se.Pos > utf8.RuneCountInString(s)+1 {
				t.Fatalf("Parse(%q): %v is not a syntax error with a position inside the input", s, err)
			}
			return
		}
		// The normal form parses back to itself.
		again, err := Parse(sel.String())
		if err != nil || again.String() != sel.String() {
			t.Fatalf("Parse(%q).String() = %q does not parse back: %v", s, sel.String(), err)
		}
	})
}

// FuzzProjection checks that projecting is stable: a projection projected again is unchanged,
// and its output is valid JSON, no larger than the document could make it, and built without
// allocating more than a few times its size.
func FuzzProjection(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":[{"d":2},{"e":3}]},"f":null}`, "a.c.d,f")
	f.Add(`{"identities":[{"id":"x","namespace":{"code":"Email"}}],"personalEmail":{"address":"x"}}`, "identities.id,personalEmail.address")
	f.Add(`{"a":[[1,{"b":2}],{"b":[3]}]}`, "a.b")
	f.Add(`{"k\"ey":{"\u00e9":1}}`, `k"ey`)
	f.Add(`{"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10}`, "j,i,h,g,f,e,d,c,b,a")
	f.Fuzz(func(t *testing.T, doc, list string) {
		v, err := fastjson.Parse(doc)
		if err != nil || fastjson.Validate(doc) != nil {
			return
		}
		sel, err := Parse(list)
		if err != nil {
			return
		}
		var once []byte
		// An output byte is an input byte, or three for a key byte of invalid UTF-8 (U+FFFD).
		limit := 3*len(doc) + 2
		budget := uint64(1<<10 + 4*limit)
		if got := allocated(budget, func() { once = sel.AppendRow(nil, v) }); got > budget {
			t.Fatalf("projection of %d bytes by %q allocated %d bytes, more than %d", len(doc), list, got, budget)
		}
		if len(once) > limit {
			t.Fatalf("projection of %s by %q is %d bytes, more than %d", doc, list, len(once), limit)
		}
		w, err := fastjson.ParseBytes(once)
		if err != nil {
			t.Fatalf("projection of %s by %q is not JSON: %s (%v)", doc, list, once, err)
		}
		twice := sel.AppendRow(nil, w)
		if !bytes.Equal(once, twice) {
			t.Fatalf("projection is not stable for %s by %q:\n once %s\ntwice %s", doc, list, once, twice)
		}
	})
}
