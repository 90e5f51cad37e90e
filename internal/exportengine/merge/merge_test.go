package merge

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// frag is a fragment of a case: its JSON, and its rank as precedence/batch/seq.
type frag struct {
	body                     string
	precedence, batch, seqNo int
}

func TestMerge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frags []frag
		want  string
	}{
		{"one fragment", []frag{{`{"a":1,"b":{"c":2}}`, 0, 0, 0}}, `{"a":1,"b":{"c":2}}`},
		{"the later batch wins", []frag{{`{"a":"old"}`, 0, 1, 9}, {`{"a":"new"}`, 0, 2, 0}}, `{"a":"new"}`},
		{"within a batch, the later record wins", []frag{{`{"a":"first"}`, 0, 1, 1}, {`{"a":"second"}`, 0, 1, 2}}, `{"a":"second"}`},
		{"precedence comes before time", []frag{{`{"a":"crm"}`, 0, 1, 0}, {`{"a":"web"}`, 1, 9, 0}}, `{"a":"crm"}`},
		{"null counts as absent", []frag{{`{"a":null,"b":null}`, 0, 2, 0}, {`{"a":1}`, 0, 1, 0}}, `{"a":1}`},
		{"keys come in the order they first appear, by priority", []frag{{`{"z":1,"a":1}`, 0, 2, 0}, {`{"m":2,"z":2}`, 0, 1, 0}},
			`{"z":1,"a":1,"m":2}`},
		{"objects merge key by key", []frag{{`{"o":{"x":1,"y":null}}`, 0, 2, 0}, {`{"o":{"y":2,"z":{"w":3}}}`, 0, 1, 0}},
			`{"o":{"x":1,"y":2,"z":{"w":3}}}`},
		{"the winner's type decides", []frag{{`{"o":"text"}`, 0, 2, 0}, {`{"o":{"x":1}}`, 0, 1, 0}}, `{"o":"text"}`},
		{"a winning object merges only with objects", []frag{{`{"o":{"x":1}}`, 0, 3, 0}, {`{"o":5}`, 0, 2, 0}, {`{"o":{"y":2}}`, 0, 1, 0}},
			`{"o":{"x":1,"y":2}}`},
		{"objects left empty stay", []frag{{`{"o":{"x":null}}`, 0, 2, 0}}, `{"o":{}}`},
		{"arrays are atomic, nulls inside kept", []frag{{`{"l":[1,null]}`, 0, 2, 0}, {`{"l":[3,4,5]}`, 0, 1, 0}}, `{"l":[1,null]}`},
		{"a repeated key: the last counts", []frag{{`{"k":1,"k":{"z":2}}`, 0, 2, 0}, {`{"k":{"y":3}}`, 0, 1, 0}}, `{"k":{"z":2,"y":3}}`},
		{"identityMap is the union, by id, sorted", []frag{
			{`{"identityMap":{"Email":[{"id":"b","primary":true,"x":null}],"ECID":[{"id":"9"}]}}`, 0, 2, 0},
			{`{"identityMap":{"Email":[{"id":"a"},{"id":"b","primary":false}],"Phone":[{"id":""},{"x":1}]}}`, 0, 1, 0},
		}, `{"identityMap":{"Email":[{"id":"a"},{"id":"b","primary":true}],"ECID":[{"id":"9"}]}}`},
		{"identityMap that is no object: the winner's value", []frag{{`{"identityMap":[1]}`, 0, 2, 0}}, `{"identityMap":[1]}`},
		{"a membership: the latest qualification wins, whole", []frag{
			{`{"segmentMembership":{"ups":{"s":{"status":"exited","lastQualificationTime":"2026-01-01T00:00:00Z","v":1}}}}`, 0, 2, 0},
			{`{"segmentMembership":{"ups":{"s":{"status":"realized","lastQualificationTime":"2026-01-02T00:00:00+01:00"}}}}`, 0, 1, 0},
		}, `{"segmentMembership":{"ups":{"s":{"status":"realized","lastQualificationTime":"2026-01-02T00:00:00+01:00"}}}}`},
		{"a membership: times are instants, past the nanosecond", []frag{
			{`{"segmentMembership":{"ups":{"s":{"lastQualificationTime":"2026-01-01T00:00:00.0000000001Z","v":"later"}}}}`, 0, 1, 0},
			{`{"segmentMembership":{"ups":{"s":{"lastQualificationTime":"2026-01-01T01:00:00+01:00","v":"earlier"}}}}`, 0, 2, 0},
		}, `{"segmentMembership":{"ups":{"s":{"lastQualificationTime":"2026-01-01T00:00:00.0000000001Z","v":"later"}}}}`},
		{"a membership without a valid time ranks below, ties go by priority", []frag{
			{`{"segmentMembership":{"ups":{"s":{"v":"none"},"t":{"lastQualificationTime":"2026-01-01T00:00:00Z","v":"high"}}}}`, 0, 3, 0},
			{`{"segmentMembership":{"ups":{"s":{"lastQualificationTime":"bad","v":"bad"},"t":{"lastQualificationTime":"2026-01-01T00:00:00Z","v":"low"}}}}`, 0, 2, 0},
			{`{"segmentMembership":{"ups":{"s":{"lastQualificationTime":"2025-01-01T00:00:00Z","v":"valid"}}}}`, 0, 1, 0},
		}, `{"segmentMembership":{"ups":{"s":{"lastQualificationTime":"2025-01-01T00:00:00Z","v":"valid"},"t":{"lastQualificationTime":"2026-01-01T00:00:00Z","v":"high"}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var frags []Fragment
			for i, f := range tc.frags {
				frags = append(frags, Fragment{Body: []byte(f.body), Source: fmt.Sprint("batch", i),
					Rank: Rank{Precedence: f.precedence, Batch: f.batch, Seq: uint64(f.seqNo)}})
			}
			var m Merger
			got, err := m.Merge(frags)
			if err != nil {
				t.Fatal(err)
			}
			if s := string(fields.AppendValue(nil, got)); s != tc.want {
				t.Errorf("merged\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}

// A merger is reused from profile to profile: nothing of one shows in the next.
func TestMergerReuse(t *testing.T) {
	var m Merger
	if _, err := m.Merge([]Fragment{{Body: []byte(`{"a":{"b":1},"c":[1]}`)}, {Body: []byte(`{"d":2}`)}}); err != nil {
		t.Fatal(err)
	}
	got, err := m.Merge([]Fragment{{Body: []byte(`{"x":1}`)}})
	if err != nil || string(fields.AppendValue(nil, got)) != `{"x":1}` {
		t.Errorf("the second profile is %s, %v", fields.AppendValue(nil, got), err)
	}
	if s := string(fields.AppendValue(nil, m.Empty())); s != `{}` {
		t.Errorf("the empty profile is %s", s)
	}
}

// A merger reused from profile to profile merges each as a new merger does, whatever profiles
// came before: it keeps its scratch (the objects of nested merges, the namespaces, identities
// and segments of the maps being merged) from one to the next, and its profiles hold views of
// the fragments parsed last.
func TestReusedMergerMergesAsANewOne(t *testing.T) {
	profiles := [][]string{
		{`{"identityMap":{"E":[{"id":"b"},{"id":"a","x":null}],"C":[{"id":"c"}]},"p":{"q":{"r":1,"s":null}}}`,
			`{"identityMap":{"C":[{"id":"d"},{"id":"c","primary":true}],"Z":[{"id":"z"}]},"p":{"q":{"t":2},"u":[1]}}`},
		{`{"segmentMembership":{"ups":{"s1":{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"},"s2":{"status":"exited"}},"x":{"s3":{}}}}`,
			`{"segmentMembership":{"x":{"s3":{"status":"realized"}},"ups":{"s1":{"status":"exited","lastQualificationTime":"2026-02-01T00:00:00.1234567891Z"}}}}`,
			`{"segmentMembership":{"ups":{"s2":null,"s4":{"status":"realized"}}},"a":{"a":{"a":{"a":1}}}}`},
		{`{"a":{"b":{"c":{"d":1}},"e":2},"a":{"b":{"f":3}}}`, `{"a":{"b":{"c":{"g":4},"h":5}}}`},
		{`{"identityMap":{"E":[{"id":"only"}]},"segmentMembership":{"ups":{"s":{"status":"realized"}}},"k":"v"}`},
		{`{"segmentMembership":{"ups":{"s4":{"status":"realized"},"s1":{"status":"exited"}}}}`},
		{`{"identityMap":{"E":[{"id":"e2"},{"id":"e1"}],"F":[{"id":"f"}],"G":[]}}`, `{"identityMap":{"G":[{"id":"g"}],"E":[{"id":"e3"}]}}`,
			`{"identityMap":{"F":[{"id":"f","authenticatedState":"authenticated"}]}}`},
	}
	fragments := func(p []string) []Fragment {
		var out []Fragment
		for i, body := range p {
			out = append(out, Fragment{Body: []byte(body), Rank: Rank{Batch: i}})
		}
		return out
	}
	var fresh []string
	for _, p := range profiles {
		var m Merger
		v, err := m.Merge(fragments(p))
		if err != nil {
			t.Fatal(err)
		}
		fresh = append(fresh, string(fields.AppendValue(nil, v)))
	}
	// Each profile right after each other one, itself too.
	var reused Merger
	for before := range profiles {
		for i := range profiles {
			for _, k := range []int{before, i} {
				v, err := reused.Merge(fragments(profiles[k]))
				if err != nil {
					t.Fatal(err)
				}
				if got := string(fields.AppendValue(nil, v)); got != fresh[k] {
					t.Fatalf("profile %d after profile %d: %s, where a new merger gives %s", i, before, got, fresh[k])
				}
				if len(reused.objs) != 0 {
					t.Fatalf("after a merge, the stack of nested merges holds %d objects", len(reused.objs))
				}
			}
		}
	}
}

func TestMergeRefusesWhatIsNoObject(t *testing.T) {
	var m Merger
	for _, body := range []string{`{"a":`, `[1]`, `"s"`} {
		_, err := m.Merge([]Fragment{{Body: []byte(`{"a":1}`)}, {Body: []byte(body), Source: "b7"}})
		if err == nil || !strings.Contains(err.Error(), "fragment of batch b7") {
			t.Errorf("fragment %s: %v, want an error naming its batch", body, err)
		}
	}
}
