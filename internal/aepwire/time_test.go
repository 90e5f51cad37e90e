package aepwire

import (
	"testing"
	"time"
)

func TestParseTimestamp(t *testing.T) {
	base := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"2026-03-04T05:06:07Z", base, true},
		{"2026-03-04t05:06:07z", base, true},
		{"2026-03-04T05:06:07.5Z", base + 500_000_000, true},
		{"2026-03-04T05:06:07.123456789123Z", base + 123_456_789, true}, // digits past nanoseconds dropped
		{"2026-03-04T07:06:07+02:00", base, true},
		{"2026-03-04T00:36:07-04:30", base, true},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixNano(), true},
		{"2026-03-04T05:06:07", 0, false},        // no offset
		{"2026-03-04 05:06:07Z", 0, false},       // space separator
		{"2026-03-04T05:06:07.Z", 0, false},      // empty fraction
		{"2026-02-29T00:00:00Z", 0, false},       // not a leap year
		{"2026-13-01T00:00:00Z", 0, false},       // month
		{"2026-03-04T24:00:00Z", 0, false},       // hour
		{"2026-03-04T05:06:60Z", 0, false},       // leap seconds are not representable
		{"2026-03-04T05:06:07+0200", 0, false},   // offset without colon
		{"2026-03-04T05:06:07+02:00x", 0, false}, // trailing garbage
		{"3000-01-01T00:00:00Z", 0, false},       // beyond int64 nanoseconds
		{"26-03-04T05:06:07Z", 0, false},
		{"", 0, false},
	} {
		got, ok := ParseTimestamp(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseTimestamp(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
