package fields

import (
	"bytes"
	"testing"

	"github.com/valyala/fastjson"
)

func TestAppendPlainRow(t *testing.T) {
	for _, tc := range []struct {
		doc, list, want string // want "": the long way
	}{
		{`{"a":{"b":1,"c":2},"d":"x"}`, "a.b,d", `{"a":{"b":1},"d":"x"}`},
		{` { "a" : { "b" : [ 1 , { "c" : null } ] } , "e" : 1 } `, "a", `{"a":{"b":[1,{"c":null}]}}`},
		{`{"a":{"b":null,"c":{"d":null}},"z":[1]}`, "a", `{"a":{"c":{}}}`},
		{`{"a":null}`, "a", `{}`},
		{`{"a":null}`, "a.b", `{}`},
		{`{"a":5}`, "a.b", `{}`},
		{`{"x":1}`, "a", `{}`},
		{`{"é":1,"a":{"é":2,"b":3}}`, "a.b", `{"a":{"b":3}}`},
		{`{}`, "a", `{}`},
		{`{"a":{}}`, "a", `{"a":{}}`},
		{`{"a":{}}`, "a.b", `{}`},
		{`{"a":"é","b":-0.5e+3,"c":true,"d":false}`, "a,b,c,d", `{"a":"é","b":-0.5e+3,"c":true,"d":false}`},
		{`{"skipped":{"x":"\"}","y":[{"\u00e9":null}]},"a":1}`, "a", `{"a":1}`},
		// The long way: what a merge or the writer changes, or what names below an array select.
		{`{"a":1,"a":2}`, "a", ""},
		{`{"a":{"b":1,"b":2}}`, "a", ""},
		{`{"a":"\u00e9"}`, "a", ""},
		{`{"a\u0062":1}`, "ab", ""},
		{`{"é":1}`, "é", ""},
		{`{"a":[{"b":1}]}`, "a.b", ""},
		{`{"a":01}`, "a", ""},
		{`{"a":tru}`, "a", ""},
		{"{\"a\":\"\x01\"}", "a", ""},
		{`[1]`, "a", ""},
		{`{"a":1`, "a", ""},
		{`{"a":1} x`, "a", ""},
	} {
		sel, err := Parse(tc.list)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sel.AppendPlainRow([]byte("prefix"), []byte(tc.doc))
		switch {
		case tc.want == "" && (ok || string(got) != "prefix"):
			t.Errorf("%s by %q: %s, %v; want the long way, and nothing appended", tc.doc, tc.list, got, ok)
		case tc.want != "" && (!ok || string(got) != "prefix"+tc.want):
			t.Errorf("%s by %q: %s, %v; want prefix%s", tc.doc, tc.list, got, ok, tc.want)
		}
	}
	if _, ok := (*Selector)(nil).AppendPlainRow(nil, []byte(`{}`)); ok {
		t.Error("whole rows are the long way")
	}
}

// FuzzPlainRow checks that a row written from a document's bytes is the row of the document
// parsed, when the document has no null members (the only thing a merge of it alone drops, which
// the fuzz target of the merge package checks).
func FuzzPlainRow(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":[{"d":2},{"e":3}]},"f":"x"}`, "a.c,f")
	f.Add(`{"a":1,"b":{"b":2},"k":{"x":[true,false,-1]}}`, `a,b.b,k`)
	f.Add(` {"x" : "\\\"}" , "y":[ "]" ] } `, "y")
	f.Fuzz(func(t *testing.T, doc, list string) {
		sel, err := Parse(list)
		if err != nil {
			return
		}
		got, ok := sel.AppendPlainRow(nil, []byte(doc))
		if !ok {
			return
		}
		v, err := fastjson.Parse(doc)
		if err != nil || fastjson.Validate(doc) != nil {
			return // what a document read as bytes keeps is valid; what it skips is the parser's
		}
		if bytes.Contains([]byte(doc), []byte("null")) {
			return
		}
		if want := sel.AppendRow(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("%s by %q from its bytes is %s, not %s", doc, list, got, want)
		}
	})
}
