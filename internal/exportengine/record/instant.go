package record

import (
	"cmp"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Instant is a point in time at the full precision of its RFC 3339 text: nanoseconds since the
// epoch, and the digits the text has past the ninth of the second (trailing zeros dropped), which
// order two instants that share a nanosecond. Times are compared as instants, never as strings,
// and never cut short: a bound a fraction of a millisecond after a batch's ingest time is after it.
type Instant struct {
	ns  int64
	sub string
}

// ParseInstant parses an RFC 3339 date-time with an offset.
func ParseInstant(s string) (Instant, bool) {
	ns, ok := aepwire.ParseTimestamp(s)
	if !ok {
		return Instant{}, false
	}
	return Instant{ns: ns, sub: subNanosecond(s)}, true
}

// subNanosecond returns the fraction digits of a valid RFC 3339 time past the ninth, without
// trailing zeros: "" for all but the rare time written past the nanosecond.
func subNanosecond(s string) string {
	const point, ninth = len("2006-01-02T15:04:05"), len("2006-01-02T15:04:05.123456789")
	if len(s) <= ninth || s[point] != '.' {
		return ""
	}
	end := point + 1
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end <= ninth {
		return ""
	}
	return strings.TrimRight(s[ninth:end], "0")
}

// MillisInstant is the instant ms milliseconds after the epoch: a batch ingest time, which the
// store keeps in epoch milliseconds.
func MillisInstant(ms int64) Instant { return Instant{ns: ms * 1e6} }

// Compare orders instants: -1 when a is before b, 0 when they are the same instant, +1 after.
func (a Instant) Compare(b Instant) int {
	if c := cmp.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	// Digit strings without trailing zeros order as the fractions they write.
	return strings.Compare(a.sub, b.sub)
}
