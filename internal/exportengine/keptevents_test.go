package exportengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// eventsLog records what each export did with the event bodies kept beside the identity graph.
type eventsLog struct {
	mu        sync.Mutex
	kept      []error
	read      []int64 // one an export that read kept bodies: events read from them
	fromStore []int64 // and from the store instead
}

func (l *eventsLog) hooks(h Hooks) Hooks {
	h.EventsKept = func(err error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.kept = append(l.kept, err)
	}
	h.EventsRead = func(kept, fromStore int64) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.read, l.fromStore = append(l.read, kept), append(l.fromStore, fromStore)
	}
	return h
}

// keptCount is how many exports kept event bodies; one that could not fails the test.
func (l *eventsLog) keptCount(t *testing.T) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, err := range l.kept {
		if err != nil {
			t.Errorf("keeping the event bodies: %v", err)
		}
	}
	return len(l.kept)
}

// reads is what the exports that read kept bodies read, "kept/from store" each.
func (l *eventsLog) reads() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for i := range l.read {
		s = append(s, fmt.Sprintf("%d/%d", l.read[i], l.fromStore[i]))
	}
	return s
}

// keptThenRead checks that kept exports kept the event bodies, and that one export then read
// them, every event from them and none from the store.
func (l *eventsLog) keptThenRead(t *testing.T, kept int) {
	t.Helper()
	reads := l.reads()
	if n := l.keptCount(t); n != kept || len(reads) != 1 || strings.HasPrefix(reads[0], "0/") || !strings.HasSuffix(reads[0], "/0") {
		t.Errorf("the event bodies were kept %d times, and read %v (kept/from the store), want %d, and one export reading all its events from them", n, reads, kept)
	}
}

// newKeptEnv is an engine that runs jobs and logs what its exports do with what is kept, with
// Ada and Bob ingested.
func newKeptEnv(t *testing.T) (*jobEnv, *graphLog, *eventsLog) {
	graphs, events := &graphLog{}, &eventsLog{}
	env := newJobEnv(t, Options{RunJobs: true, Hooks: events.hooks(graphs.hooks(t))})
	ingestLines(t, env.e, env.crm, keptAda, keptBob)
	return env, graphs, events
}

// The export that builds the identity graph keeps no event bodies. The next, which reads the graph
// kept, keeps its events' bodies beside it, in the order it emits them; the export after it reads
// its events from there. A kept body that does not check out (changed, cut off, or of another
// store) is read from its batch: the rows are the same.
func TestKeptEventsAreReadInsteadOfTheStore(t *testing.T) {
	env, graphs, events := newKeptEnv(t)
	ctx := context.Background()
	// Five events: two of Bob's ECID (linked to Bob by his e-mail), one of them in a later
	// batch; two of Ada's; one of a visitor known by nothing else, which is no profile of the
	// export but is read with the others.
	ev := func(id, ecid, email string) string {
		em := ""
		if email != "" {
			em = `,"Email":[{"id":"` + email + `"}]`
		}
		return `{"_id":"` + id + `","timestamp":"2026-01-02T03:04:0` + id[1:] + `Z","eventType":"web.webpagedetails.pageViews",` +
			`"identityMap":{"ECID":[{"id":"` + ecid + `","primary":true}]` + em + `},"web":{"webPageDetails":{"name":"page ` + id + `"}}}`
	}
	ingestLines(t, env.e, env.web, ev("e1", "9", "bob@example.com"), ev("e2", "1", "ada@example.com"), ev("e3", "5", ""),
		ev("e4", "1", ""))
	ingestLines(t, env.e, env.web, ev("e5", "9", ""))

	want := env.exportPDG(ctx, t)
	if len(want) != 2 || strings.Count(want[0]+want[1], `"page e`) != 4 {
		t.Fatalf("%d rows, want Ada's and Bob's with two events each:\n%s", len(want), strings.Join(want, "\n"))
	}
	path := env.e.keptEventsPath(aepwire.DefaultSandbox)
	if n := events.keptCount(t); !slices.Equal(graphs.all(), []string{"built"}) || n != 0 {
		t.Fatalf("the first export: graph %v, event bodies kept %d times, want built and none", graphs.all(), n)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the first export's event bodies: %v, want none", err)
	}
	if got := env.exportPDG(ctx, t); !slices.Equal(got, want) {
		t.Fatalf("rows of the export that keeps the bodies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := events.keptCount(t); !slices.Equal(graphs.all(), []string{"built", "reused"}) || n != 1 || len(events.reads()) != 0 {
		t.Fatalf("the second export: graph %v, event bodies kept %d times and read %v, want reused, once and none", graphs.all(), n, events.reads())
	}
	kept, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := env.exportPDG(ctx, t); !slices.Equal(got, want) {
		t.Fatalf("rows from the kept bodies:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := events.reads(); !slices.Equal(got, []string{"5/0"}) || events.keptCount(t) != 1 {
		t.Fatalf("the third export read %v of the kept bodies, want 5/0, and kept none", got)
	}

	// Each event's body is there once, in full.
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		if n := strings.Count(string(kept), `"_id":"`+id+`"`); n != 1 {
			t.Fatalf("event %s is %d times in the kept bodies", id, n)
		}
	}
	body := strings.Index(string(kept), `"page e`)
	// e3 and e4 have bodies of one size: swapped, each checks out as a body, but not as the event
	// the graph puts there.
	e3, e4 := strings.Index(string(kept), `{"_id":"e3"`), strings.Index(string(kept), `{"_id":"e4"`)
	size := len(ev("e3", "5", "")) + 4
	if e3 < 0 || e4 < 0 || len(ev("e4", "1", ""))+4 != size {
		t.Fatal("e3 and e4 are not kept, or not of one size")
	}
	swapped := slices.Clone(kept)
	copy(swapped[e3:], kept[e4:e4+size])
	copy(swapped[e4:], kept[e3:e3+size])
	for _, damage := range []struct {
		name     string
		file     []byte
		wantRead string // "" when the kept bodies are not read at all
	}{
		{"a byte of a body changed", func() []byte { b := slices.Clone(kept); b[body] ^= 1; return b }(), "4/1"},
		{"a body's checksum changed", func() []byte { b := slices.Clone(kept); b[len(b)-1] ^= 1; return b }(), "4/1"},
		{"two bodies of one size swapped", swapped, "3/2"},
		// The five are read together: a read that comes short reads them all from the store.
		{"cut off in the last body", kept[:len(kept)-10], "0/5"},
		{"cut off after the header", kept[:keptEventsHeaderSize], "0/5"},
		// Bodies that are not this store's are not read, and the export keeps them anew.
		{"of another store", func() []byte { b := slices.Clone(kept); b[keptEventsHeaderSize-1] ^= 1; return b }(), ""},
		{"empty", []byte{}, ""},
		{"not there", nil, ""},
	} {
		if damage.file == nil {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		} else if err := os.WriteFile(path, damage.file, 0o600); err != nil {
			t.Fatal(err)
		}
		before, keptBefore := len(events.reads()), events.keptCount(t)
		if got := env.exportPDG(ctx, t); !slices.Equal(got, want) {
			t.Fatalf("%s: rows\n%s\nwant\n%s", damage.name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		var read string
		if r := events.reads(); len(r) > before {
			read = r[before]
		}
		if read != damage.wantRead {
			t.Errorf("%s: read %q of the kept bodies, want %q", damage.name, read, damage.wantRead)
		}
		if graphs.last() != "reused" {
			t.Fatalf("%s: the export %s the graph", damage.name, graphs.last())
		}
		keptAnew := events.keptCount(t) - keptBefore
		if damage.wantRead != "" && keptAnew != 0 {
			t.Errorf("%s: the export kept the bodies anew", damage.name)
		}
		if damage.wantRead == "" {
			again, err := os.ReadFile(path)
			if keptAnew != 1 || err != nil || !slices.Equal(again, kept) {
				t.Errorf("%s: the export kept the bodies %d times (%v), want once, as the second did", damage.name, keptAnew, err)
			}
		}
	}
}

// The event bodies go with the graph they were kept with: once the store changes, the export
// that builds its graph removes them unread, the one after keeps new bodies, and the one after
// that reads those. Bodies of the store whose graph is built again (its file lost) stay, and are
// read.
func TestKeptEventsFollowTheGraph(t *testing.T) {
	env, graphs, events := newKeptEnv(t)
	ctx := context.Background()
	ingestLines(t, env.e, env.web, keptEvent)
	env.exportPDG(ctx, t)
	env.exportPDG(ctx, t) // keeps the bodies of this store
	path := env.e.keptEventsPath(aepwire.DefaultSandbox)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the second export kept no bodies: %v", err)
	}
	ingestLines(t, env.e, env.crm, keptLink)
	second := `{"_id":"e2","timestamp":"2026-01-02T03:04:06Z","eventType":"web.webpagedetails.pageViews","identityMap":{"ECID":[{"id":"2","primary":true}],"Email":[{"id":"ada@example.com"}]}}`
	ingestLines(t, env.e, env.web, second)
	built := env.exportPDG(ctx, t)
	if len(built) != 1 {
		t.Fatalf("Ada and Bob linked gave %d rows, want 1", len(built))
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bodies of the store before, once the graph of the store after is kept: %v, want them removed", err)
	}
	for _, step := range []string{"keeping the bodies", "from the kept bodies"} {
		if got := env.exportPDG(ctx, t); !slices.Equal(got, built) {
			t.Fatalf("rows %s:\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(built, "\n"))
		}
	}
	if got, want := graphs.all(), []string{"built", "reused", "built", "reused", "reused"}; !slices.Equal(got, want) {
		t.Fatalf("the exports did %v with the graph, want %v", got, want)
	}
	if got := events.reads(); !slices.Equal(got, []string{"2/0"}) || events.keptCount(t) != 2 {
		t.Fatalf("the exports read %v of the kept bodies and kept them %d times, want 2/0 and twice", got, events.keptCount(t))
	}

	kept, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(env.e.keptGraphPath(aepwire.DefaultSandbox)); err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"building the graph again", "from the bodies kept before"} {
		if got := env.exportPDG(ctx, t); !slices.Equal(got, built) {
			t.Fatalf("rows %s:\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(built, "\n"))
		}
		if again, err := os.ReadFile(path); err != nil || !slices.Equal(again, kept) {
			t.Fatalf("%s: the bodies kept changed, or are gone (%v)", step, err)
		}
	}
	if got := events.reads(); !slices.Equal(got, []string{"2/0", "2/0"}) || events.keptCount(t) != 2 || graphs.last() != "reused" {
		t.Fatalf("after the graph was built again: read %v, kept %d times, the graph %s; want the bodies kept before read, and the graph reused",
			got, events.keptCount(t), graphs.last())
	}
}

// A profile past AEP's guardrail is not exported, and its events are not kept: the events of the
// profiles after it still find their bodies.
func TestKeptEventsSkipProfilesPastTheGuardrail(t *testing.T) {
	var events eventsLog
	env := newJobEnv(t, Options{RunJobs: true, Hooks: events.hooks(Hooks{})})
	ctx := context.Background()
	ingestLines(t, env.e, env.crm, keptAda, keptBob)
	// One identity graph of 52 identities, smaller in each namespace than Ada's and Bob's, so
	// that it comes first: one CRM record and one event of it.
	var emails []string
	for i := range maxGraphIdentities {
		emails = append(emails, fmt.Sprintf(`{"id":"0-%02d@example.com"}`, i))
	}
	big := `"Email":[` + strings.Join(emails, ",") + `]`
	ingestLines(t, env.e, env.crm, `{"_id":"big","identityMap":{"CRMID":[{"id":"a","primary":true}],`+big+`}}`)
	ingestLines(t, env.e, env.web,
		`{"_id":"e0","timestamp":"2026-01-02T03:04:00Z","eventType":"web.webpagedetails.pageViews","identityMap":{"ECID":[{"id":"0","primary":true}],`+big+`}}`,
		keptEvent,
		`{"_id":"e2","timestamp":"2026-01-02T03:04:06Z","eventType":"web.webpagedetails.pageViews","identityMap":{"ECID":[{"id":"2","primary":true}],"Email":[{"id":"ada@example.com"}]}}`)
	want := env.exportPDG(ctx, t)
	if len(want) != 2 {
		t.Fatalf("%d rows, want Ada's and Bob's:\n%s", len(want), strings.Join(want, "\n"))
	}
	for _, step := range []string{"keeping the bodies", "from the kept bodies"} {
		if got := env.exportPDG(ctx, t); !slices.Equal(got, want) {
			t.Fatalf("rows %s:\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	if got := events.reads(); !slices.Equal(got, []string{"2/0"}) || events.keptCount(t) != 1 {
		t.Fatalf("the third export read %v of the kept bodies, kept %d times; want 2/0, kept once", got, events.keptCount(t))
	}
}

// Deleting a batch of the profile store removes what exports kept of the store, event bodies and
// all: they hold the deleted batch's records. Deleting an export's own batch does not.
func TestDeletingABatchDropsWhatIsKept(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true})
	ctx := context.Background()
	ingestLines(t, env.e, env.crm, keptAda, keptBob)
	events := ingestLines(t, env.e, env.web, keptEvent)
	paths := []string{env.e.keptGraphPath(aepwire.DefaultSandbox), env.e.keptEventsPath(aepwire.DefaultSandbox)}
	kept := func(want bool, step string) {
		t.Helper()
		for _, p := range paths {
			if _, err := os.Stat(p); (err == nil) != want {
				t.Fatalf("%s: %s kept %v (%v), want %v", step, p, err == nil, err, want)
			}
		}
	}
	export := func() string {
		t.Helper()
		j := env.startPDG(ctx, t)
		if done := wait(t, env.e, j.ID); done.Status != aepwire.JobSucceeded {
			t.Fatalf("export ended %s: %+v", done.Status, done.Errors)
		}
		return j.Destination.BatchID
	}
	export() // builds the graph
	out := export()
	kept(true, "after two exports")
	if err := env.e.DeleteBatch(ctx, out); err != nil {
		t.Fatal(err)
	}
	kept(true, "the export's batch deleted")
	if err := env.e.DeleteBatch(ctx, events.ID); err != nil {
		t.Fatal(err)
	}
	kept(false, "an event batch deleted")
	export()
	export()
	kept(true, "after two more exports")
	if err := env.e.DeleteDataset(ctx, env.crm); err != nil {
		t.Fatal(err)
	}
	kept(false, "a profile dataset deleted")
}

// An export whose store changes while it runs keeps nothing of it: a batch deleted meanwhile
// must not find its records kept again by an export that read them before. Both what keeps
// something are held so: the export that builds the graph, and the one after, which keeps the
// event bodies.
func TestNothingKeptOfAStoreThatChanged(t *testing.T) {
	for _, held := range []string{"building the graph", "keeping the event bodies"} {
		t.Run(held, func(t *testing.T) {
			gate := newChunkGate(t, 0)
			var armed atomic.Bool // the first export goes through where the second is held
			var graphErr, eventsErr error
			var eventsKept int
			hooks := Hooks{
				BeforeExportChunk: func(ctx context.Context, seq int) {
					if armed.Load() {
						gate.hooks().BeforeExportChunk(ctx, seq)
					}
				},
				GraphDone:  func(_ bool, err error) { graphErr = err },
				EventsKept: func(err error) { eventsErr, eventsKept = err, eventsKept+1 },
			}
			env := newJobEnv(t, Options{RunJobs: true, Hooks: hooks})
			ctx := context.Background()
			ingestLines(t, env.e, env.crm, keptAda, keptBob)
			events := ingestLines(t, env.e, env.web, keptEvent)
			if held == "keeping the event bodies" {
				env.exportPDG(ctx, t)
			}
			armed.Store(true)
			j := env.startPDG(ctx, t)
			gate.await(t) // the export has read the store's records, and is emitting its profiles
			if err := env.e.DeleteBatch(ctx, events.ID); err != nil {
				t.Fatal(err)
			}
			gate.release()
			if done := wait(t, env.e, j.ID); done.Status != aepwire.JobSucceeded {
				t.Fatalf("export ended %s: %+v", done.Status, done.Errors)
			}
			// The hooks ran before the job ended. Building, the graph was kept before the batch
			// was deleted (the store's one chunk goes after it), and the deletion removed it; the
			// event bodies, which the writer of the export after keeps after the chunk, are not
			// kept.
			switch {
			case graphErr != nil:
				t.Errorf("keeping the graph: %v, want it kept, then dropped", graphErr)
			case held == "building the graph" && eventsKept != 0:
				t.Errorf("the export that built the graph kept the event bodies (%v)", eventsErr)
			case held == "keeping the event bodies" && (eventsKept != 1 || !errors.Is(eventsErr, errStoreChanged)):
				t.Errorf("keeping the event bodies, %d times: %v, want once, and not kept", eventsKept, eventsErr)
			}
			for _, p := range []string{env.e.keptGraphPath(aepwire.DefaultSandbox), env.e.keptEventsPath(aepwire.DefaultSandbox)} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s: %v, want it not kept", p, err)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(env.e.batchDir(j.Destination.BatchID), "*", "events-*")); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}

// An export does not keep the event bodies where the file system has less than eventsRoom times
// their size free: the copy is a cache, and must not take the room the export's rows need. The
// exports read their events from the store instead, with the same rows.
func TestKeptEventsNeedRoom(t *testing.T) {
	env, graphs, events := newKeptEnv(t)
	ctx := context.Background()
	ingestLines(t, env.e, env.web, keptEvent)
	var size uint64
	env.e.freeSpace = func(string) (uint64, error) { return size, nil }

	size = uint64(len(keptEvent)+4)*eventsRoom - 1 // one byte short of room for the one event
	first := env.exportPDG(ctx, t)                 // builds the graph, and keeps no bodies
	for i := range 2 {
		if again := env.exportPDG(ctx, t); !slices.Equal(first, again) || len(first) != 2 {
			t.Fatalf("rows\n%s\nthen, export %d\n%s", strings.Join(first, "\n"), i+2, strings.Join(again, "\n"))
		}
	}
	events.mu.Lock()
	kept, read := slices.Clone(events.kept), len(events.read)
	events.mu.Unlock()
	if len(kept) != 2 || !errors.Is(kept[0], errNoRoom) || !errors.Is(kept[1], errNoRoom) || read != 0 {
		t.Fatalf("keeping the bodies: %v, read %d times; want not kept, by the second and third export, for want of room", kept, read)
	}
	if _, err := os.Stat(env.e.keptEventsPath(aepwire.DefaultSandbox)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the bodies were kept: %v", err)
	}
	if got := graphs.all(); !slices.Equal(got, []string{"built", "reused", "reused"}) {
		t.Fatalf("the exports did %v with the graph", got)
	}

	size++ // room enough: the next export keeps them
	env.exportPDG(ctx, t)
	events.mu.Lock()
	defer events.mu.Unlock()
	if len(events.kept) != 3 || events.kept[2] != nil {
		t.Fatalf("with room: %v, want the bodies kept", events.kept)
	}
}

// An export cancelled while it keeps the event bodies (its own goroutine, behind the writer)
// keeps none of them and leaves nothing in its job's directory; the next export keeps them, and
// the one after reads them.
func TestCancelledWhileKeepingEvents(t *testing.T) {
	gate := newChunkGate(t, 0)
	events := &eventsLog{}
	env := newJobEnv(t, Options{RunJobs: true, Hooks: events.hooks(Hooks{BeforeKeepingEvents: gate.hooks().BeforeExportChunk})})
	env.ingestSample(t, 300)
	ctx := context.Background()
	env.exportPDG(ctx, t) // builds the graph, and keeps no bodies: the gate does not hold it
	j := env.startPDG(ctx, t)
	gate.await(t) // the first chunk's rows are written, and its events are about to be kept
	if err := env.e.CancelExportJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if done := wait(t, env.e, j.ID); done.Status != aepwire.JobCancelled {
		t.Fatalf("export ended %s (%+v), want cancelled", done.Status, done.Errors)
	}
	if _, err := os.Stat(env.e.keptEventsPath(aepwire.DefaultSandbox)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cancelled export's event bodies: %v, want them not kept", err)
	}
	if left, _ := filepath.Glob(filepath.Join(env.e.batchDir(j.Destination.BatchID), "*", "events-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if n := events.keptCount(t); n != 0 {
		t.Errorf("the cancelled export kept the event bodies (%d)", n)
	}
	gate.release()
	var rows [2][]string
	for i := range rows {
		j := env.startPDG(ctx, t)
		done := wait(t, env.e, j.ID)
		if done.Status != aepwire.JobSucceeded {
			t.Fatalf("export %d ended %s: %+v", i+2, done.Status, done.Errors)
		}
		rows[i] = exportedRows(t, env.e, done.Destination.BatchID)
	}
	events.keptThenRead(t, 1)
	if len(rows[0]) == 0 || !slices.Equal(rows[0], rows[1]) {
		t.Errorf("the exports wrote %d and %d rows, or other rows", len(rows[0]), len(rows[1]))
	}
}

// An export that starts while the export before it keeps the event bodies of the kept graph
// waits for those, and reads them: the bodies are kept once, and never read half written.
func TestExportWaitsForTheBodiesBeingKept(t *testing.T) {
	graphs, events := &graphLog{}, &eventsLog{}
	h := startHeldKeeping(t, events.hooks(graphs.hooks(t)))
	rows := afterWaiting(h.ctx, t, h.env, h.waiting, h.gate, h.keeper, h.env.startPDG(h.ctx, t))
	if got, want := graphs.all(), []string{"built", "reused", "reused"}; !slices.Equal(got, want) {
		t.Errorf("the exports did %v with the identity graph, want %v", got, want)
	}
	events.keptThenRead(t, 1)
	if len(rows[0]) == 0 || !slices.Equal(rows[0], rows[1]) {
		t.Errorf("the exports wrote %d and %d rows, or other rows", len(rows[0]), len(rows[1]))
	}
}

// An export that reads a kept graph whose event bodies were kept and are gone keeps them anew,
// and holds the store's turn while it does: an export that starts meanwhile waits, then reads
// the bodies.
func TestExportWaitsForTheBodiesKeptAnew(t *testing.T) {
	gate := newChunkGate(t, 0)
	graphs, events := &graphLog{}, &eventsLog{}
	var held atomic.Bool // the copy is held only once armed: the first export's goes through
	waiting := make(chan struct{})
	var waitOnce sync.Once
	hooks := events.hooks(graphs.hooks(t))
	hooks.BeforeKeepingEvents = func(ctx context.Context, seq int) {
		if held.Load() {
			gate.hooks().BeforeExportChunk(ctx, seq)
		}
	}
	hooks.WaitForGraph = func() { waitOnce.Do(func() { close(waiting) }) }
	env := newJobEnv(t, Options{RunJobs: true, MaxConcurrentJobs: 2, Hooks: hooks})
	env.ingestSample(t, 300)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	first := env.exportPDG(ctx, t)
	env.exportPDG(ctx, t) // keeps the bodies
	if err := os.Remove(env.e.keptEventsPath(aepwire.DefaultSandbox)); err != nil {
		t.Fatal(err)
	}
	held.Store(true)
	anew := env.startPDG(ctx, t)
	gate.await(t) // it read the kept graph, and keeps the bodies anew, held at the first chunk
	rows := afterWaiting(ctx, t, env, waiting, gate, anew, env.startPDG(ctx, t))
	if len(rows[0]) != len(first) || !slices.Equal(rows[0], rows[1]) {
		t.Errorf("the exports wrote %d, %d and %d rows, or other rows", len(first), len(rows[0]), len(rows[1]))
	}
	if got, want := graphs.all(), []string{"built", "reused", "reused", "reused"}; !slices.Equal(got, want) {
		t.Errorf("the exports did %v with the identity graph, want %v", got, want)
	}
	events.keptThenRead(t, 2)
}

// heldKeeping is an engine with two job slots, and an export through the identity graph (keeper)
// that has read the graph an export before it kept, and is held by gate as it keeps the first
// chunk's event bodies (where heldBuild holds an export that builds the graph as it emits its
// first chunk, as an export of any policy does).
type heldKeeping struct {
	ctx     context.Context
	env     *jobEnv
	gate    *chunkGate
	waiting chan struct{} // closed once an export waits for the store's turn
	keeper  *aepwire.ExportJob
}

// startHeldKeeping starts a heldKeeping whose engine has hooks, their GraphDone wrapped, and their
// BeforeKeepingEvents and WaitForGraph replaced.
func startHeldKeeping(t *testing.T, hooks Hooks) *heldKeeping {
	t.Helper()
	h := &heldKeeping{gate: newChunkGate(t, 0), waiting: make(chan struct{})}
	graphRead := make(chan struct{})
	var readOnce, waitOnce sync.Once
	graphDone := hooks.GraphDone
	hooks.GraphDone = func(reused bool, err error) {
		if graphDone != nil {
			graphDone(reused, err)
		}
		if reused {
			readOnce.Do(func() { close(graphRead) })
		}
	}
	hooks.BeforeKeepingEvents = h.gate.hooks().BeforeExportChunk
	hooks.WaitForGraph = func() { waitOnce.Do(func() { close(h.waiting) }) }
	h.env = newJobEnv(t, Options{RunJobs: true, MaxConcurrentJobs: 2, Hooks: hooks})
	h.env.ingestSample(t, 300)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	h.ctx = ctx
	h.env.exportPDG(ctx, t) // builds and keeps the graph, and keeps no event bodies
	h.keeper = h.env.startPDG(ctx, t)
	h.gate.await(t) // the keeper keeps the first chunk's event bodies, held there
	select {
	case <-graphRead: // having read the kept graph
	case <-ctx.Done():
		t.Fatal("the keeper did not read the kept graph")
	}
	return h
}

// afterWaiting waits for the last of jobs to wait for the store's turn (waiting is closed), then
// lets gate go and returns the rows of the jobs, each of which must succeed.
func afterWaiting(ctx context.Context, t *testing.T, env *jobEnv, waiting <-chan struct{}, gate *chunkGate, jobs ...*aepwire.ExportJob) [][]string {
	t.Helper()
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatal("the last export did not wait for the event bodies being kept")
	}
	gate.release()
	var rows [][]string
	for i, j := range jobs {
		done := wait(t, env.e, j.ID)
		if done.Status != aepwire.JobSucceeded {
			t.Fatalf("export %d of %d ended %s: %+v", i+1, len(jobs), done.Status, done.Errors)
		}
		rows = append(rows, exportedRows(t, env.e, done.Destination.BatchID))
	}
	return rows
}

// An export that waits for the store's turn lends its job's slot: with two slots, one held by
// the export keeping the event bodies and the other by an export waiting for them, a third job
// runs to its end meanwhile.
func TestExportWaitingForTheStoreLendsItsSlot(t *testing.T) {
	h := startHeldKeeping(t, Hooks{})
	ctx, env := h.ctx, h.env
	waiter := env.startPDG(ctx, t)
	select {
	case <-h.waiting:
	case <-ctx.Done():
		t.Fatal("the second export did not wait for the event bodies being kept")
	}
	req := env.request()
	req.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultNone}
	third, err := env.e.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	done, err := env.e.WaitExportJob(ctx, third.ID, nil)
	if err != nil {
		t.Fatalf("the third job did not end while an export waited for the store: %v", err)
	}
	if done.Status != aepwire.JobSucceeded {
		t.Fatalf("the third job ended %s: %+v", done.Status, done.Errors)
	}
	if got, err := env.e.GetExportJob(ctx, h.keeper.ID); err != nil || got.Status != aepwire.JobProcessing {
		t.Fatalf("the keeper is %+v (%v), want it still held", got, err)
	}
	rows := afterWaiting(ctx, t, env, h.waiting, h.gate, h.keeper, waiter)
	if len(rows[0]) == 0 || !slices.Equal(rows[0], rows[1]) {
		t.Errorf("the exports wrote %d and %d rows, or other rows", len(rows[0]), len(rows[1]))
	}
}
