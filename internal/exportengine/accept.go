package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// codeBatchNotIngested is the batch error of a batch whose completion in the background failed
// for a reason of the engine's, not of its records.
const codeBatchNotIngested = "INGEST-1500"

// AcceptBatch is COMPLETE as AEP answers it: at once. A loading batch is marked processing, which
// survives a restart, and is ingested in the background, as CompleteBatch would ingest it;
// GetBatch reports when it has ended. A batch already asked to complete is returned as it is (and
// its completion started, when nothing in this engine runs it), and so is one that has ended.
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
		if b, err = e.getBatch(ctx, sb, id); err != nil {
			return nil, err
		}
	}
	if b.Status == aepwire.BatchProcessing {
		e.completeInBackground(sb, id)
	}
	return b, nil
}

// ResumeBatches starts again, in the background, the completion of every batch left processing:
// those that a served engine accepted and did not end before it stopped. It returns how many.
func (e *Engine) ResumeBatches(ctx context.Context) (int, error) {
	type batchOf struct{ sandbox, id string }
	left, err := store.All(ctx, e.store.DB(), func(row store.Scanner) (b batchOf, err error) {
		err = row.Scan(&b.sandbox, &b.id)
		return b, err
	}, `SELECT sandbox, id FROM batches WHERE status = ? ORDER BY updated_ms, id`, aepwire.BatchProcessing)
	if err != nil {
		return 0, err
	}
	for _, b := range left {
		e.completeInBackground(b.sandbox, b.id)
	}
	return len(left), nil
}

// completeInBackground completes batch id of sandbox sb in a goroutine of its own, unless one of
// this engine is already at it.
func (e *Engine) completeInBackground(sb, id string) {
	ctx, started := e.background.begin(id)
	if !started {
		return
	}
	go func() {
		_, err := e.completeBatch(ctx, ctx, sb, id)
		if aepwire.IsNotFound(err) {
			err = nil // deleted meanwhile: nothing is left to end
		}
		if err != nil && ctx.Err() == nil {
			e.log("batch %s (sandbox %s) could not be ingested: %v", id, sb, err)
			err = errors.Join(err, e.failBatch(ctx, sb, id))
		}
		e.background.end(id)
		if e.hooks.BatchInBackgroundDone != nil {
			e.hooks.BatchInBackgroundDone(id, err)
		}
	}()
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

// background runs completions of batches until it stops: one at a time for each batch, each with
// a context that ends when the engine closes, or when its batch is deleted.
type background struct {
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	running map[string]*backgroundRun
	stopped bool
	wg      sync.WaitGroup
}

// backgroundRun is one completion under way: cancel ends its context, done is closed once it has
// returned.
type backgroundRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (bg *background) start() {
	bg.ctx, bg.cancel = context.WithCancel(context.Background())
	bg.running = map[string]*backgroundRun{}
}

// begin registers a completion of batch id, unless one runs or the engine is closing.
func (bg *background) begin(id string) (context.Context, bool) {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	if bg.stopped || bg.running[id] != nil {
		return nil, false
	}
	ctx, cancel := context.WithCancel(bg.ctx)
	bg.running[id] = &backgroundRun{cancel: cancel, done: make(chan struct{})}
	bg.wg.Add(1)
	return ctx, true
}

func (bg *background) end(id string) {
	bg.mu.Lock()
	run := bg.running[id]
	delete(bg.running, id)
	bg.mu.Unlock()
	run.cancel()
	close(run.done)
	bg.wg.Done()
}

// halt stops the completion of batch id, if one runs, and waits for it to return.
func (bg *background) halt(id string) {
	bg.mu.Lock()
	run := bg.running[id]
	bg.mu.Unlock()
	if run != nil {
		run.cancel()
		<-run.done
	}
}

// wait waits for the completion of batch id to return, if one runs, or for ctx to end.
func (bg *background) wait(ctx context.Context, id string) error {
	bg.mu.Lock()
	run := bg.running[id]
	bg.mu.Unlock()
	if run == nil {
		return nil
	}
	select {
	case <-run.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the completions' context and waits for them to return.
func (bg *background) stop() {
	bg.mu.Lock()
	bg.stopped = true
	bg.mu.Unlock()
	bg.cancel()
	bg.wg.Wait()
}

// WaitBatch waits until no completion of batch id runs in this engine's background (see
// AcceptBatch), or until ctx ends. A batch that this engine is not completing is not waited for.
func (e *Engine) WaitBatch(ctx context.Context, id string) error {
	return e.background.wait(ctx, id)
}
