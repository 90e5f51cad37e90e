package record

import (
	"reflect"
	"testing"
)

func TestPrimaryIdentityRules(t *testing.T) {
	for _, tc := range []struct {
		record  string
		primary string
	}{
		{`{"identityMap":{"Email":[{"id":"e"}],"CRMID":[{"id":"c2"},{"id":"c1"}]}}`, "CRMID:c2"},               // smallest namespace, first entry
		{`{"identityMap":{"Email":[{"id":"e","primary":true}],"CRMID":[{"id":"c"}]}}`, "Email:e"},              // marked
		{`{"identityMap":{"Email":[{"id":"e","primary":"true"}],"CRMID":[{"id":"c"}]}}`, "CRMID:c"},            // only JSON true counts
		{`{"identityMap":{"ECID":[{"id":"x","primary":true}],"Email":[{"id":"e","primary":true}]}}`, "ECID:x"}, // several: smallest namespace
		{`{"identityMap":{"Email":[{"id":"e2","primary":true},{"id":"e1","primary":true}]}}`, "Email:e2"},      // then array order
		{`{"identityMap":{"Phone":[{"id":"p"}]},"identities":[{"id":"i","namespace":{"code":"Email"},"primary":true}]}`, "Email:i"},
		{`{"identityMap":{"Phone":[{"id":"p","primary":true}]},"identities":[{"id":"i","namespace":{"code":"Email"},"primary":true}]}`, "Phone:p"},
		{`{"identityMap":{"Email":[{"id":"m"}]},"identities":[{"id":"i","namespace":{"code":"Email"}}]}`, "Email:m"}, // identityMap first on ties
		{`{"identities":[{"id":"z","namespace":{"code":"ECID"}},{"id":"y","namespace":{"code":"AAID"}}]}`, "AAID:y"},
	} {
		r, rerr := (&Parser{}).Parse([]byte(tc.record), Fragment)
		if rerr != nil {
			t.Fatalf("%s: %v", tc.record, rerr.Reason)
		}
		if got := r.Primary().NS + ":" + r.Primary().ID; got != tc.primary {
			t.Errorf("%s: primary %s, want %s", tc.record, got, tc.primary)
		}
	}
	// Identities are distinct, primary first.
	r, _ := (&Parser{}).Parse([]byte(`{"identityMap":{"Email":[{"id":"a"},{"id":"a"}],"CRMID":[{"id":"c","primary":true}]},
		"identities":[{"id":"a","namespace":{"code":"Email"}},{"id":"x","namespace":{"code":"ECID"}}]}`), Fragment)
	want := []Identity{{"CRMID", "c"}, {"Email", "a"}, {"ECID", "x"}}
	if !reflect.DeepEqual(r.Identities, want) {
		t.Errorf("identities %v, want %v", r.Identities, want)
	}
}

// FuzzRecordParse validates arbitrary records: no panic, and an accepted record has a primary
// identity first and no identity twice.
func FuzzRecordParse(f *testing.F) {
	f.Add([]byte(`{"identityMap":{"Email":[{"id":"a","primary":true}]},"_id":"e","timestamp":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"identities":[{"id":"x","namespace":{"code":"ECID"}}]}`))
	f.Add([]byte(`[{"a":1}]`))
	f.Add([]byte("{\"a\":\"\x01\"}"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p Parser
		for _, kind := range []Kind{Fragment, Event, Other} {
			r, rerr := p.Parse(raw, kind)
			if (r == nil) == (rerr == nil) {
				t.Fatalf("parse(%q) = %v, %v", raw, r, rerr)
			}
			if r == nil {
				if rerr.Code == "" || rerr.Reason == "" {
					t.Fatalf("refusal without a reason: %+v", rerr)
				}
				continue
			}
			if kind == Other {
				continue
			}
			seen := map[Identity]bool{}
			for _, id := range r.Identities {
				if seen[id] || id.NS == "" || id.ID == "" {
					t.Fatalf("identities %v of %q", r.Identities, raw)
				}
				seen[id] = true
			}
			if kind == Event && r.EventID == "" {
				t.Fatalf("accepted event without _id: %q", raw)
			}
		}
	})
}
