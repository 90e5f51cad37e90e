package exportengine

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// graphLog records what each export through the identity graph did with the kept graph.
type graphLog struct {
	mu  sync.Mutex
	got []string // "built" or "reused", one an export
}

func (g *graphLog) hooks(t *testing.T) Hooks {
	return Hooks{GraphDone: func(reused bool, keepErr error) {
		if keepErr != nil {
			t.Errorf("keeping the identity graph: %v", keepErr)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if reused {
			g.got = append(g.got, "reused")
		} else {
			g.got = append(g.got, "built")
		}
	}}
}

func (g *graphLog) all() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.got)
}

// last is what the latest export did.
func (g *graphLog) last() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.got) == 0 {
		return ""
	}
	return g.got[len(g.got)-1]
}

// startPDG creates an export job of env's engine through the identity graph, in the sandbox ctx
// names, and returns it without waiting for it.
func (env *jobEnv) startPDG(ctx context.Context, t *testing.T) *aepwire.ExportJob {
	t.Helper()
	req := env.request()
	req.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultPDG}
	j, err := env.e.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// exportPDG runs an export of env's engine through the identity graph, in the sandbox ctx names,
// and returns its rows.
func (env *jobEnv) exportPDG(ctx context.Context, t *testing.T) []string {
	t.Helper()
	req := env.request()
	req.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultPDG}
	req.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{}}
	j, err := env.e.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	done, err := env.e.WaitExportJob(ctx, j.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.Status != aepwire.JobSucceeded {
		t.Fatalf("export ended %s: %+v", done.Status, done.Errors)
	}
	return exportedRowsIn(ctx, t, env.e, done.Destination.BatchID)
}

const (
	keptAda   = `{"_id":"a","identityMap":{"CRMID":[{"id":"c-ada","primary":true}],"Email":[{"id":"ada@example.com"}]},"person":{"name":{"firstName":"Ada"}}}`
	keptBob   = `{"_id":"b","identityMap":{"CRMID":[{"id":"c-bob","primary":true}],"Email":[{"id":"bob@example.com"}]},"person":{"name":{"firstName":"Bob"}}}`
	keptEvent = `{"_id":"e1","timestamp":"2026-01-02T03:04:05Z","eventType":"web.webpagedetails.pageViews","identityMap":{"ECID":[{"id":"1","primary":true}],"Email":[{"id":"bob@example.com"}]}}`
	// keptLink says that Ada's and Bob's e-mail addresses are one person's.
	keptLink = `{"_id":"l","identityMap":{"Email":[{"id":"ada@example.com","primary":true},{"id":"bob@example.com"}]},"loyalty":{"points":5}}`
)

// An export reads the identity graph an earlier one kept only while the store is what it was
// made of: a batch ingested or deleted since, or a kept file that does not read back whole, and
// the graph is built again. Whichever way, the rows are those of a graph built anew.
func TestKeptGraphFollowsTheStore(t *testing.T) {
	var log graphLog
	env := newJobEnv(t, Options{RunJobs: true, Hooks: log.hooks(t)})
	ctx := context.Background()
	ingestLines(t, env.e, env.crm, keptAda, keptBob)
	ingestLines(t, env.e, env.web, keptEvent)

	// fresh is what an export gives without a kept graph; the next export keeps one again.
	fresh := func() []string {
		t.Helper()
		if err := os.Remove(env.e.keptGraphPath(aepwire.DefaultSandbox)); err != nil {
			t.Fatal(err)
		}
		rows := env.exportPDG(ctx, t)
		if got := log.last(); got != "built" {
			t.Fatalf("without a kept graph the export %s it", got)
		}
		return rows
	}
	// export exports, and checks whether the kept graph was read and that the rows are fresh's.
	export := func(step, want string) []string {
		t.Helper()
		rows := env.exportPDG(ctx, t)
		if got := log.last(); got != want {
			t.Fatalf("%s: the export %s the identity graph, want %s", step, got, want)
		}
		if again := fresh(); !slices.Equal(rows, again) {
			t.Fatalf("%s: rows\n%s\nwant (a graph built anew)\n%s", step, strings.Join(rows, "\n"), strings.Join(again, "\n"))
		}
		return rows
	}

	apart := export("the first export", "built")
	if len(apart) != 2 {
		t.Fatalf("Ada and Bob apart gave %d rows, want 2", len(apart))
	}
	export("the same store", "reused")

	link := ingestLines(t, env.e, env.crm, keptLink)
	if rows := export("a linking batch ingested", "built"); len(rows) != 1 {
		t.Fatalf("Ada and Bob linked gave %d rows, want 1: %s", len(rows), rows)
	}
	export("the same store again", "reused")

	if err := env.e.DeleteBatch(ctx, link.ID); err != nil {
		t.Fatal(err)
	}
	if rows := export("the linking batch deleted", "built"); !slices.Equal(rows, apart) {
		t.Fatalf("with the link deleted: %s, want %s", rows, apart)
	}

	path := env.e.keptGraphPath(aepwire.DefaultSandbox)
	kept, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, damage := range []struct {
		name string
		file []byte
	}{
		{"a byte changed", func() []byte { b := slices.Clone(kept); b[len(b)/2] ^= 0x20; return b }()},
		{"cut short", kept[:len(kept)-1]},
		{"empty", nil},
	} {
		if err := os.WriteFile(path, damage.file, privateFile); err != nil {
			t.Fatal(err)
		}
		export("a kept graph "+damage.name, "built")
	}
	export("the graph kept again", "reused")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != privateFile {
		t.Errorf("the kept graph: %v, mode %v, want %v", err, st.Mode().Perm(), privateFile)
	}
}

// Each sandbox keeps its own identity graph: exports in one do not take the other's place.
func TestKeptGraphIsPerSandbox(t *testing.T) {
	var log graphLog
	env := newJobEnv(t, Options{RunJobs: true, Hooks: log.hooks(t)})
	ingestLines(t, env.e, env.crm, keptAda)
	devEngine := openEngine(t, Options{DataDir: env.dataDir, Clock: env.clock, Sandbox: "dev"})
	dev := &jobEnv{e: env.e, dest: newDataset(t, devEngine, aepwire.SchemaProfileUnion, false)}
	ingestLines(t, devEngine, newDataset(t, devEngine, aepwire.SchemaProfile, true), keptBob)

	// Both sandboxes' jobs are created through env's engine, whose runner runs them.
	prodCtx, devCtx := context.Background(), aepwire.WithSandbox(context.Background(), "dev")
	for i, want := range []string{"built", "reused"} {
		for _, x := range []struct {
			name string
			env  *jobEnv
			ctx  context.Context
			who  string
		}{{"prod", env, prodCtx, "Ada"}, {"dev", dev, devCtx, "Bob"}} {
			rows := x.env.exportPDG(x.ctx, t)
			if got := log.last(); got != want {
				t.Errorf("export %d in %s %s the identity graph, want %s", i+1, x.name, got, want)
			}
			if len(rows) != 1 || !strings.Contains(rows[0], x.who) {
				t.Errorf("export %d in %s gave %s, want %s's one profile", i+1, x.name, rows, x.who)
			}
		}
	}
}

// heldBuild is an engine whose first export through the identity graph is held at its first
// chunk, after it has built the graph and while it keeps it, and a second export of the same
// store that waits for it.
type heldBuild struct {
	env             *jobEnv
	log             *graphLog
	events          *eventsLog
	gate            *chunkGate
	builder, waiter *aepwire.ExportJob
	ctx             context.Context
}

func newHeldBuild(t *testing.T) *heldBuild {
	t.Helper()
	h := &heldBuild{log: &graphLog{}, events: &eventsLog{}, gate: newChunkGate(t, 0)}
	waiting := make(chan struct{})
	var waitOnce sync.Once
	hooks := h.log.hooks(t)
	hooks.BeforeExportChunk = h.gate.hooks().BeforeExportChunk
	hooks.WaitForGraph = func() { waitOnce.Do(func() { close(waiting) }) }
	hooks = h.events.hooks(hooks)
	h.env = newJobEnv(t, Options{RunJobs: true, MaxConcurrentJobs: 2, Hooks: hooks})
	h.env.ingestSample(t, 300)
	var cancel context.CancelFunc
	h.ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	h.builder = h.create(t)
	h.gate.await(t) // the first export has built the graph, and is emitting (and keeping) it
	h.waiter = h.create(t)
	select {
	case <-waiting:
	case <-h.ctx.Done():
		t.Fatal("the second export did not wait for the first one's graph")
	}
	return h
}

func (h *heldBuild) create(t *testing.T) *aepwire.ExportJob {
	t.Helper()
	return h.env.startPDG(h.ctx, t)
}

// ends waits for a job and checks how it ended; it returns the rows of one that succeeded.
func (h *heldBuild) ends(t *testing.T, j *aepwire.ExportJob, status string) []string {
	t.Helper()
	done := wait(t, h.env.e, j.ID)
	if done.Status != status {
		t.Fatalf("export %d ended %s (%+v), want %s", j.ID, done.Status, done.Errors, status)
	}
	if status != aepwire.JobSucceeded {
		return nil
	}
	return exportedRows(t, h.env.e, done.Destination.BatchID)
}

// Two exports of one store at once build its identity graph once: the second waits for the first
// to keep it, and reads it back.
func TestConcurrentExportsBuildTheGraphOnce(t *testing.T) {
	h := newHeldBuild(t)
	h.gate.release()
	first, second := h.ends(t, h.builder, aepwire.JobSucceeded), h.ends(t, h.waiter, aepwire.JobSucceeded)
	if got, want := h.log.all(), []string{"built", "reused"}; !slices.Equal(got, want) {
		t.Errorf("the exports did %v with the identity graph, want %v", got, want)
	}
	if len(first) == 0 || !slices.Equal(first, second) {
		t.Errorf("the exports wrote %d and %d rows, or other rows", len(first), len(second))
	}
	// The builder kept no event bodies; the waiter, the first to read the kept graph, kept them;
	// and the export after them reads them.
	if n, reads := h.events.keptCount(t), h.events.reads(); n != 1 || len(reads) != 0 {
		t.Errorf("the event bodies were kept %d times and read %v, want once, by the waiter, and not read", n, reads)
	}
	if third := h.ends(t, h.create(t), aepwire.JobSucceeded); !slices.Equal(third, first) {
		t.Errorf("the export from the kept bodies wrote %d rows, or other rows than the first's %d", len(third), len(first))
	}
	h.events.keptThenRead(t, 1)
}

// An export that waits for another's graph builds it itself when the other ends without keeping
// it (here, cancelled).
func TestWaiterBuildsTheGraphWhenTheBuilderStops(t *testing.T) {
	h := newHeldBuild(t)
	if err := h.env.e.CancelExportJob(h.ctx, h.builder.ID); err != nil {
		t.Fatal(err)
	}
	h.ends(t, h.builder, aepwire.JobCancelled)
	h.gate.release() // the waiter, now building, passes its first chunk
	rows := h.ends(t, h.waiter, aepwire.JobSucceeded)
	again := h.ends(t, h.create(t), aepwire.JobSucceeded)
	if got, want := h.log.all(), []string{"built", "reused"}; !slices.Equal(got, want) {
		t.Errorf("the exports did %v with the identity graph, want %v", got, want)
	}
	if len(rows) == 0 || !slices.Equal(rows, again) {
		t.Errorf("the exports wrote %d and %d rows, or other rows", len(rows), len(again))
	}
}

// An export cancelled while it waits for another's graph ends, and the other goes on.
func TestWaiterCancelled(t *testing.T) {
	h := newHeldBuild(t)
	if err := h.env.e.CancelExportJob(h.ctx, h.waiter.ID); err != nil {
		t.Fatal(err)
	}
	h.ends(t, h.waiter, aepwire.JobCancelled)
	h.gate.release()
	h.ends(t, h.builder, aepwire.JobSucceeded)
	h.ends(t, h.create(t), aepwire.JobSucceeded)
	if got, want := h.log.all(), []string{"built", "reused"}; !slices.Equal(got, want) {
		t.Errorf("the exports did %v with the identity graph, want %v", got, want)
	}
}
