package merge

import (
	"bytes"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// FuzzMergeProject merges two fragments and projects the profile: no panic, the row is JSON, and
// projecting the row again changes nothing.
func FuzzMergeProject(f *testing.F) {
	f.Add(`{"a":{"b":1,"c":null},"identityMap":{"E":[{"id":"x","primary":true}]}}`, `{"a":{"d":[1,null]},"identityMap":{"E":[{"id":"w"}]}}`, "a,identityMap.E.id")
	f.Add(`{"segmentMembership":{"ups":{"s":{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"}}}}`,
		`{"segmentMembership":{"ups":{"s":{"status":"exited","lastQualificationTime":"bad"}},"x":1}}`, "segmentMembership.ups")
	f.Add(`{"k":1,"k":{"z":2}}`, `{"k":{"y":null}}`, "")
	f.Add(`{"segmentMembership":{"ups":{"s":{"status":"exited","lastQualificationTime":"2026-01-01T00:00:00Z"}}}}`,
		`{"segmentMembership":{"ups":{"s":{"status":"realized","lastQualificationTime":"2026-02-01T00:00:00Z"}}}}`, "segmentMembership.ups.s.status")
	f.Add(`{"identityMap":{"E":[{"id":"x","primary":null}]}}`, `{"identityMap":{"E":[{"id":"x","primary":true}]}}`, "identityMap.E.primary")
	f.Add(`{"p":{"a":"x","b":null,"c":{"d":null}},"q":[{"r":null,"r":1}],"s":-0.5e+2}`, `{}`, "p,q,s")
	f.Add(`{"p":{"a":"x"},"p":{"a":"y"}}`, `{}`, "p.a")
	f.Add(`{ "p" : { "a" : [ 1 , true , "\u00e9" ] } , "t" : "\t" }`, `{}`, "p.a,t")
	f.Add(`{"identityMap":{"E":[{"id":"a","primary":true},{"id":"b","x":{"y":null}}],"C":[{"id":"c"}]},"p":1}`, `{}`, "identityMap,p")
	f.Add(`{"identityMap":{"E":[{"id":"b"},{"id":"a"}],"C":[]}}`, `{}`, "identityMap.E,p")
	f.Add(`{"identityMap":{"E":[{"id":"a","primary":null},{"id":""},{"id":"a"}],"E":[{"id":"z"}]}}`, `{}`, "identityMap.E")
	f.Add(`{"identityMap":{"E":[{"id":"a"}],"C":[{"id":"c"}]}}`, `{}`, "identityMap.C")
	f.Add(`{"identityMap":null,"q":{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}}`, `{}`, "identityMap,q")
	f.Add(`{"identityMap":{"E":[{"id":"a","id":"b"}],"F":"x","G":[1]}}`, `{}`, "identityMap")
	f.Add(`{"segmentMembership":{"ups":{"a":null,"b":{"status":null},"c":5},"x":null,"y":[1],"z":{}},"p":1}`, `{}`, "segmentMembership,p")
	f.Add(`{"segmentMembership":{"ups":{"a":{"status":"realized"}},"x":{"b":{}}},"q":{"segmentMembership":{"u":{"a":null}}}}`, `{}`, "segmentMembership.ups,q")
	f.Add(`{"segmentMembership":{"ups":null},"p":1}`, `{}`, "segmentMembership,p")
	f.Fuzz(func(t *testing.T, first, second, list string) {
		for _, doc := range []string{first, second} {
			if fastjson.Validate(doc) != nil || !utf8.ValidString(doc) { // ingestion refuses them
				return
			}
			if v, _ := fastjson.Parse(doc); v.Type() != fastjson.TypeObject {
				return
			}
		}
		sel, err := fields.Parse(list)
		if err != nil {
			return
		}
		frags := []Fragment{
			{Body: []byte(first), Rank: Rank{Seq: 2}, Source: "b"},
			{Body: []byte(second), Rank: Rank{Seq: 1}, Source: "b"},
		}
		var m Merger
		merged, err := m.Merge(frags)
		if err != nil {
			t.Fatalf("merge: %v", err)
		}
		whole := fields.AppendValue(nil, merged)
		if err := fastjson.ValidateBytes(whole); err != nil {
			t.Fatalf("merged profile is not JSON: %s (%v)", whole, err)
		}
		row := sel.AppendRow(nil, merged)
		v, err := fastjson.ParseBytes(row)
		if err != nil {
			t.Fatalf("row is not JSON: %s (%v)", row, err)
		}
		if again := sel.AppendRow(nil, v); !bytes.Equal(again, row) {
			t.Fatalf("projection is not stable:\n once %s\ntwice %s", row, again)
		}
		// Fragments pruned to what the projection needs merge into the same row.
		reads := Reads(sel)
		var pruned []Fragment
		for _, fr := range frags {
			b, ok := reads.AppendPruned(nil, fr.Body)
			if !ok {
				t.Fatalf("fragment %s could not be pruned", fr.Body)
			}
			pruned = append(pruned, Fragment{Body: b, Rank: fr.Rank, Source: fr.Source})
		}
		var mp Merger
		fromPruned, err := mp.Merge(pruned)
		if err != nil {
			t.Fatalf("merge of pruned fragments: %v", err)
		}
		if got := sel.AppendRow(nil, fromPruned); !bytes.Equal(got, row) {
			t.Fatalf("pruned by %q, the fragments merge into\n%s\nnot\n%s", reads.String(), got, row)
		}
		// A plain fragment alone projects from its bytes into the row it merges into (whole, for
		// no list), and without a member left out, into the row of the merge without it.
		for _, without := range []string{"", lastName(first)} {
			plain := PlainSelector(sel)
			if without != "" {
				plain = plain.WithoutMember(without)
			}
			got, ok := plain.AppendPlainRow(nil, []byte(first))
			if !ok {
				continue
			}
			var m1 Merger
			alone, err := m1.Merge(frags[:1])
			if err != nil {
				t.Fatal(err)
			}
			if o, err := alone.Object(); err == nil && without != "" {
				o.Del(without)
			}
			if want := sel.AppendRow(nil, alone); !bytes.Equal(got, want) {
				t.Fatalf("%s by %q without %q from its bytes is\n%s\nnot\n%s", first, sel.String(), without, got, want)
			}
		}
		// Merging is idempotent: a merged profile merged with itself is unchanged.
		var m2 Merger
		self, err := m2.Merge([]Fragment{{Body: whole, Source: "b"}, {Body: whole, Source: "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := fields.AppendValue(nil, self); !bytes.Equal(got, whole) {
			t.Fatalf("merging a profile with itself changed it:\n%s\n%s", whole, got)
		}
	})
}

// lastName is the last top-level name of the object doc, or "" for none.
func lastName(doc string) string {
	v, err := fastjson.Parse(doc)
	if err != nil {
		return ""
	}
	o, err := v.Object()
	if err != nil {
		return ""
	}
	var name string
	o.Visit(func(key []byte, _ *fastjson.Value) { name = string(key) })
	return name
}

// A profile of one fragment written whole from its bytes is the row the merge of it alone gives,
// for fragments with nulls, identity maps and segment memberships, with the row's eventList
// taking the place of the profile's own.
func TestWholePlainRowsAreMergedRows(t *testing.T) {
	const s = `{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"}`
	for _, doc := range []string{
		` { "p" : 1 , "q" : { "r" : null , "s" : [ null ] } } `,
		`{"n":null,"p":{}}`,
		`{"n":null}`,
		`{}`,
		`{"identityMap":{"E":[{"id":"a","primary":true},{"id":"b","x":{"y":null}}],"C":[{"id":"c"}]}}`,
		`{"identityMap":{}}`,
		`{"segmentMembership":{"ups":{"a":null,"b":` + s + `},"x":5,"z":{}},"p":[1,{"q":null}]}`,
		`{"segmentMembership":{"ups":null},"p":1}`,
		`{"segmentMembership":{}}`,
		`{"eventList":[{"a":1}],"p":{"eventList":2}}`,
	} {
		for _, without := range []string{"", "eventList"} {
			plain := PlainSelector(nil)
			if without != "" {
				plain = plain.WithoutMember(without)
			}
			got, ok := plain.AppendPlainRow(nil, []byte(doc))
			if !ok {
				t.Errorf("%s without %q took the long way", doc, without)
				continue
			}
			var m Merger
			alone, err := m.Merge([]Fragment{{Body: []byte(doc), Source: "b"}})
			if err != nil {
				t.Fatal(err)
			}
			if o, err := alone.Object(); err == nil && without != "" {
				o.Del(without)
			}
			if want := (*fields.Selector)(nil).AppendRow(nil, alone); !bytes.Equal(got, want) {
				t.Errorf("%s without %q from its bytes is\n%s\nnot\n%s", doc, without, got, want)
			}
		}
	}
}
