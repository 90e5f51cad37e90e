package fields

import (
	"bytes"
	"slices"
	"strings"
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

func TestAppendPlainDocumentRow(t *testing.T) {
	for _, tc := range []struct {
		doc, list, want string // want "": the long way
	}{
		{`{"a":{"b":1,"c":2},"d":"x"}`, "a.b,d", `{"a":{"b":1},"d":"x"}`},
		// Nulls stay where they are selected whole, as the row of the parsed document keeps them.
		{`{"a":null}`, "a", `{"a":null}`},
		{`{"a":{"b":null,"c":{"d":null}},"z":[1]}`, "a", `{"a":{"b":null,"c":{"d":null}}}`},
		{`{"a":{"b":null,"c":1}}`, "a.b", `{"a":{"b":null}}`},
		// Below a null or a scalar, nothing is there.
		{`{"a":null}`, "a.b", `{}`},
		{`{"a":5,"c":1}`, "a.b,c", `{"c":1}`},
		{` { "a" : { "b" : [ 1 , { "c" : null } ] } , "e" : 1 } `, "a", `{"a":{"b":[1,{"c":null}]}}`},
		// An identity map is a member like any other: its entries as they are, in their order.
		{`{"identityMap":{"ECID":[{"id":"2"},{"id":"1","primary":null}]}}`, "identityMap", `{"identityMap":{"ECID":[{"id":"2"},{"id":"1","primary":null}]}}`},
		{`{"a":"é"}`, "a", `{"a":"é"}`},
		// Bytes that are not UTF-8 are copied, as the long way copies a string without escapes.
		{"{\"a\":\"\xff\"}", "a", "{\"a\":\"\xff\"}"},
		// The long way: repeated names, escapes, names below an array.
		{`{"a":1,"a":2}`, "a", ""},
		{`{"a":{"b":1,"b":2}}`, "a", ""},
		{`{"a":"\u00e9"}`, "a", ""},
		{`{"a":[{"b":1}]}`, "a.b", ""},
		{`{"a":1`, "a", ""},
	} {
		sel, err := Parse(tc.list)
		if err != nil {
			t.Fatal(err)
		}
		sel = sel.WithMergedMembers("identityMap", "") // which a document that is not merged ignores
		got, ok := sel.AppendPlainDocumentRow([]byte("prefix"), []byte(tc.doc))
		switch {
		case tc.want == "" && (ok || string(got) != "prefix"):
			t.Errorf("%s by %q: %s, %v; want the long way, and nothing appended", tc.doc, tc.list, got, ok)
		case tc.want != "" && (!ok || string(got) != "prefix"+tc.want):
			t.Errorf("%s by %q: %s, %v; want prefix%s", tc.doc, tc.list, got, ok, tc.want)
		}
		if v, err := fastjson.Parse(tc.doc); ok && err == nil {
			if want := sel.AppendRow([]byte("prefix"), v); !bytes.Equal(got, want) {
				t.Errorf("%s by %q: %s, but the row of the parsed document is %s", tc.doc, tc.list, got, want)
			}
		}
	}
	if _, ok := (*Selector)(nil).AppendPlainDocumentRow(nil, []byte(`{}`)); ok {
		t.Error("whole rows are the long way")
	}
}

// FuzzPlainRow checks that a row written from a document's bytes is the row of the document
// parsed: always for a document that is not merged (AppendPlainDocumentRow), and for one merged
// alone when it has no null members (the only thing such a merge drops, which the fuzz target of
// the merge package checks).
func FuzzPlainRow(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":[{"d":2},{"e":3}]},"f":"x"}`, "a.c,f")
	f.Add(`{"a":1,"b":{"b":2},"k":{"x":[true,false,-1]}}`, `a,b.b,k`)
	f.Add(` {"x" : "\\\"}" , "y":[ "]" ] } `, "y")
	f.Add(`{"a":{"b":1},"x":{"y":[1,"}"]},"k\u0065y":2,"c":3}`, "a.b,c")
	f.Add(`{"x":{"y":1},"a":5}`, "a,b")
	f.Add(`{"p":{"a":"m","b":true,"c":{"d":1}},"q":{"r":2,"s":3},"t":1}`, "p.a,q.s,t")
	f.Fuzz(func(t *testing.T, doc, list string) {
		sel, err := Parse(list)
		if err != nil {
			return
		}
		got, ok := sel.AppendPlainRow(nil, []byte(doc))
		v, err := fastjson.Parse(doc)
		if err != nil || fastjson.Validate(doc) != nil {
			return // what a document read as bytes keeps is valid; what it skips is the parser's
		}
		if raw, rok := sel.AppendPlainDocumentRow(nil, []byte(doc)); rok {
			if want := sel.AppendRow(nil, v); !bytes.Equal(raw, want) {
				t.Fatalf("%s by %q from its bytes, not merged, is %s, not %s", doc, list, raw, want)
			}
		}
		// Every name selected, the document is kept whole, as the nil selector keeps it.
		if raw, rok := whole.AppendPlainDocumentRow(nil, []byte(doc)); rok {
			if want := (*Selector)(nil).AppendRow(nil, v); !bytes.Equal(raw, want) {
				t.Fatalf("%s whole from its bytes, not merged, is %s, not %s", doc, raw, want)
			}
		}
		oracle := !bytes.Contains([]byte(doc), []byte("null"))
		if ok && oracle {
			if want := sel.AppendRow(nil, v); !bytes.Equal(got, want) {
				t.Fatalf("%s by %q from its bytes is %s, not %s", doc, list, got, want)
			}
		}
		// Read until the selected names the document has are met (or more than it has), the row
		// is the same; past that point an escaped name no longer sends it the long way.
		names, known := topNames(v)
		if !known {
			return
		}
		for _, among := range [][]string{names, withNames(names, sel)} {
			until, uok := sel.AppendPlainRowUntil(nil, []byte(doc), sel.CountAmong(among))
			switch {
			case ok && (!uok || !bytes.Equal(until, got)):
				t.Fatalf("%s by %q until %d of %q: %s, %v; read whole: %s", doc, list, sel.CountAmong(among), among, until, uok, got)
			case uok && oracle:
				if want := sel.AppendRow(nil, v); !bytes.Equal(until, want) {
					t.Fatalf("%s by %q until %d of %q is %s, not %s", doc, list, sel.CountAmong(among), among, until, want)
				}
			}
			// Jumping from member to member by their starts gives the same row, with the
			// selectors an export makes of sel too, read whole or until its names are met.
			starts, sok := AppendMemberStarts(nil, []byte(doc))
			if !sok {
				continue
			}
			for _, s := range []*Selector{sel, sel.WithoutMember("x"), sel.WithMergedMembers("identityMap", "segmentMembership")} {
				for _, stop := range []int{-1, s.CountAmong(among)} {
					read, rok := s.AppendPlainRowUntil(nil, []byte(doc), stop)
					at, aok := s.AppendPlainRowAt(nil, []byte(doc), starts, stop, false)
					if aok != rok || !bytes.Equal(at, read) {
						t.Fatalf("%s by %q until %d of %q, jumping by %v: %s, %v; reading: %s, %v", doc, list,
							stop, among, starts, at, aok, read, rok)
					}
					// Where no object repeats a name, leaving a member object once its selected
					// names are met gives the same row; it can tell more often (what it leaves
					// unread cannot send it the long way), and then its row is the parsed one's.
					if !memberObjectsUnique(v) {
						continue
					}
					left, lok := s.AppendPlainRowAt(nil, []byte(doc), starts, stop, true)
					switch {
					case rok && (!lok || !bytes.Equal(left, read)):
						t.Fatalf("%s by %q until %d, leaving objects: %s, %v; reading: %s", doc, list, stop, left, lok, read)
					case lok && !rok && s == sel && oracle:
						if want := sel.AppendRow(nil, v); !bytes.Equal(left, want) {
							t.Fatalf("%s by %q until %d, leaving objects: %s, not %s", doc, list, stop, left, want)
						}
					}
				}
			}
		}
	})
}

// topNames returns the sorted top-level names of an object, unescaped, and false when it is no
// object or repeats a name: the names record.Names keeps of a batch.
func topNames(v *fastjson.Value) ([]string, bool) {
	o, err := v.Object()
	if err != nil {
		return nil, false
	}
	var names []string
	o.Visit(func(key []byte, _ *fastjson.Value) { names = append(names, string(key)) })
	slices.Sort(names)
	return names, len(slices.Compact(slices.Clone(names))) == len(names)
}

// memberObjectsUnique reports whether no member object of v (the value of a top-level member,
// when an object) has a name twice, compared unescaped: what record.Names.Unique says of a
// batch's records.
func memberObjectsUnique(v *fastjson.Value) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	unique := true
	o.Visit(func(_ []byte, v *fastjson.Value) {
		m, err := v.Object()
		if err != nil {
			return
		}
		var names []string
		m.Visit(func(key []byte, _ *fastjson.Value) { names = append(names, string(key)) })
		slices.Sort(names)
		unique = unique && len(slices.Compact(names)) == m.Len()
	})
	return unique
}

// withNames adds the top-level names of sel to names, sorted: names of other records of a batch.
func withNames(names []string, sel *Selector) []string {
	out := slices.Clone(names)
	if sel != nil {
		for _, k := range sel.kids {
			out = append(out, k.name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestPlainRowUntil(t *testing.T) {
	sel, err := Parse("personalEmail.address,loyalty.points")
	if err != nil {
		t.Fatal(err)
	}
	names, known := topNames(fastjson.MustParse(crmRecord))
	if !known {
		t.Fatal("the record repeats a name")
	}
	if n := sel.CountAmong(names); n != 1 {
		t.Fatalf("the CRM record has %d of the names, want 1 (personalEmail)", n)
	}
	want, _ := sel.AppendPlainRow(nil, []byte(crmRecord))
	// Stopped after personalEmail, the rest is not read: damaged, it still gives the row.
	cut := strings.Index(crmRecord, `"mobilePhone"`)
	damaged := crmRecord[:cut] + `"mobilePhone":{{{{]]]` + strings.Repeat(" ", 40) + "}"
	for _, doc := range []string{crmRecord, damaged} {
		got, ok := sel.AppendPlainRowUntil(nil, []byte(doc), 1)
		if !ok || !bytes.Equal(got, want) {
			t.Errorf("until 1: %s, %v; want %s", got, ok, want)
		}
	}
	if _, ok := sel.AppendPlainRow(nil, []byte(damaged)); ok {
		t.Error("the damaged record read whole is refused")
	}
	for _, tc := range []struct {
		doc    string
		stop   int
		want   string
		wantOK bool
	}{
		{`{"a":1}`, 0, `{}`, true},
		{`{"x":1,"personalEmail":{"address":"m"}} `, 1, `{"personalEmail":{"address":"m"}}`, true},
		{`{"personalEmail":{"address":"m"}`, 1, ``, false}, // no closing brace: not a valid object
		{`{"personalEmail":null,"loyalty":{"points":3}}`, 2, `{"loyalty":{"points":3}}`, true},
	} {
		got, ok := sel.AppendPlainRowUntil(nil, []byte(tc.doc), tc.stop)
		if ok != tc.wantOK || string(got) != tc.want {
			t.Errorf("%s until %d: %s, %v; want %s, %v", tc.doc, tc.stop, got, ok, tc.want, tc.wantOK)
		}
	}
}

// TestPlainRowIdentityMap: an identity map is kept from its bytes only where merging it alone
// changes nothing, and the long way is taken otherwise.
func TestPlainRowIdentityMap(t *testing.T) {
	for _, tc := range []struct {
		list, doc, want string // want "" is the long way
	}{
		{"identityMap", `{"identityMap":{"E":[{"id":"a","primary":true},{"id":"b"}],"C":[{"id":"c"}]},"p":1}`,
			`{"identityMap":{"E":[{"id":"a","primary":true},{"id":"b"}],"C":[{"id":"c"}]}}`},
		{"identityMap,p", `{ "identityMap" : { "E" : [ { "id" : "a" , "x" : { "y" : null } } ] } , "p" : 1 }`,
			`{"identityMap":{"E":[{"id":"a","x":{"y":null}}]},"p":1}`}, // nulls below an entry stay
		{"identityMap.C", `{"identityMap":{"E":[{"id":"b"},{"id":"a"}],"C":[{"id":"c"}]}}`, `{"identityMap":{"C":[{"id":"c"}]}}`},
		{"identityMap.X,p", `{"identityMap":{"E":[{"id":"a"}]},"p":1}`, `{"p":1}`},
		{"identityMap", `{"identityMap":{}}`, `{"identityMap":{}}`},
		{"identityMap.E", `{"identityMap":{}}`, `{}`},
		{"identityMap", `{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}`, ""},                                                // sorted by the merge
		{"identityMap", `{"identityMap":{"E":[{"id":"a"},{"id":"a"}]}}`, ""},                                                // one entry an id
		{"identityMap", `{"identityMap":{"E":[{"id":"a","primary":null}]}}`, ""},                                            // a null member dropped
		{"identityMap", `{"identityMap":{"E":[{"id":""}]}}`, ""},                                                            // no id: dropped
		{"identityMap", `{"identityMap":{"E":[{"id":1}]}}`, ""},                                                             // no string id: dropped
		{"identityMap", `{"identityMap":{"E":[{"primary":true}]}}`, ""},                                                     // no id
		{"identityMap", `{"identityMap":{"E":[{"id":"a","id":"b"}]}}`, ""},                                                  // an id twice
		{"identityMap", `{"identityMap":{"E":[]}}`, ""},                                                                     // an empty namespace: dropped
		{"identityMap", `{"identityMap":{"E":[{"id":"a"}],"E":[{"id":"b"}]}}`, ""},                                          // a namespace twice
		{"identityMap", `{"identityMap":{"E":"a"}}`, ""},                                                                    // not an array
		{"identityMap", `{"identityMap":{"E":[{"id":"a\u0041"}]}}`, ""},                                                     // an escape
		{"identityMap", `{"identityMap":null}`, ""},                                                                         // not a map
		{"identityMap.E.id", `{"identityMap":{"E":[{"id":"a"}]}}`, ""},                                                      // names below an array
		{"q", `{"q":{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}}`, `{"q":{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}}`}, // not at the top
	} {
		sel, err := Parse(tc.list)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sel.WithMergedMembers("identityMap", "").AppendPlainRow(nil, []byte(tc.doc))
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("%s by %q: %s, %v; want %s", tc.doc, tc.list, got, ok, tc.want)
		}
	}
	// Without WithMergedMembers, the map is an object like any other.
	sel, _ := Parse("identityMap")
	if got, ok := sel.AppendPlainRow(nil, []byte(`{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}`)); !ok ||
		string(got) != `{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}` {
		t.Errorf("a plain selector: %s, %v", got, ok)
	}
}

func TestPlainRowSegmentMembership(t *testing.T) {
	const s = `{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"}`
	for _, tc := range []struct {
		list, doc, want string // want "" is the long way
	}{
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":` + s + `,"b":` + s + `}},"p":1}`, `{"segmentMembership":{"ups":{"a":` + s + `,"b":` + s + `}}}`},
		{"segmentMembership.ups,p", `{"segmentMembership":{"ups":{"a":` + s + `},"x":{"b":` + s + `}},"p":1}`, `{"segmentMembership":{"ups":{"a":` + s + `}},"p":1}`},
		// Null memberships go; a membership stays as it is, nulls and all.
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":null,"b":{"status":null}}}}`, `{"segmentMembership":{"ups":{"b":{"status":null}}}}`},
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":null}}}`, `{"segmentMembership":{"ups":{}}}`},
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":5,"b":[null]}}}`, `{"segmentMembership":{"ups":{"a":5,"b":[null]}}}`},
		// A namespace that is not an object goes.
		{"segmentMembership", `{"segmentMembership":{"ups":5,"x":null,"y":[1],"z":{}}}`, `{"segmentMembership":{"z":{}}}`},
		{"segmentMembership.ups", `{"segmentMembership":{"ups":5}}`, `{}`},
		{"segmentMembership", `{"segmentMembership":{}}`, `{"segmentMembership":{}}`},
		// A map whose every namespace the merge drops stays, as {}, where it is selected whole.
		{"segmentMembership", `{"segmentMembership":{"ups":null}}`, `{"segmentMembership":{}}`},
		{"segmentMembership,p", `{"segmentMembership":{"y":[1]},"p":1}`, `{"segmentMembership":{},"p":1}`},
		{"segmentMembership.ups,p", `{"segmentMembership":{"ups":5},"p":1}`, `{"p":1}`},
		{"segmentMembership.ups", `{"segmentMembership":{}}`, `{}`},
		// The long way: names below a namespace, repeats, escapes, a map that is not an object.
		{"segmentMembership.ups.a", `{"segmentMembership":{"ups":{"a":` + s + `}}}`, ""},
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":1},"ups":{"b":2}}}`, ""},
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":1,"a":2}}}`, ""},
		{"segmentMembership", `{"segmentMembership":{"ups":{"a":"\u0041"}}}`, ""},
		{"segmentMembership", `{"segmentMembership":[1]}`, ""},
		{"segmentMembership", `{"segmentMembership":null}`, ""},
		{"q", `{"q":{"segmentMembership":{"ups":{"a":null}}}}`, `{"q":{"segmentMembership":{"ups":{}}}}`}, // not at the top: an object like any other
	} {
		sel, err := Parse(tc.list)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := sel.WithMergedMembers("identityMap", "segmentMembership").AppendPlainRow(nil, []byte(tc.doc))
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("%s by %q: %s, %v; want %s", tc.doc, tc.list, got, ok, tc.want)
		}
	}
	// The two kinds of member can be named together, and keep each other.
	sel, _ := Parse("identityMap,segmentMembership")
	sel = sel.WithMergedMembers("identityMap", "segmentMembership")
	doc := `{"identityMap":{"E":[{"id":"b"},{"id":"a"}]},"segmentMembership":{"ups":{}}}`
	if _, ok := sel.AppendPlainRow(nil, []byte(doc)); ok {
		t.Error("an identity map the merge sorts went the plain way with segment memberships named too")
	}
}

// A whole selector made by WithMergedMembers writes whole profiles from their bytes, as a merge of
// the fragment alone leaves it; WithoutMember leaves a top-level member out of any plain row.
func TestPlainRowWhole(t *testing.T) {
	const s = `{"status":"realized"}`
	merged := (*Selector)(nil).WithMergedMembers("identityMap", "segmentMembership")
	for _, tc := range []struct {
		sel       *Selector
		doc, want string // want "" is the long way
	}{
		{merged, ` { "p" : 1 , "q" : { "r" : null , "s" : [ null ] } } `, `{"p":1,"q":{"s":[null]}}`},
		{merged, `{"n":null,"p":{}}`, `{"p":{}}`},
		{merged, `{"n":null}`, `{}`},
		{merged, `{}`, `{}`},
		{merged, `{"identityMap":{"E":[{"id":"a"},{"id":"b"}]},"segmentMembership":{"ups":{"a":null,"b":` + s + `},"x":5}}`,
			`{"identityMap":{"E":[{"id":"a"},{"id":"b"}]},"segmentMembership":{"ups":{"b":` + s + `}}}`},
		{merged, `{"segmentMembership":{"ups":null},"p":1}`, `{"segmentMembership":{},"p":1}`},
		{merged, `{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}`, ""}, // the merge sorts the map
		{merged, `{"p":1,"p":2}`, ""},                                 // a name twice
		{merged, `{"p\u0041":1}`, ""},                                 // an escaped name
		{merged, `{"é":1}`, ""},                                       // a name AppendString may write otherwise
		{merged, `{"p":"\n"}`, ""},                                    // an escape in a string
		{merged, `{"p":nul}`, ""},                                     // not JSON
		{merged, `[1]`, ""},                                           // not an object
		{merged, `{"p":1} x`, ""},                                     // more after it
		{whole, `{"p":null}`, ""},                                     // merged needs the members named
		{merged.WithoutMember("eventList"), `{"eventList":[{"a":1}],"p":1}`, `{"p":1}`},
		{merged.WithoutMember("eventList"), `{"p":1,"eventList":null}`, `{"p":1}`},
		{mustParse(t, "p,eventList").WithoutMember("eventList"), `{"eventList":[1],"p":1,"q":2}`, `{"p":1}`},
		{mustParse(t, "eventList.a").WithoutMember("eventList"), `{"eventList":{"a":1}}`, `{}`},
		{mustParse(t, "p").WithoutMember("eventList"), `{"p":{"eventList":1}}`, `{"p":{"eventList":1}}`}, // only at the top
	} {
		got, ok := tc.sel.AppendPlainRow(nil, []byte(tc.doc))
		if ok != (tc.want != "") || string(got) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.doc, got, ok, tc.want)
		}
	}
	// Not merged, a whole document keeps its nulls and any top-level map as it is.
	doc := `{"identityMap":{"E":[{"id":"b"},{"id":"a"}]},"n":null,"q":{"r":null}}`
	if got, ok := whole.AppendPlainDocumentRow(nil, []byte(doc)); !ok || string(got) != doc {
		t.Errorf("a whole document: %s, %v", got, ok)
	}
}

func mustParse(t *testing.T, list string) *Selector {
	t.Helper()
	sel, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}
