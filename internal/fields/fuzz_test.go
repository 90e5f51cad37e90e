package fields

import (
	"bytes"
	"errors"
	"testing"

	"github.com/valyala/fastjson"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a", "a.b,c", "a(b,c.d)", "a..b", "a(b).c", " a , b ", "a(b(c,d),e)", "(", ")", "é.ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Pos < 1 || se.Pos > len([]rune(s))+1 {
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
// and its output is valid JSON.
func FuzzProjection(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":[{"d":2},{"e":3}]},"f":null}`, "a.c.d,f")
	f.Add(`{"identities":[{"id":"x","namespace":{"code":"Email"}}],"personalEmail":{"address":"x"}}`, "identities.id,personalEmail.address")
	f.Add(`{"a":[[1,{"b":2}],{"b":[3]}]}`, "a.b")
	f.Add(`{"k\"ey":{"\u00e9":1}}`, `k"ey`)
	f.Fuzz(func(t *testing.T, doc, list string) {
		v, err := fastjson.Parse(doc)
		if err != nil || fastjson.Validate(doc) != nil {
			return
		}
		sel, err := Parse(list)
		if err != nil {
			return
		}
		once := sel.AppendRow(nil, v)
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
