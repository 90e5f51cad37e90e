package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// codeBatchNotIngested is the batch error of a batch whose completion in the background failed
// for a reason of the engine's, not of its records.
const codeBatchNotIngested = "INGEST-1500"

// AcceptBatch is COMPLETE as AEP answers it: at once. A loading batch is marked processing, which
// survives a restart, and is ingested in the background, as CompleteBatch would ingest it;
// GetBatch reports when it has ended. At most maxBackgroundBatches batches are ingested at once,
// the others waiting their turn, the sandboxes taking turns (see nextInBackground). A batch
// already asked to complete is returned as it is, and so is one that has ended.
//
// A completion that fails for a reason of the engine's (its disk, its database) ends the batch
// failed, with an error that says so, where CompleteBatch would return the error and leave the
// batch loading: nothing else would ever end it. One that Close stops leaves the batch
// processing, for ResumeBatches.
func (e *Engine) AcceptBatch(ctx context.Context, id string) (*aepwire.Batch, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	b, err := e.getBatch(ctx, sb, id)
	if err != nil {
		return nil, err
	}
	if b.Status == aepwire.BatchLoading {
		err := e.store.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE batches SET status = ?, updated_ms = ? WHERE id = ? AND sandbox = ? AND status = ?`,
				aepwire.BatchProcessing, e.nowMs(), id, sb, aepwire.BatchLoading)
			return err
		})
		if err != nil {
			return nil, err
		}
		// Asked to complete, it is completed, whether or not its client waits for the answer.
		e.kickBackground()
		return e.getBatch(ctx, sb, id)
	}
	if b.Status == aepwire.BatchProcessing {
		e.kickBackground()
	}
	return b, nil
}

// ResumeBatches starts again, in the background, the completion of every batch left processing:
// those that a served engine accepted and did not end before it stopped. It returns how many.
func (e *Engine) ResumeBatches(ctx context.Context) (int, error) {
	var n int
	err := e.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM batches WHERE status = ?`, aepwire.BatchProcessing).Scan(&n)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		e.kickBackground()
	}
	return n, nil
}

// WaitBatch waits until batch id is no longer processing (see AcceptBatch), or until ctx ends.
// It is woken each time this engine completes or deletes a batch, in the background or not: a
// batch that another process completes is seen at the next of those, or not at all.
func (e *Engine) WaitBatch(ctx context.Context, id string) error {
	for {
		changed := e.background.ended.wait()
		var processing bool
		err := e.store.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM batches WHERE id = ? AND status = ?)`,
			id, aepwire.BatchProcessing).Scan(&processing)
		if err != nil || !processing {
			return err
		}
		if e.hooks.WaitingForBatch != nil {
			e.hooks.WaitingForBatch(id)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// maxBackgroundBatches bounds the batches a served engine ingests at once: each ingestion uses
// every core, and holds a run of RunBytes in memory.
const maxBackgroundBatches = 2

// kickBackground tells the runners of completions that there may be a batch to complete, and
// starts one if fewer than maxBackgroundBatches run.
func (e *Engine) kickBackground() {
	bg := &e.background
	bg.mu.Lock()
	defer bg.mu.Unlock()
	bg.kicked = true
	if bg.stopped || bg.runners >= maxBackgroundBatches {
		return
	}
	bg.runners++
	bg.wg.Add(1)
	go e.runBackground()
}

// runBackground completes processing batches, one at a time, in the order nextInBackground
// takes them, until none is left that no other runner holds; it then ends, unless it was kicked
// meanwhile.
func (e *Engine) runBackground() {
	bg := &e.background
	defer bg.wg.Done()
	for {
		bg.mu.Lock()
		bg.kicked = false
		bg.mu.Unlock()
		sb, id, ctx, err := e.nextInBackground()
		if err != nil {
			// The database did not answer (held by another process past its timeout, say): the
			// batches waiting stay processing, so look again in a while, unless the engine closes.
			e.log("looking for batches to complete, again in %s: %v", backgroundRetry, err)
			if clock.Sleep(bg.ctx, e.clock, backgroundRetry) == nil {
				continue
			}
		}
		if id == "" {
			bg.mu.Lock()
			if bg.kicked && !bg.stopped && err == nil {
				bg.mu.Unlock()
				continue
			}
			bg.runners--
			bg.mu.Unlock()
			return
		}
		err, stuck := e.completeInBackground(ctx, sb, id)
		bg.end(id, stuck)
		if e.hooks.BatchInBackgroundDone != nil {
			e.hooks.BatchInBackgroundDone(id, err)
		}
	}
}

// nextInBackground takes a processing batch that no runner holds (and that is not stuck), and
// registers it as running. The sandboxes take turns (see beginFairest), so that a sandbox that
// completes many batches at once does not hold back the others' for the time of all of them.
func (e *Engine) nextInBackground() (sb, id string, ctx context.Context, err error) {
	bg := &e.background
	// Each sandbox's oldest: the runners hold at most maxBackgroundBatches of them, so one more
	// is free when any of the sandbox's is.
	candidates, err := store.All(bg.ctx, e.store.DB(), func(row store.Scanner) (b batchRef, err error) {
		err = row.Scan(&b.sandbox, &b.id)
		return b, err
	}, `SELECT sandbox, id FROM (
			SELECT sandbox, id, updated_ms, ROW_NUMBER() OVER (PARTITION BY sandbox ORDER BY updated_ms, id) AS n
			FROM batches WHERE status = ?)
		WHERE n <= ? ORDER BY updated_ms, id`,
		aepwire.BatchProcessing, maxBackgroundBatches+bg.stuckCount()+1)
	select {
	case <-bg.ctx.Done():
		return "", "", nil, nil // the engine is closing: what the query met is of no matter
	default:
	}
	if err != nil {
		return "", "", nil, err
	}
	b, ctx, ok := bg.beginFairest(candidates)
	if !ok {
		return "", "", nil, nil
	}
	return b.sandbox, b.id, ctx, nil
}

// backgroundRetry is how long a runner waits to look for batches again after the database did
// not answer.
const backgroundRetry = 5 * time.Second

// completeInBackground completes batch id of sandbox sb, and ends it failed when its completion
// fails for a reason of the engine's; stuck says that it could not be ended failed either, and is
// still processing.
func (e *Engine) completeInBackground(ctx context.Context, sb, id string) (err error, stuck bool) {
	err = e.completeRecovered(ctx, sb, id)
	if err == nil || ctx.Err() != nil {
		return err, false
	}
	e.log("batch %s (sandbox %s) could not be ingested: %v", id, sb, err)
	if ferr := e.failBatch(ctx, sb, id); ferr != nil {
		e.log("batch %s (sandbox %s) could not be ended failed, and is left processing until the engine opens again: %v", id, sb, ferr)
		return errors.Join(err, ferr), true
	}
	return err, false
}

// completeRecovered completes batch id of sandbox sb, and says why the batch is not ended when it
// is not: a batch deleted meanwhile is no error. A panic is taken for its error, so that the
// server that runs it stays up (a panic would otherwise end the process, and then every start
// that resumes the batch).
func (e *Engine) completeRecovered(ctx context.Context, sb, id string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("panic: %v\n%s", v, debug.Stack())
		}
	}()
	b, err := e.completeBatch(ctx, ctx, sb, id)
	if aepwire.IsNotFound(err) {
		now, gerr := e.getBatch(ctx, sb, id)
		if aepwire.IsNotFound(gerr) || (gerr == nil && !completing(now.Status)) {
			return nil // deleted meanwhile: nothing is left to end
		}
		// Its row is there, but not its directory (made by CreateBatch, which did not end well):
		// it cannot be completed.
		return fmt.Errorf("the batch is %w, without its directory", err)
	}
	if err == nil && completing(b.Status) {
		// Not a way completeBatch returns; were it one, the runner would take the batch again at
		// once, and again.
		return fmt.Errorf("its completion returned with the batch still %s", b.Status)
	}
	return err
}

// failBatch ends a processing batch failed, for a reason of the engine's: its client would
// otherwise wait for it for good. The reason itself goes to the engine's log, not to the client,
// since it may name the engine's files.
func (e *Engine) failBatch(ctx context.Context, sb, id string) error {
	errorsJSON, err := json.Marshal([]aepwire.BatchError{{Code: codeBatchNotIngested, Description: "the platform could not " +
		"ingest the batch (a fault of its own, such as a full disk, not of the records; its log has the detail): ingest the " +
		"files again in a new batch"}})
	if err != nil {
		return err
	}
	return e.store.Write(ctx, func(tx *sql.Tx) error {
		now := e.nowMs()
		_, err := tx.ExecContext(ctx, `UPDATE batches SET status = ?, updated_ms = ?, completed_ms = ?, errors = ?
			WHERE id = ? AND sandbox = ? AND status = ?`,
			aepwire.BatchFailed, now, now, string(errorsJSON), id, sb, aepwire.BatchProcessing)
		return err
	})
}

// background is the engine's completions of batches in the background: the runners that make
// them, which batch each holds, and the context they run in, which ends when the engine closes.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc
	// ended is notified each time a completion ends, and each time a batch is deleted.
	ended signal

	mu      sync.Mutex
	runners int
	kicked  bool // a batch may have come to be processing since a runner last looked
	running map[string]*backgroundRun
	// turns says when each sandbox last had a batch begun, in the order of lastTurn, which counts
	// the beginnings. A sandbox keeps its turn between its batches (one that completes a batch at
	// a time has none processing in between, and must not start afresh each time, ahead of those
	// that have waited), so there is an entry a sandbox that has had a batch completed since the
	// engine opened.
	turns    map[string]uint64
	lastTurn uint64
	// stuck are the batches whose completion failed, and that could not be ended failed either:
	// they are not taken again until the engine opens anew.
	stuck   map[string]bool
	stopped bool
	wg      sync.WaitGroup
}

// backgroundRun is one completion under way: its batch's sandbox, its context, which cancel
// ends, and done, which is closed once it has returned.
type backgroundRun struct {
	sandbox string
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
}

func (bg *background) start() {
	bg.ctx, bg.cancel = context.WithCancel(context.Background())
	bg.running = map[string]*backgroundRun{}
	bg.turns = map[string]uint64{}
	bg.stuck = map[string]bool{}
}

// batchRef names a batch.
type batchRef struct{ sandbox, id string }

// beginFairest registers a completion of one of candidates (each sandbox's processing batches,
// oldest first), leaving out those that run or are stuck: of the sandboxes with the fewest
// completions running, the one that started one longest ago, and of its batches the oldest. So
// the sandboxes take turns, however many batches each has waiting. ok is false when there is
// none, or the engine is closing.
func (bg *background) beginFairest(candidates []batchRef) (b batchRef, ctx context.Context, ok bool) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if bg.stopped {
		return b, nil, false
	}
	runningIn := map[string]int{}
	for _, run := range bg.running {
		runningIn[run.sandbox]++
	}
	best := -1
	for i, c := range candidates {
		if bg.running[c.id] != nil || bg.stuck[c.id] {
			continue
		}
		if best < 0 {
			best = i
			continue
		}
		was := candidates[best].sandbox
		if r, rWas := runningIn[c.sandbox], runningIn[was]; r < rWas || (r == rWas && bg.turns[c.sandbox] < bg.turns[was]) {
			best = i
		}
	}
	if best < 0 {
		return b, nil, false
	}
	b = candidates[best]
	bg.lastTurn++
	bg.turns[b.sandbox] = bg.lastTurn
	ctx, cancel := context.WithCancel(bg.ctx)
	bg.running[b.id] = &backgroundRun{sandbox: b.sandbox, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	return b, ctx, true
}

// stuckCount is how many batches beginFairest leaves out for being stuck.
func (bg *background) stuckCount() int {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return len(bg.stuck)
}

// end ends the completion of batch id; stuck says it failed, and the batch is still processing.
func (bg *background) end(id string, stuck bool) {
	bg.mu.Lock()
	run := bg.running[id]
	delete(bg.running, id)
	if stuck {
		bg.stuck[id] = true
	}
	bg.mu.Unlock()
	run.cancel()
	close(run.done)
	bg.ended.notify()
}

// halted is called for a batch just deleted: its completion, if one runs, stops, and is waited
// for; WaitBatch's waiters are told (a batch waiting its turn has no completion to end).
func (bg *background) halted(id string) {
	bg.mu.Lock()
	run := bg.running[id]
	bg.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
	bg.ended.notify()
}

// stop ends the completions' context and waits for the runners to return.
func (bg *background) stop() {
	bg.mu.Lock()
	bg.stopped = true
	bg.mu.Unlock()
	bg.cancel()
	bg.wg.Wait()
}
