package exportengine

import (
	"cmp"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// instant is a point in time at the full precision of its RFC 3339 text: nanoseconds since the
// epoch, and the digits the text has past the ninth of the second (trailing zeros dropped), which
// order two instants that share a nanosecond. Times are compared as instants, never as strings,
// and never cut short: a bound a fraction of a millisecond after a batch's ingest time is after it.
type instant struct {
	ns  int64
	sub string
}

// parseInstant parses an RFC 3339 date-time with an offset.
func parseInstant(s string) (instant, bool) {
	ns, ok := aepwire.ParseTimestamp(s)
	if !ok {
		return instant{}, false
	}
	return instant{ns: ns, sub: subNanosecond(s)}, true
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

// ingestInstant is the instant of a batch ingest time, which the store keeps in epoch milliseconds.
func ingestInstant(ms int64) instant { return instant{ns: ms * 1e6} }

func (a instant) compare(b instant) int {
	if c := cmp.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	// Digit strings without trailing zeros order as the fractions they write.
	return strings.Compare(a.sub, b.sub)
}
