package exportengine

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// randomTime writes a random instant near base (epoch seconds) as RFC 3339: at any precision from
// whole seconds to past the picosecond, often on or just past one of a few milliseconds (so that
// times often share a millisecond or a nanosecond), in one of several offsets. It returns the text
// and the instant in exact seconds.
func randomTime(rng *rand.Rand, base int64) (string, *big.Rat) {
	sec := base + rng.Int64N(3) - 1
	var frac strings.Builder
	switch rng.IntN(4) {
	case 0: // whole seconds
	case 1: // a few digits
		for range 1 + rng.IntN(6) {
			frac.WriteByte(byte('0' + rng.IntN(10)))
		}
	default: // on a millisecond, or a little past it
		fmt.Fprintf(&frac, "%03d", nearMillis(rng))
		frac.WriteString(strings.Repeat("0", rng.IntN(11)))
		if rng.IntN(2) == 0 {
			frac.WriteByte(byte('1' + rng.IntN(9)))
		}
	}
	offsets := []int{0, 0, 3600, -5*3600 - 1800, 14 * 3600}
	off := offsets[rng.IntN(len(offsets))]
	text := time.Unix(sec, 0).In(time.FixedZone("", off)).Format("2006-01-02T15:04:05")
	if frac.Len() > 0 {
		text += "." + frac.String()
	}
	if off == 0 && rng.IntN(2) == 0 {
		text += "Z"
	} else {
		text += time.Unix(sec, 0).In(time.FixedZone("", off)).Format("-07:00")
	}
	exact := new(big.Rat).SetInt64(sec)
	if f := frac.String(); f != "" {
		num, _ := new(big.Int).SetString(f, 10)
		den := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(len(f))), nil)
		exact.Add(exact, new(big.Rat).SetFrac(num, den))
	}
	return text, exact
}

// The times of a request are compared with ingest times and qualification times as instants, as
// export-semantics.md §7 says, whatever their precision: checked against exact arithmetic on
// random times close enough together that they often share a millisecond or a nanosecond.
func TestRequestTimesAreComparedAsInstants(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 16))
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).Unix()
	for range 20000 {
		profileFrom, profileFromAt := randomTime(rng, base)
		eventFrom, eventFromAt := randomTime(rng, base)
		eventTo, eventToAt := randomTime(rng, base)
		start, startAt := randomTime(rng, base)
		end, endAt := randomTime(rng, base)
		spec, err := parseExportRequest(aepwire.ExportJobRequest{
			Destination: aepwire.ExportDestination{DatasetID: "d"},
			Schema:      aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
			Filter: &aepwire.ExportFilter{FromIngestTimestamp: profileFrom,
				SegmentQualificationTime: &aepwire.SegmentQualificationTime{StartTime: start, EndTime: end}},
			AdditionalFields: &aepwire.AdditionalFields{EventList: &aepwire.EventList{
				Filter: &aepwire.EventListFilter{FromIngestTimestamp: eventFrom, ToIngestTimestamp: eventTo}}},
		})
		if err != nil {
			t.Fatal(err)
		}

		ingestMs := (base+rng.Int64N(3)-1)*1000 + int64(nearMillis(rng))
		ingestAt := big.NewRat(ingestMs, 1000)
		if got, want := spec.keepsProfile(ingestMs), ingestAt.Cmp(profileFromAt) > 0; got != want {
			t.Fatalf("a profile updated at %d ms against fromIngestTimestamp %s: kept %v, want %v", ingestMs, profileFrom, got, want)
		}
		if got, want := spec.keepsEvent(ingestMs), ingestAt.Cmp(eventFromAt) > 0 && ingestAt.Cmp(eventToAt) < 0; got != want {
			t.Fatalf("an event ingested at %d ms against the window (%s, %s): kept %v, want %v", ingestMs, eventFrom, eventTo, got, want)
		}

		qualified, qualifiedAt := randomTime(rng, base)
		q, ok := record.ParseInstant(qualified)
		if !ok {
			t.Fatalf("%s does not parse", qualified)
		}
		if got, want := spec.inQualificationWindow(q), qualifiedAt.Cmp(startAt) >= 0 && qualifiedAt.Cmp(endAt) <= 0; got != want {
			t.Fatalf("lastQualificationTime %s against the window [%s, %s]: inside %v, want %v", qualified, start, end, got, want)
		}
	}
}

// nearMillis picks the millisecond of a second that random times and ingest times share often.
func nearMillis(rng *rand.Rand) int {
	if rng.IntN(4) == 0 {
		return rng.IntN(1000)
	}
	return []int{0, 1, 500, 999}[rng.IntN(4)]
}
