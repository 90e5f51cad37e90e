package record

import "testing"

// Records of the benchmark's generated data (internal/sampledata): a web event and a loyalty
// profile fragment.
const (
	webEvent      = `{"_id":"0eb1a6e7-1199-4f15-a7f3-a92213bfa488","timestamp":"2026-05-31T18:52:33.406Z","eventType":"web.webpagedetails.pageViews","identityMap":{"ECID":[{"id":"04367542563197634482941093680474338188","primary":true}]},"web":{"webPageDetails":{"name":"Checkout","URL":"https://luma.example.com/checkout"}},"environment":{"type":"browser","browserDetails":{"name":"Safari","javaScriptEnabled":true}}}`
	loyaltyRecord = `{"identities":[{"id":"niklaus.hopper.0@mail.example","namespace":{"code":"Email"},"primary":true},{"id":"04367542563197634482941093680474338188","namespace":{"code":"ECID"}}],"personalEmail":{"address":"niklaus.hopper.0@mail.example","type":"personal","status":"active"},"person":{"name":{"firstName":"Niklaus"}},"loyalty":{"tier":"gold","points":22109,"joinDate":"2026-08-06","program":"Luma Rewards"}}`
)

// BenchmarkParse validates a record as ingestion does.
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct {
		name string
		raw  string
		kind Kind
	}{{"event", webEvent, Event}, {"fragment", loyaltyRecord, Fragment}} {
		b.Run(c.name, func(b *testing.B) {
			raw := []byte(c.raw)
			b.SetBytes(int64(len(raw)))
			var p Parser
			for b.Loop() {
				if _, rerr := p.Parse(raw, c.kind); rerr != nil {
					b.Fatal(rerr.Reason)
				}
			}
		})
	}
}
