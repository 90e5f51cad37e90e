package fields

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// startsOf decodes what AppendMemberStarts appends: each start from the one before it.
func startsOf(t *testing.T, b []byte) []int {
	t.Helper()
	var at []int
	pos := 0
	for len(b) > 0 {
		d, k := binary.Uvarint(b)
		if k <= 0 {
			t.Fatalf("a start that is no uvarint: % x", b)
		}
		pos += int(d)
		at = append(at, pos)
		b = b[k:]
	}
	return at
}

func TestAppendMemberStarts(t *testing.T) {
	many := make([]string, MaxMemberStarts+1)
	for i := range many {
		many[i] = fmt.Sprintf(`"m%d":%d`, i, i)
	}
	most := `{` + strings.Join(many[:MaxMemberStarts], ",") + `}` // as many members as are kept
	var mostStarts []int
	for i := range MaxMemberStarts {
		mostStarts = append(mostStarts, strings.Index(most, fmt.Sprintf(`"m%d":`, i)))
	}
	for _, tc := range []struct {
		doc  string
		want []int
		ok   bool
	}{
		{`{"a":1,"b":{"c":[1,"}"]},"d":"x\"y"}`, []int{1, 7, 25}, true},
		{" \n{ \"a\" : [ ] ,\t\"b\":null } ", []int{4, 16}, true},
		{`{}`, nil, true},
		{` { } `, nil, true},
		{`{"a":1,"b":2`, nil, false}, // cut short
		{`{"a":{"b":1,"c":2}}`, []int{1}, true},
		{`[{"a":1}]`, nil, false},
		{`"a"`, nil, false},
		{most, mostStarts, true},
		{`{` + strings.Join(many, ",") + `}`, nil, false},
	} {
		got, ok := AppendMemberStarts([]byte("kept"), []byte(tc.doc))
		if ok != tc.ok || !bytes.HasPrefix(got, []byte("kept")) {
			t.Fatalf("%.40s: %q, %v; want %v after what dst held", tc.doc, got, ok, tc.ok)
		}
		if !ok {
			if string(got) != "kept" {
				t.Errorf("%.40s: refused, but dst is %q", tc.doc, got)
			}
			continue
		}
		if at := startsOf(t, got[len("kept"):]); fmt.Sprint(at) != fmt.Sprint(tc.want) {
			t.Errorf("%.40s: members start at %v, want %v", tc.doc, at, tc.want)
		}
	}
}

// TestPlainRowAt: a row that jumps by the members' starts is the row read member by member, for
// any stop, and jumps over members that could not be read; starts that the record cannot have
// read it member by member, and starts that are not where its members start give false.
func TestPlainRowAt(t *testing.T) {
	sel := mustParse(t, "personalEmail.address,loyalty.points")
	starts, ok := AppendMemberStarts(nil, []byte(crmRecord))
	if !ok {
		t.Fatal("the CRM record has no member starts")
	}
	for _, stop := range []int{-1, 1, 2} {
		want, wok := sel.AppendPlainRowUntil(nil, []byte(crmRecord), stop)
		got, gok := sel.AppendPlainRowAt(nil, []byte(crmRecord), starts, stop, false)
		if !wok || !gok || !bytes.Equal(got, want) {
			t.Errorf("until %d: jumping %s, %v; reading %s, %v", stop, got, gok, want, wok)
		}
	}
	// The members jumped over are not read: damaged, the row is the same.
	doc := `{"identityMap":],"personalEmail":{"address":"m","type":"x"},"mobilePhone":],"z":1}`
	jumps := startsAt(doc, `"personalEmail"`, `"mobilePhone"`, `"z"`)
	got, ok := sel.AppendPlainRowAt(nil, []byte(doc), jumps, -1, false)
	if want := `{"personalEmail":{"address":"m"}}`; !ok || string(got) != want {
		t.Errorf("jumping over damaged members: %s, %v; want %s", got, ok, want)
	}
	if _, ok := sel.AppendPlainRowUntil(nil, []byte(doc), -1); ok {
		t.Error("the damaged record read member by member is refused")
	}
	// With unique names, the rest of a member object is not read once its selected names are
	// met: damaged there, or naming a selected name again (which unique says it does not), the
	// row is the same, and the next member is jumped to; the last member left, the object ends
	// where the record does. Without, the rest is read, and the damage or the repeat sends the
	// row the long way.
	for _, doc := range []string{
		`{"identityMap":],"personalEmail":{"address":"m","type":]},"mobilePhone":],"z":1}`,
		`{"identityMap":],"personalEmail":{"address":"m","address":]},"mobilePhone":],"z":1}`,
		`{"a":1,"personalEmail":{"address":"m","x":]}}`,
	} {
		jumps := startsAt(doc, `"personalEmail"`, `"mobilePhone"`, `"z"`)
		got, ok := sel.AppendPlainRowAt(nil, []byte(doc), jumps, -1, true)
		if want := `{"personalEmail":{"address":"m"}}`; !ok || string(got) != want {
			t.Errorf("%s, leaving personalEmail once its address is met: %s, %v; want %s", doc, got, ok, want)
		}
		if got, ok := sel.AppendPlainRowAt(nil, []byte(doc), jumps, -1, false); ok {
			t.Errorf("%s, reading personalEmail to its end: %s; want the long way", doc, got)
		}
	}
	// Starts that are not its members', or that it cannot have, where the row reads its way to
	// them: false, not a wrong row. (Starts jumped to, or cut short after a member, are taken as
	// they are. Where they are stored, checksums keep them as they were written.)
	past := binary.AppendUvarint(binary.AppendUvarint(nil, 1), uint64(len(crmRecord)))
	back := binary.AppendUvarint(binary.AppendUvarint(nil, 1), 0)
	second := strings.Index(crmRecord, `"person"`)
	// The starts without mobilePhone's, which the row reads its way to after personalEmail.
	var skipped []byte
	prev := 0
	for _, at := range startsOf(t, starts) {
		if !strings.HasPrefix(crmRecord[at:], `"mobilePhone"`) {
			skipped = binary.AppendUvarint(skipped, uint64(at-prev))
			prev = at
		}
	}
	for _, bad := range [][]byte{past, back, {0xff}, {2}, binary.AppendUvarint(nil, uint64(second)), skipped} {
		if got, ok := sel.AppendPlainRowAt(nil, []byte(crmRecord), bad, -1, false); ok {
			t.Errorf("starts % x: %s", bad, got)
		}
	}
}

// startsAt is the member starts of doc whose first member starts at its second byte, and each
// other at the first place of one of names (in order) that doc has.
func startsAt(doc string, names ...string) []byte {
	starts, prev := binary.AppendUvarint(nil, 1), 1
	for _, name := range names {
		if at := strings.Index(doc, name); at > prev {
			starts = binary.AppendUvarint(starts, uint64(at-prev))
			prev = at
		}
	}
	return starts
}
