package aepwire

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestQuoteShort: a value of up to 100 characters is quoted whole; a longer one, its first 100
// characters (never a character cut in two) and its length in bytes.
func TestQuoteShort(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"a\"b", `"a\"b"`},
		{strings.Repeat("x", 100), `"` + strings.Repeat("x", 100) + `"`},
		{strings.Repeat("é", 100), `"` + strings.Repeat("é", 100) + `"`},
		{strings.Repeat("x", 101), `"` + strings.Repeat("x", 100) + `"…(101 bytes)`},
		{strings.Repeat("é", 1<<20), `"` + strings.Repeat("é", 100) + `"…(2097152 bytes)`},
		{strings.Repeat("\x01", 5000), `"` + strings.Repeat(`\x01`, 100) + `"…(5000 bytes)`},
	} {
		if got := QuoteShort(tc.in); got != tc.want {
			t.Errorf("QuoteShort(%.40q) = %.200s, want %.200s", tc.in, got, tc.want)
		}
	}
}

// TestCheckLength: a value of more characters than its limit is a 400 that names the field, its
// length and the limit; one at the limit passes, however many bytes its characters take.
func TestCheckLength(t *testing.T) {
	if err := CheckLength("CAT-1400", "schemaRef.id", strings.Repeat("é", 8), 8); err != nil {
		t.Errorf("8 characters against a limit of 8: %v", err)
	}
	err := CheckLength("CAT-1400", "schemaRef.id", strings.Repeat("é", 9), 8)
	want := "schemaRef.id is 9 characters long, more than the 8 it may have; shorten it"
	var we *Error
	if !errors.As(err, &we) || we.Status != http.StatusBadRequest || we.Code != "CAT-1400" || we.Detail != want {
		t.Errorf("9 characters against a limit of 8: %v, want a 400 saying %q", err, want)
	}
}
