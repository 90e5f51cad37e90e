package aepwire

import (
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Lengths of the identifiers a client sets, which a dataset or an export job keeps and every
// listing of them repeats: enough for any real value (AEP's are short: schema URIs, content
// types, segment UUIDs), small enough that an object, and a page of a thousand, stays small. AEP
// documents none of them.
const (
	// MaxSchemaIDLen is the most characters of a dataset's schemaRef.id, a URI.
	MaxSchemaIDLen = 1024
	// MaxIdentifierLen is the most characters of a dataset's schemaRef.contentType, of an export
	// job's filter.segments[].segmentId and segmentNs, and of an Idempotency-Key.
	MaxIdentifierLen = 256
	// MaxRequestTimeLen is the most characters of a time of an export request: an RFC 3339 time
	// to the nanosecond with an offset has 35, which leaves room for 38 fraction digits.
	MaxRequestTimeLen = 64
)

// CheckLength refuses a value a client set that is longer than limit characters: a 400 with the
// given code that names the field, its length and the limit.
func CheckLength(code, field, value string, limit int) error {
	if len(value) <= limit { // a character has a byte at least
		return nil
	}
	if n := utf8.RuneCountInString(value); n > limit {
		return Errorf(http.StatusBadRequest, code, "Bad request",
			"%s is %d characters long, more than the %d it may have; shorten it", field, n, limit)
	}
	return nil
}

// quotedChars is how many characters of a long value an error message quotes.
const quotedChars = 100

// QuoteShort quotes a value a client sent, for an error message: whole when it has at most 100
// characters, else its first 100 followed by "…(N bytes)", so that a message, and whatever keeps
// it, stays small however long the value.
func QuoteShort(s string) string {
	if len(s) <= quotedChars || utf8.RuneCountInString(s) <= quotedChars {
		return fmt.Sprintf("%q", s)
	}
	end := 0
	for range quotedChars {
		_, size := utf8.DecodeRuneInString(s[end:])
		end += size
	}
	return fmt.Sprintf("%q…(%d bytes)", s[:end], len(s))
}
