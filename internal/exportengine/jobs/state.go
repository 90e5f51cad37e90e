// Package jobs is the lifecycle of export jobs: the states a job goes through, the one table of
// the moves between them, and the runner that claims, runs, cancels and rescues jobs under the
// lock protocol that lets processes sharing a data directory tell a running job from one whose
// runner died. The runner reaches the job table through Store; what a job does is an export
// function it is given.
package jobs

import (
	"fmt"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// State is where a job is in its life. A job is created New and ends in one of the three end
// states (Succeeded, Failed, Cancelled), which it never leaves. Every move is listed in moves and
// is made by one function of the store (see Store), never by writing a status.
type State uint8

const (
	// New is a job as created: accepted, its output batches reserved, waiting for a runner.
	//
	// In: the API creates it (POST /export/jobs).
	// Out: a runner that claims it moves it to Processing, or to Failed when what its request
	// names (destination, merge policy) is gone; a cancellation moves it to Cancelled.
	New State = iota + 1

	// Processing is a job that a runner works on. Its runner holds the job's lock file for as
	// long as it runs it, so that a Processing job whose lock nobody holds is known to have lost
	// its runner.
	//
	// In: a runner claims a New job.
	// Out: its runner ends it Succeeded (the output committed in the same transaction), Failed
	// (the export failed, or the destination went while it ran) or Cancelled (a cancellation
	// reached it). The rescuer, a runner that finds it without a lock holder, claims it again
	// (Processing to Processing: a new attempt, with a warning), or ends it Failed once it has
	// been interrupted MaxAttempts times. A cancellation of a job without a runner ends it
	// Cancelled at once. A runner that stops (its engine closes) leaves it Processing, for the
	// next runner to resume.
	Processing

	// Succeeded is a job whose output batches are committed and visible. An end state.
	Succeeded

	// Failed is a job that will not run again; its errors say why and what to do. Its partial
	// output is discarded. An end state.
	Failed

	// Cancelled is a job stopped by a cancellation (DELETE /export/jobs/{id}) before its output
	// was committed; its partial output is discarded. An end state.
	Cancelled
)

// States lists every state, in the order of the lifecycle.
func States() []State { return []State{New, Processing, Succeeded, Failed, Cancelled} }

// Ended reports whether s is an end state, which a job never leaves.
func (s State) Ended() bool { return s == Succeeded || s == Failed || s == Cancelled }

// Mover is who makes a move.
type Mover string

const (
	// ByAPI is a request of a client: a cancellation.
	ByAPI Mover = "API"
	// ByRunner is the runner that claims and runs a job.
	ByRunner Mover = "runner"
	// ByRescuer is a runner that claims a job whose runner died.
	ByRescuer Mover = "rescuer"
)

// move is one row of the transition table.
type move struct {
	from, to State
	by       []Mover
}

// moves is the transition table: every move a job can make, and who makes it. Nothing else moves
// a job.
var moves = []move{
	{New, Processing, []Mover{ByRunner}},
	{New, Failed, []Mover{ByRunner}}, // what the request names went before the job started
	{New, Cancelled, []Mover{ByAPI}},
	{Processing, Processing, []Mover{ByRescuer}}, // a new attempt after the runner died
	{Processing, Succeeded, []Mover{ByRunner}},
	{Processing, Failed, []Mover{ByRunner, ByRescuer}},
	// The API cancels a job that has lost its runner; the rescuer, one whose cancellation its
	// runner did not live to see.
	{Processing, Cancelled, []Mover{ByRunner, ByRescuer, ByAPI}},
}

// Check returns an error unless the table lets by move a job from from to to.
func Check(from, to State, by Mover) error {
	for _, m := range moves {
		if m.from == from && m.to == to && slices.Contains(m.by, by) {
			return nil
		}
	}
	return &IllegalMoveError{From: from, To: to, By: by}
}

// IllegalMoveError is a move the transition table does not have: a job already ended, a state
// skipped, or a move made by the wrong party.
type IllegalMoveError struct {
	From, To State
	By       Mover
}

func (e *IllegalMoveError) Error() string {
	return fmt.Sprintf("the %s cannot move an export job from %s to %s", e.By, e.From, e.To)
}

// Wire is the state as the API spells it: aepwire.JobNew and the others. The store keeps states
// in this spelling too.
func (s State) Wire() string {
	switch s {
	case New:
		return aepwire.JobNew
	case Processing:
		return aepwire.JobProcessing
	case Succeeded:
		return aepwire.JobSucceeded
	case Failed:
		return aepwire.JobFailed
	case Cancelled:
		return aepwire.JobCancelled
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func (s State) String() string { return s.Wire() }

// ParseWire is the state a wire status names.
func ParseWire(status string) (State, bool) {
	for _, s := range States() {
		if s.Wire() == status {
			return s, true
		}
	}
	return 0, false
}

// Scan reads a state as the store keeps it (database/sql.Scanner).
func (s *State) Scan(src any) error {
	var text string
	switch v := src.(type) {
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return fmt.Errorf("an export job state is text, not %T", src)
	}
	st, ok := ParseWire(text)
	if !ok {
		return fmt.Errorf("%q is not an export job state", text)
	}
	*s = st
	return nil
}

// MaxAttempts bounds how often a job is started: a job whose runner died this often is failed by
// the next runner that finds it, rather than started again.
const MaxAttempts = 3

// Claim is what a runner that has taken a job's lock does with the job as the store has it.
type Claim uint8

const (
	// Skip: the job has ended meanwhile; there is nothing to do.
	Skip Claim = iota
	// Start: a New job begins its first attempt (New to Processing, by the runner).
	Start
	// Resume: a Processing job that nobody held lost its runner; it begins another attempt
	// (Processing to Processing, by the rescuer).
	Resume
	// EndCancelled: a cancellation is recorded that no runner acted on; the job ends Cancelled.
	EndCancelled
	// GiveUp: the job was interrupted MaxAttempts times; it ends Failed.
	GiveUp
)

// Decide is what a runner holding a job's lock does with the job: its state, the attempts it
// has had, and whether a cancellation of it is recorded.
func Decide(state State, attempts int, cancelRequested bool) Claim {
	switch {
	case state.Ended():
		return Skip
	case cancelRequested:
		return EndCancelled
	case state == New:
		return Start
	case attempts >= MaxAttempts:
		return GiveUp
	}
	return Resume
}

// Mover is who makes the moves of a claim: the rescuer for a job that had a runner before.
func (c Claim) Mover(state State) Mover {
	if state == Processing {
		return ByRescuer
	}
	return ByRunner
}
