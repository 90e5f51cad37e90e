package exportengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
)

// acceptRecords are the records of the batches these tests accept: enough for several runs of
// a segment of 4 KiB.
const acceptRecords = 500

// acceptedBatch makes a profile batch of acceptRecords records, ready to complete.
func acceptedBatch(t *testing.T, e *Engine) (dataset, batch string) {
	t.Helper()
	return acceptedBatchIn(context.Background(), t, e)
}

// acceptedBatchIn is acceptedBatch in the sandbox of ctx.
func acceptedBatchIn(ctx context.Context, t *testing.T, e *Engine) (dataset, batch string) {
	t.Helper()
	ds, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "ds", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		Tags: map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i := range acceptRecords {
		fmt.Fprintf(&sb, `{"identityMap":{"Email":[{"id":"p%03d@example.com"}]},"i":%d}`+"\n", i, i)
	}
	if err := e.UploadBatchFile(ctx, b.ID, ds.ID, "records.json", strings.NewReader(sb.String())); err != nil {
		t.Fatal(err)
	}
	return ds.ID, b.ID
}

// logLines keeps what an engine logs (Options.Log).
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// heldIngestion is a hook that holds a batch's ingestion after its first segment run, once, until
// released, and a hook that hears the completions in the background end.
type heldIngestion struct {
	runs    atomic.Int32
	inRun   chan struct{}
	release chan struct{}
	done    chan error
}

func newHeldIngestion() *heldIngestion {
	return &heldIngestion{inRun: make(chan struct{}), release: make(chan struct{}), done: make(chan error, 4)}
}

func (h *heldIngestion) hooks() Hooks {
	return Hooks{
		AfterSegmentRun: func() {
			if h.runs.Add(1) == 1 {
				close(h.inRun)
				<-h.release
			}
		},
		BatchInBackgroundDone: func(_ string, err error) { h.done <- err },
	}
}

// closeWhileHeld closes e (with closeEngine) while held holds its completion of a batch, lets
// the completion go once Close has told it to stop, and checks that it stopped.
func closeWhileHeld(t *testing.T, e *Engine, held *heldIngestion, closeEngine func() error) {
	t.Helper()
	closed := make(chan error, 1)
	go func() { closed <- closeEngine() }()
	<-e.background.ctx.Done() // Close has told the completion to stop: let it see so
	close(held.release)
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-held.done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the completion stopped by Close: %v; want it cancelled", err)
	}
}

// COMPLETE through AcceptBatch is answered before the batch is ingested: the batch is processing,
// refuses files, and ends as CompleteBatch would have ended it.
func TestAcceptedBatchIsIngestedInTheBackground(t *testing.T) {
	ctx := context.Background()
	held := newHeldIngestion()
	e := openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 4096, Hooks: held.hooks()})
	ds, id := acceptedBatch(t, e)

	b, err := e.AcceptBatch(ctx, id)
	if err != nil || b.Status != aepwire.BatchProcessing || b.Metrics != nil {
		t.Fatalf("AcceptBatch: %+v, %v; want the batch processing, without metrics", b, err)
	}
	<-held.inRun // the answer came first: the ingestion is still held after its first run
	if got, err := e.GetBatch(ctx, id); err != nil || got.Status != aepwire.BatchProcessing {
		t.Errorf("the batch while it is ingested: %+v, %v; want it processing", got, err)
	}
	err = e.UploadBatchFile(ctx, id, ds, "late.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"late@example.com"}]}}`+"\n"))
	if err == nil || !strings.Contains(err.Error(), "is processing: files can only be added while it is loading") {
		t.Errorf("an upload into the processing batch: %v; want it refused, naming its status", err)
	}
	if again, err := e.AcceptBatch(ctx, id); err != nil || again.Status != aepwire.BatchProcessing {
		t.Errorf("COMPLETE again: %+v, %v; want the batch as it is, processing", again, err)
	}
	close(held.release)
	if err := <-held.done; err != nil {
		t.Fatalf("the completion in the background: %v", err)
	}
	got, err := e.GetBatch(ctx, id)
	if err != nil || got.Status != aepwire.BatchSuccess || got.RecordCount != acceptRecords || got.Metrics == nil {
		t.Fatalf("the batch after: %+v, %v; want success with %d records and its metrics", got, err, acceptRecords)
	}
	if n := len(storeContents(t, e)); n != acceptRecords {
		t.Errorf("the profile store holds %d records, want %d", n, acceptRecords)
	}
	if again, err := e.AcceptBatch(ctx, id); err != nil || again.Status != aepwire.BatchSuccess {
		t.Errorf("COMPLETE after it ended: %+v, %v; want the batch as it is", again, err)
	}
}

// An engine that closes while it ingests an accepted batch leaves it processing, with its files;
// the next engine's ResumeBatches ingests it, once.
func TestAcceptedBatchIsResumedAfterAClose(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	held := newHeldIngestion()
	e, err := Open(ctx, Options{DataDir: dir, RunBytes: 4096, Hooks: held.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	_, id := acceptedBatch(t, e)
	if _, err := e.AcceptBatch(ctx, id); err != nil {
		t.Fatal(err)
	}
	<-held.inRun
	closeWhileHeld(t, e, held, e.Close)

	done := make(chan error, 2)
	e = openEngine(t, Options{DataDir: dir, RunBytes: 4096, Hooks: Hooks{BatchInBackgroundDone: func(_ string, err error) { done <- err }}})
	if b, err := e.GetBatch(ctx, id); err != nil || b.Status != aepwire.BatchProcessing {
		t.Fatalf("the batch after the close: %+v, %v; want it processing", b, err)
	}
	if n, err := e.ResumeBatches(ctx); err != nil || n != 1 {
		t.Fatalf("ResumeBatches: %d, %v; want the one batch", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the resumed completion: %v", err)
	}
	if b, err := e.GetBatch(ctx, id); err != nil || b.Status != aepwire.BatchSuccess || b.RecordCount != acceptRecords {
		t.Fatalf("the resumed batch: %+v, %v; want success with %d records", b, err, acceptRecords)
	}
	if n := len(storeContents(t, e)); n != acceptRecords {
		t.Errorf("the profile store holds %d records, want %d", n, acceptRecords)
	}
	if n, err := e.ResumeBatches(ctx); err != nil || n != 0 {
		t.Errorf("ResumeBatches once it ended: %d, %v; want none", n, err)
	}
}

// A batch deleted while it is ingested in the background, alone or with its dataset, has its
// ingestion stopped first, and is gone with its directory.
func TestDeletingAProcessingBatch(t *testing.T) {
	for _, what := range []string{"batch", "dataset"} {
		t.Run(what, func(t *testing.T) {
			ctx := context.Background()
			held := newHeldIngestion()
			e := openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 4096, Hooks: held.hooks()})
			ds, id := acceptedBatch(t, e)
			if _, err := e.AcceptBatch(ctx, id); err != nil {
				t.Fatal(err)
			}
			<-held.inRun
			e.background.mu.Lock()
			run := e.background.running[id]
			e.background.mu.Unlock()
			deleted := make(chan error, 1)
			go func() {
				if what == "batch" {
					deleted <- e.DeleteBatch(ctx, id)
				} else {
					deleted <- e.DeleteDataset(ctx, ds)
				}
			}()
			<-run.ctx.Done() // the deletion stopped the ingestion, and waits for it to return
			close(held.release)
			if err := <-deleted; err != nil {
				t.Fatalf("deleting the %s: %v", what, err)
			}
			if err := <-held.done; !errors.Is(err, context.Canceled) {
				t.Errorf("the completion of the deleted batch: %v; want it stopped", err)
			}
			if _, err := e.GetBatch(ctx, id); !aepwire.IsNotFound(err) {
				t.Errorf("the deleted batch reads %v, want it gone", err)
			}
			if _, err := os.Stat(e.batchDir(id)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the deleted batch's directory: %v, want it gone", err)
			}
			if n := len(storeContents(t, e)); n != 0 {
				t.Errorf("the profile store holds %d records, want none", n)
			}
		})
	}
}

// A completion in the background that fails for a reason of the engine's ends the batch failed,
// saying so, and tells the engine's log why: its client would otherwise wait for good.
func TestAcceptedBatchThatCannotBeIngestedFails(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("a directory whose files are open cannot be removed on Windows")
	}
	ctx := context.Background()
	held := newHeldIngestion()
	var log logLines
	e := openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 4096, Hooks: held.hooks(), Log: log.log})
	_, id := acceptedBatch(t, e)
	if _, err := e.AcceptBatch(ctx, id); err != nil {
		t.Fatal(err)
	}
	<-held.inRun
	// The batch's directory goes from under the ingestion: its segment cannot be made durable.
	if err := os.RemoveAll(e.batchDir(id)); err != nil {
		t.Fatal(err)
	}
	close(held.release)
	if err := <-held.done; err == nil {
		t.Fatal("the completion without its directory: no error")
	}
	b, err := e.GetBatch(ctx, id)
	if err != nil || b.Status != aepwire.BatchFailed || len(b.Errors) != 1 || b.Errors[0].Code != codeBatchNotIngested ||
		strings.Contains(b.Errors[0].Description, e.DataDir()) {
		t.Fatalf("the batch: %+v, %v; want it failed with %s, naming none of the engine's files", b, err, codeBatchNotIngested)
	}
	if logged := log.all(); len(logged) != 1 || !strings.Contains(logged[0], id) {
		t.Errorf("the log: %q; want one line naming batch %s", logged, id)
	}
}

// openEngineWithRunsHeld opens an engine with hooks whose batches (those of acceptedBatch) are
// each one segment run, held at its end: arrived hears of each, and each goes on at a receive
// from release, or once it is closed.
func openEngineWithRunsHeld(t *testing.T, hooks Hooks) (e *Engine, arrived, release chan struct{}) {
	t.Helper()
	arrived, release = make(chan struct{}, 16), make(chan struct{})
	hooks.AfterSegmentRun = func() {
		arrived <- struct{}{}
		<-release
	}
	e = openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 1 << 20, Hooks: hooks})
	return e, arrived, release
}

// acceptWithRunnersHeld opens an engine with hooks whose runs are held (openEngineWithRunsHeld)
// until release is closed, accepts n batches, and returns once maxBackgroundBatches runners hold
// one each.
func acceptWithRunnersHeld(t *testing.T, n int, hooks Hooks) (e *Engine, ids []string, release chan struct{}) {
	t.Helper()
	e, arrived, release := openEngineWithRunsHeld(t, hooks)
	for range n {
		_, id := acceptedBatch(t, e)
		if _, err := e.AcceptBatch(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for range maxBackgroundBatches {
		<-arrived
	}
	return e, ids, release
}

// Batches accepted at once are ingested at most maxBackgroundBatches at a time, the others
// waiting their turn as processing, and all of them end.
func TestAcceptedBatchesTakeTurns(t *testing.T) {
	ctx := context.Background()
	const batches = maxBackgroundBatches + 2
	e, ids, release := acceptWithRunnersHeld(t, batches, Hooks{})
	e.background.mu.Lock()
	runners, running := e.background.runners, len(e.background.running)
	e.background.mu.Unlock()
	if runners != maxBackgroundBatches || running != maxBackgroundBatches {
		t.Errorf("%d runners holding %d batches while they are held, want %d of each", runners, running, maxBackgroundBatches)
	}
	close(release)
	// Each batch is waited for by its status: a runner may also take a batch that another has
	// just ended, find it ended, and return at once.
	for _, id := range ids {
		if err := e.WaitBatch(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids {
		if b, err := e.GetBatch(ctx, id); err != nil || b.Status != aepwire.BatchSuccess || b.RecordCount != acceptRecords {
			t.Errorf("batch %s: %+v, %v; want success with %d records", id, b, err, acceptRecords)
		}
	}
}

// A completion whose first write fails (a full disk, a database held past its timeout) fails,
// and ends the batch failed: it does not take the batch, still processing, for ended.
func TestAcceptedBatchWhoseFirstWriteFailsFails(t *testing.T) {
	ctx := context.Background()
	done := make(chan error, 1)
	e := openEngine(t, Options{DataDir: t.TempDir(), Hooks: Hooks{BatchInBackgroundDone: func(_ string, err error) { done <- err }}})
	_, id := acceptedBatch(t, e)
	// The write that records a processing batch's activity fails; the one that ends it does not.
	if _, err := e.store.DB().ExecContext(ctx, `CREATE TRIGGER touch_fails BEFORE UPDATE OF updated_ms ON batches
		WHEN OLD.status = 'processing' AND NEW.status = 'processing' BEGIN SELECT RAISE(ABORT, 'disk full'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := e.AcceptBatch(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("the completion: %v; want the write's failure", err)
	}
	if b, err := e.GetBatch(ctx, id); err != nil || b.Status != aepwire.BatchFailed || len(b.Errors) != 1 || b.Errors[0].Code != codeBatchNotIngested {
		t.Errorf("the batch: %+v, %v; want it failed with %s", b, err, codeBatchNotIngested)
	}
}

// An engine closes while its completion of a batch waits for the batch's lock, which another
// holds (a completion in another process): the wait is given up, and the batch stays processing.
func TestCloseGivesUpAWaitForABatchsLock(t *testing.T) {
	ctx := context.Background()
	waiting, done := make(chan string, 1), make(chan error, 1)
	e, err := Open(ctx, Options{DataDir: t.TempDir(), Hooks: Hooks{
		WaitForBatch:          func(batch string) { waiting <- batch },
		BatchInBackgroundDone: func(_ string, err error) { done <- err },
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, id := acceptedBatch(t, e)
	other, ok, err := filelock.TryLock(filepath.Join(e.batchDir(id), uploadLockFile), filelock.Exclusive)
	if err != nil || !ok {
		t.Fatalf("the batch's lock: %v, %v", ok, err)
	}
	defer func() { _ = other.Unlock() }()
	if _, err := e.AcceptBatch(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got := <-waiting; got != id {
		t.Fatalf("waited for batch %s, want %s", got, id)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("the completion: %v; want its wait given up", err)
	}
	e = openEngine(t, Options{DataDir: e.DataDir()})
	if b, err := e.GetBatch(ctx, id); err != nil || b.Status != aepwire.BatchProcessing {
		t.Errorf("the batch: %+v, %v; want it processing still", b, err)
	}
}

// A completion in the background that panics, or that finds its batch without its directory,
// ends the batch failed and says so in the log: the server stays up, and no runner takes the
// batch again and again.
func TestAcceptedBatchThatCannotBeCompletedEndsFailed(t *testing.T) {
	for _, how := range []string{"panic", "no directory"} {
		t.Run(how, func(t *testing.T) {
			ctx := context.Background()
			done := make(chan error, 4)
			var log logLines
			e := openEngine(t, Options{DataDir: t.TempDir(), Hooks: Hooks{
				WaitForBatch:          func(string) { panic("in the completion's own goroutine") },
				BatchInBackgroundDone: func(_ string, err error) { done <- err },
			}, Log: log.log})
			_, id := acceptedBatch(t, e)
			if how == "panic" {
				// Its lock is held: the completion waits for it, and WaitForBatch panics.
				other, ok, err := filelock.TryLock(filepath.Join(e.batchDir(id), uploadLockFile), filelock.Exclusive)
				if err != nil || !ok {
					t.Fatalf("the batch's lock: %v, %v", ok, err)
				}
				defer func() { _ = other.Unlock() }()
			} else if err := os.RemoveAll(e.batchDir(id)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.AcceptBatch(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err == nil {
				t.Fatal("the completion: no error")
			}
			b, err := e.GetBatch(ctx, id)
			if err != nil || b.Status != aepwire.BatchFailed || len(b.Errors) != 1 || b.Errors[0].Code != codeBatchNotIngested {
				t.Fatalf("the batch: %+v, %v; want it failed with %s", b, err, codeBatchNotIngested)
			}
			if len(done) != 0 {
				t.Errorf("the batch was taken again after it ended failed")
			}
			if logged := log.all(); len(logged) != 1 || !strings.Contains(logged[0], id) || (how == "panic") != strings.Contains(logged[0], "panic") {
				t.Errorf("the log: %q; want one line on batch %s", logged, id)
			}
		})
	}
}

// WaitBatch on a batch waiting its turn returns once the batch is deleted, while the runners
// are still held on others.
func TestWaitBatchHearsOfADeletion(t *testing.T) {
	ctx := context.Background()
	waits := make(chan string, 4)
	e, _, release := acceptWithRunnersHeld(t, maxBackgroundBatches, Hooks{WaitingForBatch: func(id string) { waits <- id }})
	defer close(release)
	_, waiting := acceptedBatch(t, e)
	if _, err := e.AcceptBatch(ctx, waiting); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- e.WaitBatch(ctx, waiting) }()
	<-waits // WaitBatch found the batch processing, and waits
	if err := e.DeleteBatch(ctx, waiting); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Errorf("WaitBatch: %v", err)
	}
}

// A runner whose look for batches fails (a database that does not answer) looks again
// backgroundRetry later, on the engine's clock, and then completes the batch waiting.
func TestBackgroundLooksAgainAfterTheDatabaseFails(t *testing.T) {
	ctx := context.Background()
	fake := newFakeClock()
	looked, done := make(chan string, 1), make(chan error, 1)
	e := openEngine(t, Options{DataDir: t.TempDir(), Clock: fake, Hooks: Hooks{
		BatchInBackgroundDone: func(_ string, err error) { done <- err },
	}, Log: func(format string, args ...any) {
		if line := fmt.Sprintf(format, args...); strings.HasPrefix(line, "looking for batches") {
			looked <- line
		}
	}})
	_, id := acceptedBatch(t, e)
	db := e.store.DB()
	exec := func(query string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, query, args...); err != nil {
			t.Fatal(err)
		}
	}
	// The batch is left processing, as by a served engine that stopped, and the table that the
	// runner looks in is away while it first looks.
	exec(`UPDATE batches SET status = ? WHERE id = ?`, aepwire.BatchProcessing, id)
	exec(`ALTER TABLE batches RENAME TO batches_away`)
	waiters := fake.Waiters()
	e.kickBackground()
	if line := <-looked; !strings.Contains(line, "again in 5s") || !strings.Contains(line, "no such table") {
		t.Errorf("the log: %q; want the database's error and when the runner looks again", line)
	}
	if err := fake.BlockUntil(ctx, waiters+1); err != nil {
		t.Fatal(err)
	}
	exec(`ALTER TABLE batches_away RENAME TO batches`)

	fake.Advance(backgroundRetry - time.Millisecond)
	if n := fake.Waiters(); n != waiters+1 {
		t.Fatalf("%d waiters on the clock before the retry is due, want %d: the runner looked again early, or gave up", n, waiters+1)
	}
	fake.Advance(time.Millisecond)
	if err := <-done; err != nil {
		t.Fatalf("the completion after the retry: %v", err)
	}
	if b, err := e.GetBatch(ctx, id); err != nil || b.Status != aepwire.BatchSuccess || b.RecordCount != acceptRecords {
		t.Errorf("the batch: %+v, %v; want success with %d records", b, err, acceptRecords)
	}
}

// An ingestion told to stop stops at the next file: a batch of many small files (fewer records
// each than ingestion reads between looks at its context) is not read to its end.
func TestStoppedIngestionReadsNoFurtherFile(t *testing.T) {
	ctx := context.Background()
	const files, recordsPerFile = 6, 200 // about five runs of 4 KiB each
	held := newHeldIngestion()
	e, err := Open(ctx, Options{DataDir: t.TempDir(), RunBytes: 4096, Hooks: held.hooks()})
	if err != nil {
		t.Fatal(err)
	}
	closeOnce := sync.OnceValue(e.Close) // the test closes it; a test that stops first, too
	t.Cleanup(func() { _ = closeOnce() })
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	for f := range files {
		var sb strings.Builder
		for i := range recordsPerFile {
			fmt.Fprintf(&sb, `{"identityMap":{"Email":[{"id":"f%d-p%03d@example.com"}]},"i":%d}`+"\n", f, i, i)
		}
		if err := e.UploadBatchFile(ctx, b.ID, ds, fmt.Sprintf("part-%d.json", f), strings.NewReader(sb.String())); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.AcceptBatch(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	<-held.inRun // the first run of the first file is written, and held
	closeWhileHeld(t, e, held, closeOnce)
	// While the first run is held, the reader fills one more; once released, it reads at most
	// to the end of the file it is in: the first file's runs, or one more. All six files take
	// about thirty.
	if n := held.runs.Load(); n > 6 {
		t.Errorf("%d runs written after the ingestion was told to stop at its first; want it to read no further file", n)
	}
}

// A sandbox that completes many batches at once does not hold back the others': once a runner
// is free, it takes a batch of the sandbox with the fewest running, and of those the one that
// started one longest ago, even if another's waiting batches are older.
func TestAcceptedBatchesTakeTurnsBySandbox(t *testing.T) {
	home := context.Background()
	dev, qa := aepwire.WithSandbox(home, "dev"), aepwire.WithSandbox(home, "qa")
	e, arrived, release := openEngineWithRunsHeld(t, Hooks{})
	type accepted struct {
		ctx context.Context
		id  string
	}
	var all []accepted
	accept := func(ctx context.Context) string {
		t.Helper()
		_, id := acceptedBatchIn(ctx, t, e)
		if _, err := e.AcceptBatch(ctx, id); err != nil {
			t.Fatal(err)
		}
		all = append(all, accepted{ctx, id})
		return id
	}
	for range 4 {
		accept(home)
	}
	for range maxBackgroundBatches {
		<-arrived // the first two of home's are held
	}
	devFirst := accept(dev)
	accept(dev)
	qaFirst := accept(qa)
	next := func() {
		t.Helper()
		release <- struct{}{} // one of the held batches goes on, and its runner takes the next
		<-arrived
	}
	runs := func(id string) bool {
		e.background.mu.Lock()
		defer e.background.mu.Unlock()
		return e.background.running[id] != nil
	}
	// home has one running, dev and qa none: dev's batch is older than qa's.
	if next(); !runs(devFirst) {
		t.Errorf("the first free runner did not take dev's first batch")
	}
	// Whichever ended, of home's and dev's, qa has none running and has started none.
	if next(); !runs(qaFirst) {
		t.Errorf("the second free runner did not take qa's batch")
	}
	close(release)
	for _, a := range all {
		if err := e.WaitBatch(home, a.id); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range all {
		if b, err := e.GetBatch(a.ctx, a.id); err != nil || b.Status != aepwire.BatchSuccess || b.RecordCount != acceptRecords {
			t.Errorf("batch %d: %+v, %v; want success with %d records", i, b, err, acceptRecords)
		}
	}
}

// The sandboxes' turns outlast their batches: a sandbox that completes one batch at a time, and
// so has none processing between two, does not start afresh and take the turn of a sandbox whose
// batches have waited longer.
func TestBackgroundTurnsOutlastASandboxsBatches(t *testing.T) {
	var bg background
	bg.start()
	defer bg.cancel()
	ref := func(id string) batchRef { return batchRef{sandbox: id[:1], id: id} } // sandboxes a, x, y
	a1, a2, x1, x2, x3, y1, y2 := ref("a1"), ref("a2"), ref("x1"), ref("x2"), ref("x3"), ref("y1"), ref("y2")
	begin := func(want batchRef, candidates ...batchRef) { // candidates oldest first
		t.Helper()
		if got, _, ok := bg.beginFairest(candidates); !ok || got != want {
			t.Fatalf("took %v (%v) of %v, want %v", got, ok, candidates, want)
		}
	}
	begin(x1, x1, y1, a1, a2)
	begin(y1, x1, y1, a1, a2)
	bg.end(x1.id, false)
	begin(a1, y1, a1, a2)
	bg.end(y1.id, false)
	begin(x2, a1, a2, x2) // a has one running, x none
	bg.end(x2.id, false)
	begin(y2, a1, a2, y2)
	// x's last batch began after a's (the fourth beginning, a's the third), and neither has one
	// running: a's goes first, though x had none processing in between.
	bg.end(a1.id, false)
	begin(a2, y2, a2, x3)
}
