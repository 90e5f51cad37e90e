package jobs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The transition table, written out: every move and who may make it; every pair not listed is
// refused, whoever asks.
func TestTransitionTable(t *testing.T) {
	allowed := map[[3]string]bool{}
	for _, m := range []struct {
		from, to State
		by       Mover
	}{
		{New, Processing, ByRunner},
		{New, Failed, ByRunner},
		{New, Cancelled, ByAPI},
		{Processing, Processing, ByRescuer},
		{Processing, Succeeded, ByRunner},
		{Processing, Failed, ByRunner},
		{Processing, Failed, ByRescuer},
		{Processing, Cancelled, ByRunner},
		{Processing, Cancelled, ByRescuer},
		{Processing, Cancelled, ByAPI},
	} {
		allowed[[3]string{m.from.String(), m.to.String(), string(m.by)}] = true
	}
	for _, from := range States() {
		for _, to := range States() {
			for _, by := range []Mover{ByAPI, ByRunner, ByRescuer} {
				err := Check(from, to, by)
				want := allowed[[3]string{from.String(), to.String(), string(by)}]
				if (err == nil) != want {
					t.Errorf("Check(%s, %s, %s) = %v, want allowed %v", from, to, by, err, want)
				}
				var illegal *IllegalMoveError
				if err != nil && (!errors.As(err, &illegal) || illegal.From != from || illegal.To != to) {
					t.Errorf("Check(%s, %s, %s) = %#v, want an IllegalMoveError naming the move", from, to, by, err)
				}
			}
		}
	}
	for _, s := range States() {
		if s.Ended() {
			for _, to := range States() {
				for _, by := range []Mover{ByAPI, ByRunner, ByRescuer} {
					if Check(s, to, by) == nil {
						t.Errorf("the end state %s can be left for %s", s, to)
					}
				}
			}
		}
	}
}

func TestWireSpelling(t *testing.T) {
	want := map[State]string{New: aepwire.JobNew, Processing: aepwire.JobProcessing, Succeeded: aepwire.JobSucceeded,
		Failed: aepwire.JobFailed, Cancelled: aepwire.JobCancelled}
	for _, s := range States() {
		if s.Wire() != want[s] {
			t.Errorf("%d spells %q, want %q", s, s.Wire(), want[s])
		}
		if got, ok := ParseWire(s.Wire()); !ok || got != s {
			t.Errorf("ParseWire(%q) = %v, %v", s.Wire(), got, ok)
		}
		if s.Ended() != aepwire.JobTerminal(s.Wire()) {
			t.Errorf("%s: Ended %v, but the API says terminal %v", s, s.Ended(), aepwire.JobTerminal(s.Wire()))
		}
		var scanned State
		if err := scanned.Scan([]byte(s.Wire())); err != nil || scanned != s {
			t.Errorf("Scan(%q) = %v, %v", s.Wire(), scanned, err)
		}
	}
	if _, ok := ParseWire("processing"); ok {
		t.Error("ParseWire accepts a lower-case status: the store and the API spell states in capitals")
	}
	var s State
	if err := s.Scan("RUNNING"); err == nil {
		t.Error("Scan accepts a state that does not exist")
	}
	if err := s.Scan(int64(1)); err == nil {
		t.Error("Scan accepts a number")
	}
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		state     State
		attempts  int
		cancelled bool
		want      Claim
		by        Mover
	}{
		{New, 0, false, Start, ByRunner},
		{Processing, 1, false, Resume, ByRescuer},
		{Processing, MaxAttempts - 1, false, Resume, ByRescuer},
		{Processing, MaxAttempts, false, GiveUp, ByRescuer},
		{Processing, 1, true, EndCancelled, ByRescuer},
		{Processing, MaxAttempts, true, EndCancelled, ByRescuer}, // a cancellation wins over giving up
		{Succeeded, 1, false, Skip, ByRunner},
		{Failed, 3, true, Skip, ByRunner},
		{Cancelled, 0, true, Skip, ByRunner},
	} {
		t.Run(fmt.Sprintf("%s/%d/%v", tc.state, tc.attempts, tc.cancelled), func(t *testing.T) {
			got := Decide(tc.state, tc.attempts, tc.cancelled)
			if got != tc.want {
				t.Fatalf("Decide = %d, want %d", got, tc.want)
			}
			if got != Skip && got.Mover(tc.state) != tc.by {
				t.Errorf("moved by %s, want %s", got.Mover(tc.state), tc.by)
			}
			// Every decision that moves the job is a move of the table.
			to := map[Claim]State{Start: Processing, Resume: Processing, EndCancelled: Cancelled, GiveUp: Failed}
			if got != Skip {
				if err := Check(tc.state, to[got], got.Mover(tc.state)); err != nil {
					t.Errorf("the decision is not a move of the table: %v", err)
				}
			}
		})
	}
}
