package record

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// plainRecords are records for scanPlain: as ingestion meets them, and with what its rules turn
// on (first names win, types, empty names and ids, both identity sources, primaries), spaces,
// numbers, depth, and text that is not JSON.
var plainRecords = []string{
	webEvent, loyaltyRecord,
	`{"identityMap":{"CRMID":[{"id":"CRM-1","authenticatedState":"authenticated","primary":true}],"Email":[{"id":"a@b"}]},"person":{"name":{"firstName":"N"}},"n":[1,-0.5e+3,true,false,null,{},[]]}`,
	` { "identityMap" : { "Email" : [ { "id" : "a" , "primary" : true } ] } , "_id" : "e" , "timestamp" : "2026-01-01T00:00:00Z" } `,
	`{"identityMap":{"Email":[{"id":"a"}]},"identityMap":{"ECID":[{"id":"b"}]}}`,
	`{"identityMap":"x","identityMap":{"ECID":[{"id":"b"}]}}`,
	`{"identityMap":{"Email":[{"id":1,"id":"a"},{"id":"b","id":"c"},{"id":""},"s",[{"id":"d"}],{"primary":true}]}}`,
	`{"identityMap":{"":[{"id":"a"}],"E":{"id":"b"},"F":[{"id":"c","primary":"true"},{"id":"d","primary":true,"primary":false}]}}`,
	`{"identities":[{"id":"x","namespace":{"code":"ECID"}},{"id":"y","namespace":{"code":""}},{"id":"z","namespace":"ECID"},{"id":"w","namespace":{"code":"A","code":"B"},"primary":true}]}`,
	`{"identities":[{"id":"x","namespace":{"code":"ECID"},"namespace":{"code":"X"}},{"namespace":{"code":"ECID"}}],"identities":[{"id":"q","namespace":{"code":"Q"}}]}`,
	`{"identities":[{"id":"x","namespace":{"code":"ECID"},"primary":true}],"identityMap":{"Email":[{"id":"a","primary":true}]}}`,
	`{"identities":[{"id":"x","namespace":{"code":"B"}},{"id":"x","namespace":{"code":"B"}}],"identityMap":{"B":[{"id":"x"}],"A":[{"id":"y"}]}}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"_id":"e1","_id":"e2","timestamp":"2026-01-01T00:00:00+02:00","timestamp":"x"}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"_id":1,"_id":"e2","timestamp":"2026-01-01T00:00:00Z"}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"_id":"e","timestamp":5,"timestamp":"2026-01-01T00:00:00Z"}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"_id":"","timestamp":"2026-01-01T00:00:00Z"}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"_id":"e","timestamp":"2026-13-01T00:00:00Z"}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"":1,"b":2}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"a":1,"a":2}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":01}`, `{"identityMap":{"Email":[{"id":"a"}]},"x":NaN}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":tru}`, `{"identityMap":{"Email":[{"id":"a"}]},"x":truex}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":1,}`, `{"identityMap":{"Email":[{"id":"a"}]},"x":[1,]}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":1} x`, `{"identityMap":{"Email":[{"id":"a"}]}`, `[{"a":1}]`, `""`, ``,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":"é ☃"}`, `{"identityMap":{"Email":[{"id":"a"}]},"x" 1}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":{"y":"}"}}`, `{"identityMap":{"Email":[{"id":"a"}]},"x":{"y":}}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":` + strings.Repeat("[", 120) + strings.Repeat("]", 120) + `}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"x":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`,
	`{"identityMap":{"Email":[{"id":"a"}]}` + strings.Repeat(`,"m":1`, 70) + `}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"big":"` + strings.Repeat("x", 11<<10) + `"}`,
	// Three identities and more, from both sources, the primary among the later ones.
	`{"identities":[{"id":"l1","namespace":{"code":"Z"}},{"id":"l2","namespace":{"code":"A"}}],"identityMap":{"M":[{"id":"m1"},{"id":"m2"}],"B":[{"id":"m3"}]}}`,
	`{"identityMap":{"M":[{"id":"m1"},{"id":"m2","primary":true}],"B":[{"id":"m3"}]},"identities":[{"id":"l1","namespace":{"code":"Z"},"primary":true},{"id":"m1","namespace":{"code":"M"}}]}`,
	// At the size limits, and a byte over; at the member starts' limit, and one over.
	sized(maxEventRecordBytes), sized(maxEventRecordBytes + 1), sized(maxProfileRecordBytes), sized(maxProfileRecordBytes + 1),
	membered(64), membered(65),
	// Nested to the scan's depth and past it, and past the other way's.
	nested(maxScanDepth - 1), nested(maxScanDepth), nested(maxScanDepth + 1), nested(299), nested(300), nested(301), nested(302),
	// Namespaces at their limit and over it, from both sources, with an id and without.
	`{"identityMap":{"` + strings.Repeat("n", MaxNamespaceBytes) + `":[{"id":"a"}]},"identities":[{"id":"b","namespace":{"code":"` +
		strings.Repeat("c", MaxNamespaceBytes) + `"}}]}`,
	`{"identityMap":{"Email":[{"id":"a"}],"` + strings.Repeat("n", MaxNamespaceBytes+1) + `":[{"id":"b"}]}}`,
	`{"identityMap":{"Email":[{"id":"a"}],"` + strings.Repeat("n", MaxNamespaceBytes+1) + `":[{"id":""},{"primary":true}]}}`,
	`{"identityMap":{"Email":[{"id":"a"}]},"identities":[{"id":"b","namespace":{"code":"` + strings.Repeat("c", MaxNamespaceBytes+1) + `"}}]}`,
	`{"identities":[{"namespace":{"code":"` + strings.Repeat("c", MaxNamespaceBytes+1) + `"}},{"id":"b","namespace":{"code":"B"}}]}`,
	// Names that count, many times after many others.
	`{` + strings.Repeat(`"":0,`, 2000) + strings.Repeat(`"_id":"",`, 500) + strings.Repeat(`"timestamp":1,`, 500) +
		strings.Repeat(`"identities":{},`, 500) + `"identityMap":{"E":[{"id":"a"}]},"identityMap":{}}`,
}

// sized is an event of n bytes.
func sized(n int) string {
	head := `{"identityMap":{"E":[{"id":"a"}]},"_id":"e","timestamp":"2026-01-01T00:00:00Z","p":"`
	return head + strings.Repeat("x", n-len(head)-2) + `"}`
}

// membered is a fragment of n top-level members.
func membered(n int) string {
	return `{"identityMap":{"E":[{"id":"a"}]}` + strings.Repeat(`,"m":1`, n-1) + `}`
}

// nested is an event whose deepest object is depth objects deep.
func nested(depth int) string {
	return `{"identityMap":{"E":[{"id":"a"}]},"_id":"e","timestamp":"2026-01-01T00:00:00Z","n":` +
		strings.Repeat(`{"a":`, depth-1) + "1" + strings.Repeat("}", depth-1) + `}`
}

// checkScan fails when scanPlain accepts raw as a record of a kind, and reads it otherwise than
// Parse's other way (parseTree); when it tells a fragment is as is where a plain row of raw is not
// raw (checkAsIs); or when it turns down a plain record, not nested deep, that the other way
// accepts. (The other way tells no record is as is.)
func checkScan(t *testing.T, raw []byte) {
	t.Helper()
	for _, kind := range []Kind{Fragment, Event} {
		scan, tree := Parser{Names: &Names{}}, Parser{Names: &Names{}}
		got, ok := scan.scanPlain(raw, kind)
		want, rerr := tree.parseTree(raw, kind)
		if !ok {
			if rerr == nil && plain(raw) && depth(raw) < maxScanDepth {
				t.Fatalf("%.200q as %v: not read by the scan, which the other way accepts", raw, kind)
			}
			continue
		}
		if rerr != nil {
			t.Fatalf("%.200q as %v: the scan accepts it, the other way refuses it: %s", raw, kind, rerr.Reason)
		}
		if kind == Fragment && scan.Names.AsIs() {
			checkAsIs(t, raw)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%.200q as %v: the scan reads\n%+v\nthe other way\n%+v", raw, kind, got, want)
		}
		gotNames, gotKnown := scan.Names.List()
		wantNames, wantKnown := tree.Names.List()
		if gotKnown != wantKnown || !reflect.DeepEqual(gotNames, wantNames) {
			t.Fatalf("%.200q as %v: names %q (%v), the other way %q (%v)", raw, kind, gotNames, gotKnown, wantNames, wantKnown)
		}
		if got, want := scan.Names.Unique(), tree.Names.Unique(); got != want {
			t.Fatalf("%.200q as %v: names unique %v, the other way %v", raw, kind, got, want)
		}
	}
}

// checkAsIs fails unless the plain rows of raw that copy a fragment as is (fields.CopiesAsIs) are
// raw, read as the rows read a fragment that is not.
func checkAsIs(t *testing.T, raw []byte) {
	t.Helper()
	whole := (*fields.Selector)(nil).WithMergedMembers(fields.AsIsIdentityMap, fields.AsIsSegmentMembership)
	for _, sel := range []*fields.Selector{whole, whole.WithoutMember(fields.AsIsWithout)} {
		if row, ok := sel.AppendPlainRow(nil, raw); !ok || !bytes.Equal(row, raw) {
			t.Fatalf("%.200q: as is, but its plain row is %.200q (%v)", raw, row, ok)
		}
	}
}

// plain is what scanPlain reads: UTF-8 without a backslash or a byte below 0x20.
func plain(raw []byte) bool {
	return utf8.Valid(raw) && !hasByteBelowSpace(raw) && bytes.IndexByte(raw, '\\') < 0
}

// depth is how deep raw's brackets nest, outside strings, in plain text.
func depth(raw []byte) int {
	d, most, in := 0, 0, false
	for _, c := range raw {
		switch {
		case c == '"':
			in = !in
		case in:
		case c == '{' || c == '[':
			d++
			most = max(most, d)
		case c == '}' || c == ']':
			d--
		}
	}
	return most
}

func TestScanPlainReadsAsTheTreeDoes(t *testing.T) {
	for _, raw := range plainRecords {
		checkScan(t, []byte(raw))
	}
	// And ingestion's records do take the scan.
	var p Parser
	for _, c := range []struct {
		raw  string
		kind Kind
	}{{webEvent, Event}, {loyaltyRecord, Fragment}, {plainRecords[2], Fragment}, {plainRecords[3], Event}} {
		if _, ok := p.scanPlain([]byte(c.raw), c.kind); !ok {
			t.Errorf("%.60s: not read by the scan", c.raw)
		}
	}
}

// FuzzScanPlain: for any input, what scanPlain reads is what the other way does.
func FuzzScanPlain(f *testing.F) {
	for _, raw := range plainRecords {
		f.Add([]byte(raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkScan(t, raw)
	})
}

// TestScanPlainOnGeneratedRecords checks the scan against the other way on generated records:
// identity entries, _ids and timestamps, right and wrong, in any order and more than once, among
// values of every type, with spaces, and one byte of some of them changed.
func TestScanPlainOnGeneratedRecords(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(13, 14))
	accepted := map[Kind]int{}
	for range n {
		raw := []byte(genRecord(rng))
		if rng.IntN(5) == 0 && len(raw) > 0 {
			const swaps = `{}[]:," 0a\`
			raw[rng.IntN(len(raw))] = swaps[rng.IntN(len(swaps))]
		}
		checkScan(t, raw)
		for _, kind := range []Kind{Fragment, Event} {
			if _, ok := new(Parser).scanPlain(raw, kind); ok {
				accepted[kind]++
			}
		}
	}
	if accepted[Fragment] < n/25 || accepted[Event] < n/50 {
		t.Errorf("the scan read %d fragments and %d events of %d records: they test little", accepted[Fragment], accepted[Event], n)
	}
}

var (
	genNames   = []string{"identityMap", "identities", "id", "primary", "namespace", "code", "_id", "timestamp", "Email", "", "a", "é"}
	genScalars = []string{`"x"`, `""`, `"CRM-1"`, `"2026-01-01T00:00:00Z"`, `"2026-02-30T00:00:00Z"`, `true`, `false`, `null`,
		`0`, `-1.5e3`, `01`, `NaN`, `"true"`, `tru`, `nul`, `1,`}
)

// genRecord makes a record: an object of members, most of them those its rules read.
func genRecord(rng *rand.Rand) string {
	var members []string
	if rng.IntN(2) == 0 {
		members = append(members, `"_id":"e0","timestamp":"2026-01-01T00:00:00Z"`)
	}
	for range 1 + rng.IntN(6) {
		var m string
		switch rng.IntN(7) {
		case 0, 1:
			m = `"identityMap":` + genObject(rng, 2, func() string {
				return genArray(rng, 3, func() string { return genEntry(rng, false) })
			}, "Email", "ECID", "", "E")
		case 2:
			m = `"identities":` + genArray(rng, 3, func() string { return genEntry(rng, true) })
		case 3:
			m = `"_id":` + pick(rng, `"e1"`, `"e2"`, `""`, `1`, `null`)
		case 4:
			m = `"timestamp":` + pick(rng, `"2026-01-01T00:00:00Z"`, `"2026-05-31T18:52:33.406+02:00"`, `"2026-01-01"`, `5`, `""`)
		default:
			m = `"` + genNames[rng.IntN(len(genNames))] + `":` + genValue(rng, 1)
		}
		members = append(members, m)
	}
	sep := pick(rng, ",", ",", ", ", " , ")
	return pick(rng, "", "", " ") + "{" + strings.Join(members, sep) + "}" + pick(rng, "", "", " ")
}

// genEntry makes an identity entry, most often an object with an id and a namespace or not.
func genEntry(rng *rand.Rand, list bool) string {
	if rng.IntN(8) == 0 {
		return genValue(rng, 3)
	}
	var members []string
	for range rng.IntN(4) + 1 {
		switch rng.IntN(5) {
		case 0, 1:
			members = append(members, `"id":`+pick(rng, `"a"`, `"b"`, `"x"`, `""`, `1`))
		case 2:
			members = append(members, `"primary":`+pick(rng, `true`, `false`, `"true"`, `null`))
		case 3:
			if list {
				members = append(members, `"namespace":`+pick(rng, `{"code":"ECID"}`, `{"code":"Email"}`, `{"code":""}`,
					`{"code":"A","code":"B"}`, `{}`, `"ECID"`, `{"x":1,"code":"C"}`))
			}
		default:
			members = append(members, `"`+genNames[rng.IntN(len(genNames))]+`":`+genValue(rng, 4))
		}
	}
	return "{" + strings.Join(members, ",") + "}"
}

func pick(rng *rand.Rand, s ...string) string { return s[rng.IntN(len(s))] }

// genObject makes an object of up to three members named from names, whose values value makes.
func genObject(rng *rand.Rand, depth int, value func() string, names ...string) string {
	if rng.IntN(10) == 0 {
		return genValue(rng, depth)
	}
	var members []string
	for range rng.IntN(4) {
		members = append(members, `"`+names[rng.IntN(len(names))]+`":`+value())
	}
	return "{" + strings.Join(members, ",") + "}"
}

// genArray makes an array of up to three elements that value makes.
func genArray(rng *rand.Rand, depth int, value func() string) string {
	if rng.IntN(10) == 0 {
		return genValue(rng, depth)
	}
	var elems []string
	for range rng.IntN(4) {
		elems = append(elems, value())
	}
	return "[" + strings.Join(elems, pick(rng, ",", ", ")) + "]"
}

// genValue makes any value, less deep the deeper it is.
func genValue(rng *rand.Rand, depth int) string {
	switch kind := rng.IntN(10); {
	case kind < 3 && depth < 6:
		return genObject(rng, depth+1, func() string { return genValue(rng, depth+1) }, genNames...)
	case kind < 5 && depth < 6:
		return genArray(rng, depth+1, func() string { return genValue(rng, depth+1) })
	}
	return genScalars[rng.IntN(len(genScalars))]
}

// TestAsIs: the scan tells a fragment is as is where its plain row is its bytes, by each rule the
// row has, and not where one rule says otherwise; the generated data's fragments all are, and a
// batch is when all its fragments are.
func TestAsIs(t *testing.T) {
	const id = `"identityMap":{"E":[{"id":"a"}]}`
	wide := func(n int) string {
		var b strings.Builder
		for k := range n {
			fmt.Fprintf(&b, `,"m%d":%d`, k, k)
		}
		return b.String()
	}
	for _, tc := range []struct {
		raw  string
		asIs bool
	}{
		{`{` + id + `}`, true},
		{loyaltyRecord, true},
		{`{` + id + `,"a":{"b":[1,"é",true,{"c":{}}],"d":-0.5e+3},"segmentMembership":{"ups":{"s1":{"status":"realized"}},"x":{}}}`, true},
		{`{"identityMap":{"E":[{"id":"a"},{"id":"b","primary":true}],"F":[{"id":"c"}]}}`, true},
		{`{"identities":[{"id":"x","namespace":{"code":"E"}}],"identityMap":{}}`, true},
		{`{` + id + wide(fields.MaxAsIsMembers-1) + `}`, true},
		{`{` + id + wide(fields.MaxAsIsMembers) + `}`, false},                  // more members than a row looks at
		{`{` + id + `,"a":{"b":1` + wide(fields.MaxAsIsMembers) + `}}`, false}, // so in a member object
		{`{ ` + id + `}`, false}, // a space
		{`{` + id + ` }`, false},
		{`{` + id + `,"a":"x y"}`, true}, // in a string, a space is its own
		{`{` + id + `,"a":null}`, false}, // a null member
		{`{` + id + `,"a":{"b":null}}`, false},
		{`{` + id + `,"a":[{"b":null}]}`, false}, // (which the row keeps in an array: the scan is sure, not exact)
		{`{` + id + `,"a":1,"a":1}`, false},      // a name twice
		{`{` + id + `,"a":{"b":1,"c":{"d":1},"b":2}}`, false},
		{`{` + id + `,"a":[{"b":1,"b":1}]}`, false},
		{`{` + id + `,"a":{"b":{"c":1,"c":1}}}`, false},
		{`{` + id + `,"a":{"b":{"c":1},"c":1}}`, true}, // the same name in two objects
		{`{` + id + `,"é":1}`, false},                  // a name outside printable ASCII
		{`{` + id + `,"a":{"é":1}}`, false},
		{`{` + id + "," + `"a` + "\x7f" + `":1}`, false},
		{`{` + id + "," + `"a":"` + "\x7f" + `"}`, true},
		{`{` + id + `,"eventList":[]}`, false}, // the member a row's event list replaces
		{`{` + id + `,"identityMap":{"F":[{"id":"b"}]}}`, false},
		{`{"identityMap":{"E":[{"id":"a"}],"F":{"id":"b"}}}`, false}, // entries not in an array
		{`{"identityMap":{"E":[{"id":"a"}],"F":[]}}`, false},         // no entry
		{`{"identityMap":{"E":[{"id":"a"}],"":[{"id":"b"}]}}`, false},
		{`{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}`, false}, // out of order
		{`{"identityMap":{"E":[{"id":"a"},{"id":"a"}]}}`, false},
		{`{"identityMap":{"E":[{"id":"a"},{"primary":true}]}}`, false}, // an entry without an id
		{`{"identityMap":{"E":[{"id":"a"},{"id":1}]}}`, false},
		{`{"identityMap":{"E":[{"id":"a"},{"id":""}]}}`, false},
		{`{"identityMap":{"E":[{"id":"a"},"b"]}}`, false},
		{`{"identities":[{"id":"x","namespace":{"code":"E"}}],"identityMap":[]}`, false},
		{`{` + id + `,"segmentMembership":[]}`, false},
		{`{` + id + `,"segmentMembership":{"ups":{"s1":{}},"x":1}}`, false}, // a namespace the merge drops
		{`{` + id + `,"segmentMembership":{"ups":{"s1":{}},"ups":{}}}`, false},
		{`{` + id + `,"segmentMembership":{"ups":{"s1":{"a":null}}}}`, false},
	} {
		raw := []byte(tc.raw)
		p := Parser{Names: &Names{}}
		if _, ok := p.scanPlain(raw, Fragment); !ok {
			t.Fatalf("%.80s: not read by the scan", tc.raw)
		}
		if asIs := p.Names.AsIs(); asIs != tc.asIs {
			t.Errorf("%.200s: as is %v, want %v", tc.raw, asIs, tc.asIs)
		}
		checkScan(t, raw)
		// A batch is as is when all its fragments are, whichever parser read them.
		var batch, other Names
		for i, r := range [][]byte{[]byte(loyaltyRecord), raw, []byte(`{` + id + `}`)} {
			p := Parser{Names: &batch}
			if i == 1 {
				p.Names = &other
			}
			if _, rerr := p.Parse(r, Fragment); rerr != nil {
				t.Fatal(rerr)
			}
		}
		if batch.Merge(&other); batch.AsIs() != tc.asIs {
			t.Errorf("%.200s among fragments as is: the batch as is %v, want %v", tc.raw, batch.AsIs(), tc.asIs)
		}
	}
	// Read the other way (here, for an escape in a string it keeps), a fragment is not as is.
	var tree Names
	if _, rerr := (&Parser{Names: &tree}).Parse([]byte(`{`+id+`,"a":"\u0041"}`), Fragment); rerr != nil || tree.AsIs() {
		t.Errorf("read the other way: %v, as is %v", rerr, tree.AsIs())
	}

	dir := t.TempDir()
	if _, err := sampledata.Generate(dir, sampledata.Options{Seed: 3, People: 300, EventsPerPerson: 1}); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{sampledata.CRMFile, sampledata.LoyaltyFile} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for line := range bytes.Lines(data) {
			line = bytes.TrimSuffix(line, []byte("\n"))
			p := Parser{Names: &Names{}}
			if _, rerr := p.Parse(line, Fragment); rerr != nil {
				t.Fatalf("%s: %+v", file, rerr)
			}
			if !p.Names.AsIs() {
				t.Fatalf("%s: %.200s is not as is", file, line)
			}
			checkAsIs(t, line)
			n++
		}
		if n < 100 {
			t.Fatalf("%s: %d records", file, n)
		}
	}
}
