package record

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func namesOf(t *testing.T, docs ...string) *Names {
	t.Helper()
	var n Names
	for _, d := range docs {
		n.Add(fastjson.MustParse(d))
	}
	return &n
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		docs  []string
		want  []string
		known bool
	}{
		{nil, []string{}, true},
		{[]string{`{"b":1,"a":{"x":1,"x":2}}`, `{"c":[1],"a":null}`}, []string{"a", "b", "c"}, true},
		// Names are kept unescaped: "k\u0065y" is "key".
		{[]string{`{"k\u0065y":1}`, `{"key":2}`}, []string{"key"}, true},
		// A name twice in one record, even written two ways, tells an export nothing.
		{[]string{`{"a":1}`, `{"a":1,"b":2,"a":3}`}, nil, false},
		{[]string{`{"key":1,"k\u0065y":2}`}, nil, false},
		// Not an object: nothing to add.
		{[]string{`[1]`, `{"a":1}`}, []string{"a"}, true},
	} {
		got, known := namesOf(t, tc.docs...).List()
		if known != tc.known || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, %v; want %q, %v", tc.docs, got, known, tc.want, tc.known)
		}
	}
}

func TestNamesLimitAndMerge(t *testing.T) {
	var docs []string
	for i := range MaxNames {
		docs = append(docs, fmt.Sprintf(`{"n%03d":1,"common":2}`, i))
	}
	if _, known := namesOf(t, docs...).List(); known {
		t.Errorf("%d names and one more are kept, want none past %d", MaxNames+1, MaxNames)
	}
	if got, known := namesOf(t, docs[:MaxNames-1]...).List(); !known || len(got) != MaxNames {
		t.Errorf("%d names: %d kept, %v", MaxNames, len(got), known)
	}

	// Parsers' names merge into the batch's.
	a, b := namesOf(t, `{"x":1,"y":2}`), namesOf(t, `{"y":1,"z":2}`)
	a.Merge(b)
	if got, known := a.List(); !known || !slices.Equal(got, []string{"x", "y", "z"}) {
		t.Errorf("merged: %q, %v", got, known)
	}
	a.Merge(namesOf(t, `{"r":1,"r":2}`))
	if _, known := a.List(); known {
		t.Error("merging the names of a parser that saw a repeat keeps names")
	}
	c := namesOf(t, docs[:MaxNames/2]...)
	c.Merge(namesOf(t, docs[MaxNames/2:]...))
	if _, known := c.List(); known {
		t.Errorf("merging past %d names keeps names", MaxNames)
	}
}

// A batch's names are unique when no record has a name twice at its top level or in a member
// object (the value of a top-level member), compared unescaped, whichever way validation reads
// the record: its plain scan, or fastjson's tree for a record with a backslash. Deeper objects,
// and objects in arrays, which a row reads to their end, may repeat a name.
func TestNamesUnique(t *testing.T) {
	many := func(repeat bool) string {
		var members []string
		for i := range 20 {
			members = append(members, fmt.Sprintf(`"n%02d":%d`, i, i))
		}
		if repeat {
			members = append(members, `"n07":0`)
		}
		return `{"m":{` + strings.Join(members, ",") + `}}`
	}
	for _, tc := range []struct {
		docs   []string
		unique bool
	}{
		{[]string{`{"a":{"x":1,"y":{"x":2}},"b":[{"x":1},{"x":2}]}`, `{"a":{"x":3}}`}, true},
		{[]string{`{"a":{"x":1}}`, `{"a":{"x":1,"y":2,"x":3}}`}, false},
		{[]string{`{"a":{"b":{"x":1},"c":2,"b":3}}`}, false},
		{[]string{`{"a":[1,{"k":1,"k":2}]}`}, true},
		{[]string{`{"a":{"b":{"c":{"d":1,"d":2}}}}`}, true},
		{[]string{`{"a":{"key":1,"key":2}}`}, false},
		{[]string{`{"a":{"key":1,"kez":2}}`}, true},
		{[]string{many(false)}, true},
		{[]string{many(true)}, false},
		// A name twice at the top level: the names are not known, and so not unique.
		{[]string{`{"a":1,"a":{"x":1}}`}, false},
	} {
		if got := namesOf(t, tc.docs...).Unique(); got != tc.unique {
			t.Errorf("%q by fastjson's tree: unique %v, want %v", tc.docs, got, tc.unique)
		}
		// As records a parser accepts: plain, and with a backslash that sends it the other way.
		for _, escaped := range []bool{false, true} {
			p := Parser{Names: &Names{}}
			for i, doc := range tc.docs {
				extra := fmt.Sprintf(`"identityMap":{"Email":[{"id":"p%d@x.example"}]},`, i)
				if escaped {
					extra += `"s":"\n",`
				}
				line := "{" + extra + doc[1:]
				if _, err := p.Parse([]byte(line), Fragment); err != nil {
					t.Fatalf("%s: %v", line, err)
				}
			}
			if got := p.Names.Unique(); got != tc.unique {
				t.Errorf("%q parsed (escaped %v): unique %v, want %v", tc.docs, escaped, got, tc.unique)
			}
		}
	}
	// Parsers' findings merge into the batch's.
	a := namesOf(t, `{"a":{"x":1}}`)
	a.Merge(namesOf(t, `{"a":{"x":1,"x":2}}`))
	if a.Unique() {
		t.Error("merging the names of a parser that saw a repeat in a member object keeps them unique")
	}
}

func TestParserCollectsFragmentNames(t *testing.T) {
	p := Parser{Names: &Names{}}
	for _, line := range []string{
		`{"identityMap":{"Email":[{"id":"a@x.example"}]},"person":{"name":"A"}}`,
		`{"identities":[{"id":"b@x.example","namespace":{"code":"Email"}}],"loyalty":{"points":1}}`,
		`{"person":{"name":"no identity"}, "zzz":1, "zzz":2}`, // refused: not in the batch, nor are its names
		`not json`,
	} {
		p.Parse([]byte(line), Fragment)
	}
	got, known := p.Names.List()
	if want := []string{"identities", "identityMap", "loyalty", "person"}; !known || !slices.Equal(got, want) {
		t.Errorf("fragments' names: %q, %v; want %q", got, known, want)
	}
	events := Parser{Names: &Names{}}
	events.Parse([]byte(`{"_id":"1","timestamp":"2026-01-01T00:00:00Z","identityMap":{"ECID":[{"id":"1"}]}}`), Event)
	if got, _ := events.Names.List(); len(got) != 0 {
		t.Errorf("events' names are kept: %q", got)
	}
}

// Collecting names changes nothing of what validation makes of a record: fastjson unescapes an
// object's keys when they are visited, after which it looks names up by their unescaped spelling.
func TestNamesDoNotChangeIdentities(t *testing.T) {
	for _, raw := range []string{
		`{"identit\u0079Map":{"Email":[{"id":"a@x.example"}]},"identityMap":{"Email":[{"id":"b@x.example"}]}}`,
		`{"identit\u0079Map":{"Email":[{"id":"a@x.example"}]},"identityMap":{}}`,
	} {
		var plain Parser
		want, wantErr := plain.Parse([]byte(raw), Fragment)
		// A parser whose names are fresh, and one whose names are no longer known.
		forgetting := Parser{Names: &Names{}}
		if _, err := forgetting.Parse([]byte(`{"identityMap":{"Email":[{"id":"c@x.example"}]},"z":1,"z":2}`), Fragment); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*Parser{{Names: &Names{}}, &forgetting} {
			got, err := p.Parse([]byte(raw), Fragment)
			if (err == nil) != (wantErr == nil) || (err == nil && !slices.Equal(got.Identities, want.Identities)) {
				t.Errorf("%s: with names %v, %v; without %v, %v", raw, identities(got), err, identities(want), wantErr)
			}
		}
	}
}

func identities(r *Record) []Identity {
	if r == nil {
		return nil
	}
	return r.Identities
}
