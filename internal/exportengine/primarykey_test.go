package exportengine

import (
	"math/rand/v2"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
)

// TestComparePrimary: identities order by the keys of their ids as they do in full, whatever
// their lengths around what a key keeps, and with zero bytes where the padding has them.
func TestComparePrimary(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []byte{0, 1, 'a', 'b', 0xff}
	word := func() []byte {
		n := rng.IntN(20) // across the 16 bytes a key keeps
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	sign := func(c int) int { return min(max(c, -1), 1) }
	for range 200_000 {
		a := segment.IDRef{NS: word(), ID: word()}
		b := a
		switch rng.IntN(3) { // often alike, so that the bytes after the kept ones decide
		case 0:
			b = segment.IDRef{NS: word(), ID: word()}
		case 1:
			b.ID = append(append([]byte{}, a.ID[:rng.IntN(len(a.ID)+1)]...), word()...)
		default:
			b.NS = append(append([]byte{}, a.NS[:rng.IntN(len(a.NS)+1)]...), word()...)
		}
		want := sign(a.Compare(b))
		if got := sign(comparePrimary(segment.IDKey(a.ID), segment.IDKey(b.ID), a, b)); got != want {
			t.Fatalf("%q:%q against %q:%q: %d by key, %d in full", a.NS, a.ID, b.NS, b.ID, got, want)
		}
	}
}
