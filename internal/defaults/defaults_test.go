package defaults

import (
	"testing"
	"time"
)

func TestPositive(t *testing.T) {
	for _, tc := range []struct{ in, want time.Duration }{
		{0, time.Second},
		{-5, time.Second},
		{time.Millisecond, time.Millisecond},
	} {
		got := tc.in
		Positive(&got, time.Second)
		if got != tc.want {
			t.Errorf("Positive(%v, 1s) = %v, want %v", tc.in, got, tc.want)
		}
	}
	n := 0
	Positive(&n, 7)
	if n != 7 {
		t.Errorf("Positive(0, 7) = %d, want 7", n)
	}
}
