package segment

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// A run's order is comparePending's: by primary namespace, then id, then sequence, whatever order
// the records came in, for ids that differ within their first 16 bytes, after them, or only in
// trailing zero bytes, and for runs of one namespace or several.
func TestRunOrderIsComparePendings(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	stems := []string{"", "a", "CRM-0000000", "CRM-00000001234", "0123456789abcde", "0123456789abcdef",
		"04367542563197634482941093680474338188", "é"}
	tails := []string{"", "\x00", "\x00\x00", "0", "1", "\xff", "0\x00", "01234567", "ab\x00c"}
	randomID := func() string {
		id := stems[rng.IntN(len(stems))] + tails[rng.IntN(len(tails))]
		if rng.IntN(3) == 0 {
			id += fmt.Sprint(rng.IntN(1000))
		}
		return id
	}
	for _, namespaces := range [][]string{{"ECID"}, {"ECID", "Email", "E", "", "CRMID"}} {
		for _, n := range []int{1, 2, 50, 3000} {
			t.Run(fmt.Sprintf("%d records, %d namespaces", n, len(namespaces)), func(t *testing.T) {
				var pending []pendingRecord
				for _, seq := range rng.Perm(n) {
					id := randomID()
					pending = append(pending, pendingRecord{
						primary: record.Identity{NS: namespaces[rng.IntN(len(namespaces))], ID: id},
						idKey:   IDKey(id), seq: uint64(seq),
					})
				}
				want := slices.Clone(pending)
				slices.SortFunc(want, comparePending)
				var sc orderScratch
				for round := range 2 { // the scratch is kept from run to run
					got := sc.order(pending)
					if len(got) != n {
						t.Fatalf("round %d: %d records ordered, want %d", round, len(got), n)
					}
					for i, k := range got {
						if p := pending[k.idx]; p.primary != want[i].primary || p.seq != want[i].seq {
							t.Fatalf("round %d, record %d: %q seq %d, want %q seq %d",
								round, i, p.primary, p.seq, want[i].primary, want[i].seq)
						}
					}
				}
			})
		}
	}
}
