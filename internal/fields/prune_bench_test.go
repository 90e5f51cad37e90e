package fields

import (
	"fmt"
	"testing"

	"github.com/valyala/fastjson"
)

// A CRM record of the benchmark's generated data (internal/sampledata).
const crmRecord = `{"identityMap":{"CRMID":[{"id":"CRM-00000000","authenticatedState":"authenticated","primary":true}],"Email":[{"id":"niklaus.hopper.0@mail.example","authenticatedState":"authenticated"}]},"person":{"name":{"firstName":"Niklaus","lastName":"Hopper","fullName":"Niklaus Hopper"},"birthYear":1977},"personalEmail":{"address":"niklaus.hopper.0@mail.example","primary":true,"type":"personal","status":"active"},"mobilePhone":{"number":"+33 306 1314","primary":true,"status":"active"},"homeAddress":{"street1":"195 Rue de la Paix","city":"Paris","postalCode":"15435","countryCode":"FR"},"preferredLanguage":"fr-FR","consents":{"marketing":{"email":{"val":"y"},"sms":{"val":"y"}},"collect":{"val":"y"}},"customerSince":"2026-07-21","lifetimeValue":2383.69,"segmentMembership":{"ups":{"5b5a8f2e-3f7c-4d9a-9e61-2c4f0a1b7d01":{"status":"realized","lastQualificationTime":"2026-08-21T22:45:19.941Z","version":"15"},"1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a03":{"status":"realized","lastQualificationTime":"2026-05-06T15:17:13.998Z","version":"15"}}}}`

// BenchmarkPrune compares pruning a record with parsing it whole, which pruning saves.
func BenchmarkPrune(b *testing.B) {
	b.Run("parse whole", func(b *testing.B) {
		b.SetBytes(int64(len(crmRecord)))
		var p fastjson.Parser
		for b.Loop() {
			if _, err := p.ParseBytes([]byte(crmRecord)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, list := range []string{"personalEmail.address,loyalty.points", "identityMap,personalEmail.address,person.name,loyalty.points"} {
		sel, err := Parse(list)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(list, func(b *testing.B) {
			b.SetBytes(int64(len(crmRecord)))
			var dst []byte
			for b.Loop() {
				dst, _ = sel.AppendPruned(dst[:0], []byte(crmRecord))
			}
		})
	}
}

// BenchmarkPlainRow writes the row of the benchmark's 2-field export from a record's bytes.
func BenchmarkPlainRow(b *testing.B) {
	sel, err := Parse("personalEmail.address,loyalty.points")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(crmRecord)))
	var dst []byte
	for b.Loop() {
		var ok bool
		if dst, ok = sel.AppendPlainRow(dst[:0], []byte(crmRecord)); !ok {
			b.Fatal("the record is plain")
		}
	}
}

// BenchmarkPlainRowAt is BenchmarkPlainRow jumping by the record's member starts, read until
// the one name of the two that a CRM record has, as the export reads it.
func BenchmarkPlainRowAt(b *testing.B) {
	sel, err := Parse("personalEmail.address,loyalty.points")
	if err != nil {
		b.Fatal(err)
	}
	starts, ok := AppendMemberStarts(nil, []byte(crmRecord))
	if !ok {
		b.Fatal("the record has member starts")
	}
	rec := []byte(crmRecord)
	for _, c := range []struct{ jump, unique bool }{{false, false}, {true, false}, {true, true}} {
		b.Run(fmt.Sprintf("jump=%v/unique=%v", c.jump, c.unique), func(b *testing.B) {
			at := starts
			if !c.jump {
				at = nil
			}
			b.SetBytes(int64(len(rec)))
			var dst []byte
			for b.Loop() {
				var ok bool
				if dst, ok = sel.AppendPlainRowAt(dst[:0], rec, at, 1, c.unique); !ok {
					b.Fatal("the record is plain")
				}
			}
		})
	}
}

// BenchmarkAppendValue writes a CRM record parsed, as a merged profile's row is written.
func BenchmarkAppendValue(b *testing.B) {
	v := fastjson.MustParse(crmRecord)
	b.SetBytes(int64(len(crmRecord)))
	var dst []byte
	for b.Loop() {
		dst = AppendValue(dst[:0], v)
	}
}

// BenchmarkMemberStarts finds a CRM record's member starts, as ingestion does.
func BenchmarkMemberStarts(b *testing.B) {
	rec := []byte(crmRecord)
	b.SetBytes(int64(len(rec)))
	var dst []byte
	for b.Loop() {
		dst, _ = AppendMemberStarts(dst[:0], rec)
	}
}
