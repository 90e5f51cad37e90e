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

func TestMergeRefusesWhatIsNoObject(t *testing.T) {
	var m Merger
	for _, body := range []string{`{"a":`, `[1]`, `"s"`} {
		_, err := m.Merge([]Fragment{{Body: []byte(`{"a":1}`)}, {Body: []byte(body), Source: "b7"}})
		if err == nil || !strings.Contains(err.Error(), "fragment of batch b7") {
			t.Errorf("fragment %s: %v, want an error naming its batch", body, err)
		}
	}
}
