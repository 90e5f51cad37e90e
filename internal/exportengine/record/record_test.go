package record

import (
	"bytes"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
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
// identity first, no identity twice, and no namespace over MaxNamespaceBytes.
func FuzzRecordParse(f *testing.F) {
	f.Add([]byte(` { "identityMap" : {"Email":[{"id":"a"}]} , "x":{"y":"}"},"":1, "z" :[ "\"" ] } `))
	f.Add([]byte(`{"identityMap":{"Email":[{"id":"a"}]},"k\u0065y":2,"c":3}`))
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
			// A fragment's member starts are what a scan of its body finds.
			want, ok := fields.AppendMemberStarts(nil, raw)
			if kind == Event || !ok {
				want = nil
			}
			if !bytes.Equal(r.Members, want) {
				t.Fatalf("%q as %v: member starts %x, want %x", raw, kind, r.Members, want)
			}
			seen := map[Identity]bool{}
			for _, id := range r.Identities {
				if seen[id] || id.NS == "" || id.ID == "" || len(id.NS) > MaxNamespaceBytes {
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

// TestMemberStartsFromNames: the member starts of a record without escapes are read from the
// names fastjson found, and are what a scan of the body finds; with an escape, or an empty name,
// they are scanned.
func TestMemberStartsFromNames(t *testing.T) {
	many := `{"identityMap":{"Email":[{"id":"a"}]}` + strings.Repeat(`,"m":1`, fields.MaxMemberStarts) + `}`
	for _, tc := range []struct {
		raw       string
		fromNames bool
	}{
		{`{"identityMap":{"Email":[{"id":"a"}]},"b":{"c":"\"d\":"},"e":[1,{"f":2}]}`, false},
		{`{"identityMap":{"Email":[{"id":"a"}]},"b":{"c":"d"},"e":[1,{"f":2}]}`, true},
		{" {\n \"identityMap\" :\t{\"Email\":[{\"id\":\"a\"}]} ,\"x\" : 1 }\n", true},
		{`{"identityMap":{"Email":[{"id":"a"}]},"":1}`, false},
		{many, false},
	} {
		var p Parser
		r, rerr := p.Parse([]byte(tc.raw), Fragment)
		if rerr != nil {
			t.Fatalf("%s: %+v", tc.raw, rerr)
		}
		want, ok := fields.AppendMemberStarts(nil, []byte(tc.raw))
		if !ok {
			want = nil
		}
		if !bytes.Equal(r.Members, want) {
			t.Errorf("%.60s: member starts %x, want %x", tc.raw, r.Members, want)
		}
		raw := []byte(tc.raw)
		v, err := fastjson.ParseBytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendNameStarts(nil, raw, v)
		if ok != tc.fromNames || (ok && !bytes.Equal(got, want)) {
			t.Errorf("%.60s: from its names %x, %v; want %v", tc.raw, got, ok, tc.fromNames)
		}
	}
}

// TestHasByteBelowSpace checks the word-at-a-time test against a byte at a time, for every byte
// value at every position of a word and in the tail, next to the bytes that borrow (0x20, 0x21)
// and those with the high bit set.
func TestHasByteBelowSpace(t *testing.T) {
	naive := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 {
				return true
			}
		}
		return false
	}
	fills := []byte{' ', '!', 'a', 0x7f, 0x80, 0x9f, 0xa0, 0xff}
	for n := 0; n <= 19; n++ {
		for _, fill := range fills {
			b := bytes.Repeat([]byte{fill}, n)
			check := func() {
				t.Helper()
				if got, want := hasByteBelowSpace(b), naive(b); got != want {
					t.Fatalf("%q: %v, want %v", b, got, want)
				}
				below, above := byteClasses(b)
				if want := slices.ContainsFunc(b, func(c byte) bool { return c >= 0x7f }); below != naive(b) || above != want {
					t.Fatalf("%q: byte classes %v and %v, want %v and %v", b, below, above, naive(b), want)
				}
			}
			check()
			for pos := range n {
				for c := range 256 {
					b[pos] = byte(c)
					check()
					// and with a byte at another place
					for _, other := range []byte{0x05, 0x7f, 0xc3} {
						if n > 1 {
							at := (pos + 1 + c%(n-1)) % n
							was := b[at]
							b[at] = other
							check()
							b[at] = was
						}
					}
				}
				b[pos] = fill
			}
		}
	}
}

// TestValidateJSONControlCharacters: a record with a control character in a string is refused,
// and one with a tab between values is not.
func TestValidateJSONControlCharacters(t *testing.T) {
	for raw, valid := range map[string]bool{
		`{"a":"x","b":"0123456789abcdef"}`:       true,
		"{\"a\":\t\"x\",\"b\":\"0123456789ab\"}": true,
		"{\"a\":\"0123456789ab\x01\"}":           false,
		"{\"a\":\"0123456789abcdef\t\"}":         false,
		"{\"a\":\"\u00e9\u00e9\u00e9\u00e9\"}":   true,
		"{\"a\":\"0123456789abcdef\"}\x00":       false,
	} {
		if err := validateJSON([]byte(raw)); (err == nil) != valid {
			t.Errorf("%q: %v, want valid %v", raw, err, valid)
		}
	}
}

// strictParse is what records were checked with before parseValid: the validator, then the parser.
func strictParse(raw []byte) error {
	if err := validateJSON(raw); err != nil {
		return err
	}
	_, err := new(fastjson.Parser).ParseBytes(raw)
	return err
}

// checkParseValid fails when parseValid does not accept, and refuse with, what strictParse does.
func checkParseValid(t *testing.T, p *Parser, raw []byte) {
	t.Helper()
	want := strictParse(raw)
	v, err := p.parseValid(raw)
	switch {
	case (err == nil) != (want == nil):
		t.Fatalf("%q: parseValid says %v, the validator %v", raw, err, want)
	case err != nil && err.Error() != want.Error():
		t.Fatalf("%q: refused with %q, the validator with %q", raw, err, want)
	case err == nil && v == nil:
		t.Fatalf("%q: accepted without a value", raw)
	}
}

func TestParseValidAcceptsWhatTheValidatorDoes(t *testing.T) {
	numbers := []string{"0", "-0", "7", "-12", "10", "01", "-01", "00", "1.5", "1.", ".5", "-.5", "1.5e3", "1E-3",
		"1e+3", "1e", "1e+", "1.e3", "+1", "--1", "1-2", "1e5-3", "1.2.3", "NaN", "nan", "Inf", "-Inf", "inf", "0x10",
		"1_0", "2.50", "123456789012345678901234567890", "-"}
	var p Parser
	for _, n := range numbers {
		for _, raw := range []string{n, `{"a":` + n + `}`, `{"a":[1,` + n + `,2]}`, `[` + n + `]`, `{"a":{"b":` + n + `},"c":1}`} {
			checkParseValid(t, &p, []byte(raw))
		}
	}
	for _, raw := range []string{
		`{"a":"x\u00e9"}`, `{"a":"x\q"}`, `{"a\u0041":1}`, `{"a\x":1}`, `{"a":"\ud800"}`, `{"a":"\u12"}`,
		"{\"a\":\"x\x01\"}", "{\"a\":\t1}", "{\"a\":\"\t\"}", `{"a":1,}`, `{"a":1`, `{"a" 1}`, `[1 2]`, `{"a":tru}`,
		`{"a":nul}`, `{"a":null}`, `{"a":true,"b":false}`, ` {"a":1} `, `{"a":1} x`, `{}`, `[]`, `""`, ``, ` `,
		strings.Repeat("[", 300) + strings.Repeat("]", 300), strings.Repeat("[", 301) + strings.Repeat("]", 301),
		strings.Repeat(`{"a":`, 301) + "1" + strings.Repeat("}", 301),
	} {
		checkParseValid(t, &p, []byte(raw))
	}
}

// FuzzParseValid: for any input, parseValid accepts what the validator and the parser accept,
// and refuses the rest with the validator's error.
func FuzzParseValid(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0.5e+3,"x"],"b":{"c":null}}`, `{"a":01}`, `{"a":"\u00e9\n"}`, `[NaN]`, `{"a":1e}`} {
		f.Add([]byte(s))
	}
	var p Parser
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkParseValid(t, &p, raw)
	})
}

// walkNumbers is what strictNumbers does, by walking the values fastjson parsed: each number's
// text, as written, is one JSON has.
func walkNumbers(v *fastjson.Value) bool {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		ok := true
		o.Visit(func(_ []byte, c *fastjson.Value) { ok = ok && walkNumbers(c) })
		return ok
	case fastjson.TypeArray:
		a, _ := v.Array()
		for _, c := range a {
			if !walkNumbers(c) {
				return false
			}
		}
	case fastjson.TypeNumber:
		return fields.IsNumber(v.MarshalTo(nil))
	}
	return true
}

// FuzzStrictNumbers: on text that parseValid reads once (fastjson parses it, and it has no
// backslash and no byte below 0x20), strictNumbers answers as a walk of the parsed values does,
// both ways: too strict would only send records the slow way, unseen by the other tests.
func FuzzStrictNumbers(f *testing.F) {
	for _, s := range []string{`{"a":[1,-0.5e+3,"x",true,false,null],"b":{"c":01}}`, `[NaN, -Inf, inf, nan]`,
		`{"a" : 1. , "b":[ -0 ,1e5]}`, `{"t":"1.","n":null,"x":[[],{}]}`, `-`, `"x"`, `0`} {
		f.Add([]byte(s))
	}
	var p fastjson.Parser
	f.Fuzz(func(t *testing.T, raw []byte) {
		if hasByteBelowSpace(raw) || bytes.IndexByte(raw, '\\') >= 0 {
			return
		}
		v, err := p.ParseBytes(raw)
		if err != nil {
			return
		}
		if got, want := strictNumbers(raw), walkNumbers(v); got != want {
			t.Fatalf("%q: strictNumbers says %v, a walk of the values %v", raw, got, want)
		}
	})
}

// TestLongNamespaceFailsTheRecord: an identity whose namespace is over MaxNamespaceBytes, of
// either source, fails its record with a reason that names the field and the limit, and quotes
// the namespace cut short; a namespace at the limit, or a long one without an identity, does not.
func TestLongNamespaceFailsTheRecord(t *testing.T) {
	at, over, huge := strings.Repeat("n", MaxNamespaceBytes), strings.Repeat("n", MaxNamespaceBytes+1), strings.Repeat("é", 35_000)
	for _, tc := range []struct {
		record string
		want   []string // the reason's parts; none: accepted
	}{
		{`{"identityMap":{"` + at + `":[{"id":"a"}]}}`, nil},
		{`{"identities":[{"id":"a","namespace":{"code":"` + at + `"}}]}`, nil},
		{`{"identityMap":{"Email":[{"id":"a"}],"` + over + `":[{"id":"b"}]}}`,
			[]string{"the identityMap namespace", "is 257 bytes long, more than the 256 bytes", "ECID"}},
		{`{"identityMap":{"` + over + `":[{"id":"b","primary":true}]}}`, []string{"the identityMap namespace", "257 bytes long"}},
		{`{"identityMap":{"Email":[{"id":"a"}]},"identities":[{"id":"b","namespace":{"code":"` + over + `"}}]}`,
			[]string{"the identities[].namespace.code", "257 bytes long"}},
		{`{"identityMap":{"` + huge + `":[{"id":"b"}]}}`, []string{`"` + strings.Repeat("é", 100) + `"…(70000 bytes)`, "70000 bytes long"}},
		// Not an identity: an entry without an id, or a namespace that holds no array.
		{`{"identityMap":{"Email":[{"id":"a"}],"` + over + `":[{"primary":true}],"` + over + `x":{"id":"b"}}}`, nil},
		{`{"identityMap":{"Email":[{"id":"a"}]},"identities":[{"namespace":{"code":"` + over + `"}}]}`, nil},
	} {
		for _, kind := range []Kind{Fragment, Event} {
			raw := tc.record
			if kind == Event {
				raw = raw[:len(raw)-1] + `,"_id":"e","timestamp":"2026-01-01T00:00:00Z"}`
			}
			if kind == Event && len(raw) > maxEventRecordBytes {
				continue
			}
			r, rerr := (&Parser{}).Parse([]byte(raw), kind)
			switch {
			case tc.want == nil && rerr != nil:
				t.Errorf("%.80s as %v: refused: %s", raw, kind, rerr.Reason)
			case tc.want == nil:
				for _, id := range r.Identities {
					if len(id.NS) > MaxNamespaceBytes {
						t.Errorf("%.80s as %v: accepted with the identity %.80v", raw, kind, id)
					}
				}
			case rerr == nil:
				t.Errorf("%.80s as %v: accepted, want refused", raw, kind)
			case rerr.Code != CodeLongNamespace || len(rerr.Reason) > 1<<10:
				t.Errorf("%.80s as %v: refused %s with %d bytes: %.300s", raw, kind, rerr.Code, len(rerr.Reason), rerr.Reason)
			default:
				for _, w := range tc.want {
					if !strings.Contains(rerr.Reason, w) {
						t.Errorf("%.80s as %v: reason %.300q does not say %q", raw, kind, rerr.Reason, w)
					}
				}
			}
		}
	}
}

// TestBadTimestampIsQuotedShort: an event's bad timestamp is quoted in its reason cut short, so
// that a batch's errors stay small.
func TestBadTimestampIsQuotedShort(t *testing.T) {
	ts := strings.Repeat(`\u0001`, 1500)
	raw := `{"identityMap":{"Email":[{"id":"a"}]},"_id":"e","timestamp":"` + ts + `"}`
	_, rerr := (&Parser{}).Parse([]byte(raw), Event)
	if rerr == nil || rerr.Code != CodeBadTimestamp {
		t.Fatalf("refusal %+v, want %s", rerr, CodeBadTimestamp)
	}
	if want := `the event timestamp "` + strings.Repeat(`\x01`, 100) + `"…(1500 bytes) is not an RFC 3339`; !strings.Contains(rerr.Reason, want) ||
		len(rerr.Reason) > 1<<10 {
		t.Errorf("reason of %d bytes: %.300q, want it to hold %q", len(rerr.Reason), rerr.Reason, want)
	}
}
