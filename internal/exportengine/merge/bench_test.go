package merge

import (
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// A person of the benchmark's data: a CRM record, and the loyalty record that shares its email.
const (
	benchCRM     = `{"identityMap":{"CRMID":[{"id":"CRM-00000000","authenticatedState":"authenticated","primary":true}],"Email":[{"id":"niklaus.hopper.0@mail.example","authenticatedState":"authenticated"}]},"person":{"name":{"firstName":"Niklaus","lastName":"Hopper","fullName":"Niklaus Hopper"},"birthYear":1977},"personalEmail":{"address":"niklaus.hopper.0@mail.example","primary":true,"type":"personal","status":"active"},"mobilePhone":{"number":"+33 306 1314","primary":true,"status":"active"},"homeAddress":{"street1":"195 Rue de la Paix","city":"Paris","postalCode":"15435","countryCode":"FR"},"preferredLanguage":"fr-FR","consents":{"marketing":{"email":{"val":"y"},"sms":{"val":"y"}},"collect":{"val":"y"}},"customerSince":"2026-07-21","lifetimeValue":2383.69,"segmentMembership":{"ups":{"5b5a8f2e-3f7c-4d9a-9e61-2c4f0a1b7d01":{"status":"realized","lastQualificationTime":"2026-08-21T22:45:19.941Z","version":"15"},"1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a03":{"status":"realized","lastQualificationTime":"2026-05-06T15:17:13.998Z","version":"15"}}}}`
	benchLoyalty = `{"identities":[{"id":"niklaus.hopper.0@mail.example","namespace":{"code":"Email"},"primary":true},{"id":"04367542563197634482941093680474338188","namespace":{"code":"ECID"}}],"personalEmail":{"address":"niklaus.hopper.0@mail.example","type":"personal","status":"active"},"person":{"name":{"firstName":"Niklaus"}},"loyalty":{"tier":"gold","points":22109,"joinDate":"2026-08-06","program":"Luma Rewards"}}`
)

// BenchmarkMerge merges a person's two fragments and writes the whole profile, as an export of
// whole profiles does for a profile of two fragments.
func BenchmarkMerge(b *testing.B) {
	var m Merger
	frags := []Fragment{{Body: []byte(benchCRM), Rank: Rank{Batch: 0}}, {Body: []byte(benchLoyalty), Rank: Rank{Batch: 1}}}
	b.SetBytes(int64(len(benchCRM) + len(benchLoyalty)))
	var row []byte
	for b.Loop() {
		v, err := m.Merge(frags)
		if err != nil {
			b.Fatal(err)
		}
		row = (*fields.Selector)(nil).AppendRow(row[:0], v)
	}
}
