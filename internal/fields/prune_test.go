package fields

import (
	"bytes"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func TestAppendPruned(t *testing.T) {
	for _, c := range []struct{ doc, list, want string }{
		{`{"a":1,"b":{"c":2,"d":[3,{"c":4}]},"e":"x"}`, "b.c", `{"b":{"c":2}}`},
		{`{"a":1,"b":{"c":2,"d":[3,{"c":4}]},"e":"x"}`, "b.d.c", `{"b":{"d":[3,{"c":4}]}}`},
		{`{"a":1,"b":{"c":2},"e":"x"}`, "e,a", `{"a":1,"e":"x"}`},
		{` { "a" : { "x" : 1 } , "a" : null , "b" : "}" } `, "a.x", `{"a":{"x":1},"a":null}`},
		{`{"s":"q\"uo}te","t":[{"u":"]"}],"v":true}`, "v", `{"v":true}`},
		{`{"k\u0065y":{"z":1},"key":{"z":2,"y":3}}`, "key.z", `{"k\u0065y":{"z":1},"key":{"z":2}}`},
		{`{"a":{"b":"x"}}`, "a.b.c", `{"a":{"b":"x"}}`},
		{`{"a":{}}`, "b", `{}`},
		{`{}`, "a", `{}`},
	} {
		sel, err := Parse(c.list)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sel.AppendPruned([]byte("prefix"), []byte(c.doc))
		if !ok || string(got) != "prefix"+c.want {
			t.Errorf("%s pruned by %q = %s, %v; want %s", c.doc, c.list, got, ok, c.want)
		}
	}
	sel, _ := Parse("a")
	for _, bad := range []string{``, `[]`, `"a"`, `{"a":1`, `{"a" 1}`, `{"a":1,}x`, `{"a":1} {}`, `{"a":"unterminated}`, `{"b":[1,2}`, `{a:1}`} {
		if got, ok := sel.AppendPruned([]byte("prefix"), []byte(bad)); ok || string(got) != "prefix" {
			t.Errorf("%q pruned = %q, %v; want it refused and nothing appended", bad, got, ok)
		}
	}
	if got, ok := (*Selector)(nil).AppendPruned(nil, []byte(`{"a":1}`)); !ok || string(got) != `{"a":1}` {
		t.Errorf("nil selector pruned = %s, %v; want the object whole", got, ok)
	}
}

func TestWithAndWholeBelow(t *testing.T) {
	sel, err := Parse("a.b.c,d(e,f.g)")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  *Selector
		want string
	}{
		{sel.With("x"), "a.b.c,d.e,d.f.g,x"},
		{sel.With("a"), "a,d.e,d.f.g"},
		{sel.WholeBelow("a", 1), "a.b,d.e,d.f.g"},
		{sel.WholeBelow("d", 1), "a.b.c,d.e,d.f"},
		{sel.WholeBelow("d", 0), "a.b.c,d"},
		{sel.WholeBelow("x", 1), "a.b.c,d.e,d.f.g"},
	} {
		if c.got.String() != c.want {
			t.Errorf("got %q, want %q", c.got.String(), c.want)
		}
	}
	if sel.String() != "a.b.c,d.e,d.f.g" {
		t.Errorf("the selector changed: %q", sel.String())
	}
	if (*Selector)(nil).With("a") != nil || (*Selector)(nil).WholeBelow("a", 1) != nil {
		t.Error("a nil selector selects everything, and stays nil")
	}
}

// FuzzPrune checks that pruning a document before it is parsed changes nothing a projection
// sees, and that pruning refuses only what is not a JSON object.
func FuzzPrune(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":[{"d":2},{"e":3}]},"f":null}`, "a.c.d,f")
	f.Add(`{"a":1,"a":{"b":2},"k\"ey":{"\u00e9":1}}`, `a.b,k"ey`)
	f.Add(` {"x" : "\\\"}" , "y":[ "]" ] } `, "y")
	f.Add(`{"a":-1.5e3,"b":[[1,{"b":2}],{"b":[3]}]}`, "b.b,a")
	f.Fuzz(func(t *testing.T, doc, list string) {
		sel, err := Parse(list)
		if err != nil {
			return
		}
		pruned, ok := sel.AppendPruned(nil, []byte(doc))
		v, err := fastjson.Parse(doc)
		isObject := err == nil && fastjson.Validate(doc) == nil && v.Type() == fastjson.TypeObject
		if !isObject {
			return // pruning may or may not see what is wrong: the parser that follows does
		}
		if !ok {
			t.Fatalf("%s pruned by %q was refused", doc, list)
		}
		p, err := fastjson.ParseBytes(pruned)
		if err != nil {
			t.Fatalf("%s pruned by %q is not JSON: %s (%v)", doc, list, pruned, err)
		}
		want := sel.AppendRow(nil, v)
		if got := sel.AppendRow(nil, p); !bytes.Equal(got, want) {
			t.Fatalf("%s pruned by %q to %s projects to %s, not %s", doc, list, pruned, got, want)
		}
		// Pruned until the selected names the document has are met (or more than it has), it
		// projects the same.
		names, known := topNames(v)
		if !known {
			return
		}
		for _, among := range [][]string{names, withNames(names, sel)} {
			stop := sel.CountAmong(among)
			until, ok := sel.AppendPrunedUntil(nil, []byte(doc), stop)
			if !ok {
				t.Fatalf("%s pruned by %q until %d was refused", doc, list, stop)
			}
			u, err := fastjson.ParseBytes(until)
			if err != nil {
				t.Fatalf("%s pruned by %q until %d is not JSON: %s (%v)", doc, list, stop, until, err)
			}
			if got := sel.AppendRow(nil, u); !bytes.Equal(got, want) {
				t.Fatalf("%s pruned by %q until %d to %s projects to %s, not %s", doc, list, stop, until, got, want)
			}
		}
	})
}

func TestPrunedUntil(t *testing.T) {
	sel, err := Parse("identityMap,personalEmail.address,person.name,loyalty.points")
	if err != nil {
		t.Fatal(err)
	}
	names, _ := topNames(fastjson.MustParse(crmRecord))
	stop := sel.CountAmong(names)
	if stop != 3 {
		t.Fatalf("the CRM record has %d of the names, want 3", stop)
	}
	want, _ := sel.AppendPruned(nil, []byte(crmRecord))
	got, ok := sel.AppendPrunedUntil(nil, []byte(crmRecord), stop)
	if !ok || !bytes.Equal(got, want) {
		t.Errorf("until %d: %s, %v; want %s", stop, got, ok, want)
	}
	for _, tc := range []struct {
		doc, list string
		stop      int
		want      string
	}{
		{`{"a":1,"b":2}`, "b", 0, `{}`},
		{`{"a":1,"b":2}`, "a", 1, `{"a":1}`},
		{`{"a":1,"\u0062":2,"b":3}`, "b", 1, `{"\u0062":2,"b":3}`}, // an escaped name is kept, not counted
		{`{"b":{"x":1,"y":2},"c":[1]} `, "b.x", 1, `{"b":{"x":1}}`},
	} {
		sel, err := Parse(tc.list)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sel.AppendPrunedUntil(nil, []byte(tc.doc), tc.stop)
		if !ok || string(got) != tc.want {
			t.Errorf("%s by %q until %d: %s, %v; want %s", tc.doc, tc.list, tc.stop, got, ok, tc.want)
		}
	}
	if n := (*Selector)(nil).CountAmong([]string{"a"}); n != -1 {
		t.Errorf("a nil selector counts %d, want -1 (read whole)", n)
	}
}

// TestSkipString checks skipString, which reads eight bytes a step, against a byte a step: at
// every place in an 8-byte word and near the end of the input, for a quote, an escaped quote,
// an escaped backslash and a string left open.
func TestSkipString(t *testing.T) {
	byteAStep := func(b []byte, i int) (int, bool, bool) {
		escaped := false
		for i++; i < len(b); i++ {
			switch b[i] {
			case '"':
				return i + 1, escaped, true
			case '\\':
				escaped = true
				i++
			}
		}
		return len(b), escaped, false
	}
	bodies := []string{`"`, `\""`, `\\"`, `\"\\"`, `\u0022"`, `\`, `\"`, ``, `é€"`}
	for _, body := range bodies {
		for pad := range 20 {
			for tail := range 10 {
				for lead := range 3 {
					in := []byte(strings.Repeat(" ", lead) + `"` + strings.Repeat("a", pad) + body + strings.Repeat(`x"`, tail%2) + strings.Repeat("b", tail))
					wantEnd, wantEsc, wantOK := byteAStep(in, lead)
					end, esc, ok := skipString(in, lead)
					if end != wantEnd || esc != wantEsc || ok != wantOK {
						t.Fatalf("skipString(%q, %d) = %d, %v, %v; want %d, %v, %v", in, lead, end, esc, ok, wantEnd, wantEsc, wantOK)
					}
				}
			}
		}
	}
	// A mark in a byte above the first of a word must not be taken for the first: the high bytes
	// of 0x22 - 1 and 0x5c - 1 borrow into what follows.
	for _, w := range []string{`a"\bbbbb`, `"\"\"\"\`, "\x21\x22\x23\x5b\x5c\x5d\x00\xff", "\x00\x01\"\x00\x00\x00\x00\x00"} {
		in := append([]byte(`"`), w...)
		wantEnd, wantEsc, wantOK := byteAStep(in, 0)
		if end, esc, ok := skipString(in, 0); end != wantEnd || esc != wantEsc || ok != wantOK {
			t.Errorf("skipString(%q) = %d, %v, %v; want %d, %v, %v", in, end, esc, ok, wantEnd, wantEsc, wantOK)
		}
	}
}
