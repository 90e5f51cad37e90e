package fields

import (
	"bytes"
	"errors"
	"testing"

	"github.com/valyala/fastjson"
)

func TestParseValid(t *testing.T) {
	for in, want := range map[string]string{
		"":                                    "",
		"   ":                                 "",
		"identities.id,personalEmail.address": "identities.id,personalEmail.address",
		" identities.id , personalEmail.address ": "identities.id,personalEmail.address",
		"a(b,c.d)":          "a.b,a.c.d",
		"a ( b , c.d ) , e": "a.b,a.c.d,e",
		"a.b(c(d,e),f)":     "a.b.c.d,a.b.c.e,a.b.f",
		"a.b,a":             "a",   // a parent selects its children
		"a,a.b":             "a",   // whichever comes first
		"a.b,a.b":           "a.b", // repeats are one
		"x,a(b),a.c":        "x,a.b,a.c",
		"identityMap.Email": "identityMap.Email",
		"_id,x-y:z,über":    "_id,x-y:z,über", // names hold any other character
		"\ta\n":             "a",
	} {
		sel, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if got := sel.String(); got != want {
			t.Errorf("Parse(%q) = %q, want %q", in, got, want)
		}
		if again, err := Parse(sel.String()); err != nil || again.String() != sel.String() {
			t.Errorf("Parse(%q).String() does not parse back to itself: %v, %v", in, again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a..b", "position 3: a name is missing between two dots"},
		{"a,,b", "position 3: a path is missing between two commas"},
		{".a", "position 1: a path cannot start with '.'"},
		{"a.", "position 3: a name is missing at the end of the list"},
		{"a,", "position 3: a path is missing after ','"},
		{",a", "position 1: a name is missing before ','"},
		{"a()", "position 3: empty parentheses: name at least one path inside them"},
		{"a(b).c", "position 5: a path cannot continue after ')': write a(b.c) rather than a(b).c"},
		{"a(b)c", "position 5: expected ',' after ')', found 'c'"},
		{"(a)", "position 1: '(' must follow a name, as in a(b,c)"},
		{"a.(b)", "position 3: '(' must follow a name, as in a(b,c)"},
		{"a(,b)", "position 3: a name is missing before ','"},
		{"a(b,)", "position 5: a path is missing after ','"},
		{"a(b", "position 4: '(' is not closed"},
		{"a(b,c", "position 6: '(' is not closed"},
		{"a(", "position 3: '(' is not closed"},
		{"a)", "position 2: ')' has no matching '('"},
		{"a(b))", "position 5: ')' has no matching '('"},
		{"a b", "position 2: whitespace inside a path; names cannot contain spaces"},
		{"a .b", "position 2: whitespace inside a path; remove it around '.'"},
		{"a. b", "position 3: whitespace inside a path; remove it around '.'"},
		{"é..b", "position 3: a name is missing between two dots"}, // positions count characters
	} {
		_, err := Parse(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a syntax error", tc.in, err)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Parse(%q):\n got %s\nwant %s", tc.in, err, tc.want)
		}
	}
}

func TestProjection(t *testing.T) {
	profile := `{"identities":[{"id":"a@example.com","namespace":{"code":"Email"}},{"id":"123","namespace":{"code":"ECID"}},"odd",7],` +
		`"personalEmail":{"address":"a@example.com","status":"active"},"person":{"name":{"firstName":"Ada","lastName":null}},` +
		`"tags":[["x",{"k":1}],[{"k":2},{"j":3}]],"n":null,"empty":{},"s":"text"}`
	for _, tc := range []struct{ fields, want string }{
		{"", profile},
		{"identities.id,personalEmail.address",
			`{"identities":[{"id":"a@example.com"},{"id":"123"}],"personalEmail":{"address":"a@example.com"}}`},
		{"personalEmail", `{"personalEmail":{"address":"a@example.com","status":"active"}}`},
		{"identities(id,namespace.code)",
			`{"identities":[{"id":"a@example.com","namespace":{"code":"Email"}},{"id":"123","namespace":{"code":"ECID"}}]}`},
		{"person.name.lastName", `{"person":{"name":{"lastName":null}}}`}, // a selected null is kept
		{"n", `{"n":null}`},
		{"person.name.middleName", `{}`},             // matches nothing
		{"identities.nope", `{}`},                    // nothing left in any element: the array goes
		{"s.length", `{}`},                           // no names below a string
		{"tags.k", `{"tags":[[{"k":1}],[{"k":2}]]}`}, // arrays of arrays
		{"empty", `{"empty":{}}`},
		{"empty.x", `{}`},
		{"s,personalEmail.status", `{"personalEmail":{"status":"active"},"s":"text"}`}, // the profile's key order
	} {
		sel, err := Parse(tc.fields)
		if err != nil {
			t.Fatal(err)
		}
		v := fastjson.MustParse(profile)
		if got := string(sel.AppendRow(nil, v)); got != tc.want {
			t.Errorf("fields %q:\n got %s\nwant %s", tc.fields, got, tc.want)
		}
	}
}

func TestAppendString(t *testing.T) {
	for in, want := range map[string]string{
		"plain":        `"plain"`,
		"q\"b\\":       `"q\"b\\"`,
		"nl\n\t\r\x01": `"nl\n\t\r\u0001"`,
		"é€😀":          `"é€😀"`,
		"bad\xffbyte":  "\"bad\uFFFDbyte\"",
	} {
		got := string(AppendString(nil, []byte(in)))
		if got != want {
			t.Errorf("AppendString(%q) = %s, want %s", in, got, want)
		}
		if in != "bad\xffbyte" {
			if v, err := fastjson.Parse(got); err != nil || string(v.GetStringBytes()) != in {
				t.Errorf("AppendString(%q) = %s does not decode back: %v", in, got, err)
			}
		}
	}
}

// The checks that read eight bytes at a time find what a byte at a time finds: every byte value
// at every place of strings up to 24 bytes long, among plain bytes and after a byte that borrows
// (a control character, a quote) or is above ASCII.
func TestStringChecksReadWordsAsBytes(t *testing.T) {
	special := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c == '"' || c == '\\' {
				return true
			}
		}
		return false
	}
	plain := func(s []byte) bool {
		for _, c := range s {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	for n := range 25 {
		for _, fill := range []byte{'a', 0x7f, 0xc3, 0xff, ' '} {
			for _, before := range []byte{0, '"', 0x1f, 0x80, 0xff, '!'} {
				for at := range n {
					for c := range 256 {
						s := bytes.Repeat([]byte{fill}, n)
						s[at] = byte(c)
						if at > 0 {
							s[at-1] = before
						}
						if got, want := hasSpecial(s), special(s); got != want {
							t.Fatalf("hasSpecial(%q) = %v, want %v", s, got, want)
						}
						if got, want := plainASCII(s), plain(s); got != want {
							t.Fatalf("plainASCII(%q) = %v, want %v", s, got, want)
						}
					}
				}
			}
		}
	}
}

// TestAppendValueWritesJSONStrings: a string with a quote, a backslash or a control character is
// written as JSON escapes it, whatever else it holds (fastjson's own quoting writes Go's escapes:
// \a, \v, \x01, \x7f), and reads back as the same string.
func TestAppendValueWritesJSONStrings(t *testing.T) {
	for _, doc := range []string{
		`{"s":"\u0007\u000b\u0001\u007f\"\\"}`, `{"s":"\b\f\n\r\t"}`, `{"s":"\"\u00ad\ud83d\ude00\udb40\udc01"}`,
		`["\u001f",{"k\u0001":"v"}]`, `{"s":"plain é"}`,
	} {
		v := fastjson.MustParse(doc)
		out := AppendValue(nil, v)
		back, err := fastjson.ParseBytes(out)
		if err != nil {
			t.Fatalf("%s written as %s: not JSON (%v)", doc, out, err)
		}
		if again := AppendValue(nil, back); !bytes.Equal(again, out) {
			t.Errorf("%s written as %s, read back and written as %s", doc, out, again)
		}
	}
}
