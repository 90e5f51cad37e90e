package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Export jobs run in an engine opened with RunJobs: a worker process of its own (started through
// Options.Spawn), the HTTP server, or a test. The engine's runner (package jobs) claims, runs,
// cancels and rescues them under the lock protocol; it reaches the job table through jobStore,
// and runs a job with export.

// claimedJob is a job a runner has claimed: as the claim left it, with its request resolved in
// the claim's transaction.
type claimedJob struct {
	row  *jobRow
	spec *exportSpec
}

// jobStore is the job table as the runner reaches it (jobs.Store).
type jobStore struct{ e *Engine }

var _ jobs.Store[*claimedJob] = jobStore{}

// Unfinished lists the New and Processing jobs so that the sandboxes take turns at the runners'
// places: first the jobs that are the first of their sandbox (its oldest running, or else its
// oldest waiting), then those that are the second, and so on; and among those of one rank, the
// sandbox that last had a job started longest ago first (job_turn, which Claim moves on). So a
// sandbox with fewer jobs running goes before one with more, and one that creates many jobs at
// once does not hold back the others' for the time of all of them.
func (s jobStore) Unfinished(ctx context.Context) ([]jobs.Ref, error) {
	// The statuses are written out for the index of unfinished jobs (export_jobs_active) to
	// serve the query: it cannot know that parameters would name the statuses it holds.
	return store.All(ctx, s.e.store.DB(), func(row store.Scanner) (r jobs.Ref, err error) {
		err = row.Scan(&r.ID, &r.State)
		return r, err
	}, `SELECT j.id, j.status FROM (
			SELECT id, status, sandbox, ROW_NUMBER() OVER (PARTITION BY sandbox ORDER BY status = 'NEW', id) AS rank
			FROM export_jobs WHERE status IN ('NEW', 'PROCESSING')) AS j
		LEFT JOIN sandboxes AS s ON s.name = j.sandbox
		ORDER BY j.rank, COALESCE(s.job_turn, 0), j.id`)
}

// Claim starts an attempt of a job, or ends it, as jobs.Decide says. The job's request is
// resolved in the transaction that starts it, so that a job is never Processing on a request that
// no longer holds (its destination or merge policy deleted since it was created): such a job ends
// Failed here, saying what went.
func (s jobStore) Claim(ctx context.Context, id int64) (*claimedJob, bool, error) {
	e := s.e
	// A job's request never changes: what it says by itself is read before the transaction.
	stored, err := e.getJobRow(ctx, e.store.DB(), id)
	if err != nil {
		return nil, false, err
	}
	spec, parseErr := parseExportRequest(stored.req)
	var claimed *jobRow
	err = e.writeJobs(ctx, func(tx *sql.Tx) error {
		j, err := e.getJobRow(ctx, tx, id)
		if err != nil {
			return err
		}
		now := e.nowMs()
		decision := jobs.Decide(j.state, j.attempts, j.cancelRequested)
		by := decision.Mover(j.state)
		switch decision {
		case jobs.Skip:
			return nil
		case jobs.EndCancelled:
			return e.transition(ctx, tx, j, jobs.Cancelled, by, nil, now)
		case jobs.GiveUp:
			return e.transition(ctx, tx, j, jobs.Failed, by, []aepwire.JobError{{Code: codeJobAbandoned, Msg: fmt.Sprintf(
				"the job was interrupted %d times (the engine process running it stopped) and is not started again", j.attempts)}}, now)
		}
		// The spec is resolved in the transaction that starts the job, so that a job is never
		// PROCESSING on a request that no longer holds (its destination or merge policy deleted
		// since it was created): such a job ends FAILED here, saying what went.
		if parseErr != nil {
			return e.transition(ctx, tx, j, jobs.Failed, by, []aepwire.JobError{{Code: codeJobInternal,
				Msg: "the job cannot run: its request is not valid any more: " + parseErr.Error()}}, now)
		}
		if err := e.resolve(ctx, tx, j.sandbox, spec); err != nil {
			if ctx.Err() != nil {
				return err
			}
			code, msg := codeJobInternal, "the job cannot run: its request cannot be read back: "+err.Error()
			if we := (*aepwire.Error)(nil); errors.As(err, &we) {
				code, msg = codeJobDestination, "the job cannot run: "+we.Detail+" (it was deleted after the job "+
					"was created); create it again or name another, and create a new job"+applyAgain
			}
			return e.transition(ctx, tx, j, jobs.Failed, by, []aepwire.JobError{{Code: code, Msg: msg}}, now)
		}
		if decision == jobs.Resume {
			j.warnings = append(j.warnings, aepwire.JobError{Code: codeJobResumed, Msg: fmt.Sprintf(
				"attempt %d was interrupted: the engine process running it stopped; the job was started again from the beginning", j.attempts)})
		}
		// The sandbox's turn moves on (see Unfinished).
		if _, err := tx.ExecContext(ctx, `UPDATE sandboxes SET job_turn = (SELECT MAX(job_turn) FROM sandboxes) + 1 WHERE name = ?`,
			j.sandbox); err != nil {
			return err
		}
		j.attempts++
		j.started = now
		j.metrics = aepwire.ExportMetrics{TotalTime: &aepwire.FeedbackMetrics{StartTimeInMs: j.creation}}
		j.gatewayIDs = map[string]string{"exportJob": newUUID()}
		claimed = j
		return e.transition(ctx, tx, j, jobs.Processing, by, nil, now)
	})
	if err != nil || claimed == nil {
		return nil, false, err
	}
	return &claimedJob{row: claimed, spec: spec}, true, nil
}

// End ends a job that has not ended. A failure's code says whether a new job on another
// destination would do.
func (s jobStore) End(ctx context.Context, id int64, to jobs.State, by jobs.Mover, cause error) error {
	var errs []aepwire.JobError
	if cause != nil {
		code := codeJobInternal
		var gone requestGoneError
		if errors.As(cause, &gone) {
			code = codeJobDestination
		}
		errs = []aepwire.JobError{{Code: code, Msg: cause.Error()}}
	}
	e := s.e
	return e.writeJobs(ctx, func(tx *sql.Tx) error {
		j, err := e.getJobRow(ctx, tx, id)
		if err != nil || j.state.Ended() {
			return err
		}
		return e.transition(ctx, tx, j, to, by, errs, e.nowMs())
	})
}

// Discard deletes the files a job's attempts wrote: the directories of its batches that were not
// committed.
func (s jobStore) Discard(ctx context.Context, id int64) {
	e := s.e
	j, err := e.getJobRow(ctx, e.store.DB(), id)
	if err != nil {
		return
	}
	for _, b := range j.batchIDs {
		var n int
		if e.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM batches WHERE id = ?`, b).Scan(&n) == nil && n == 0 {
			_ = os.RemoveAll(e.batchDir(b))
		}
	}
}

func (s jobStore) CancelRequested(ctx context.Context, id int64) (bool, error) {
	var flag bool
	err := s.e.store.DB().QueryRowContext(ctx, `SELECT cancel_requested FROM export_jobs WHERE id = ?`, id).Scan(&flag)
	return flag, err
}

func (s jobStore) RecordProgress(ctx context.Context, id int64, profiles, events int64) error {
	e := s.e
	return e.writeJobs(ctx, func(tx *sql.Tx) error {
		j, err := e.getJobRow(ctx, tx, id)
		if err != nil || j.state != jobs.Processing {
			return err
		}
		j.metrics.TotalExportedProfileCounter = &profiles
		j.metrics.ExportedEventCounter = &events
		metrics, err := json.Marshal(j.metrics)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE export_jobs SET metrics = ? WHERE id = ?`, string(metrics), id)
		return err
	})
}

// export runs a claimed job: the export, then the commit of its batches, which ends the job
// Succeeded.
func (e *Engine) export(ctx context.Context, j *claimedJob, p *jobs.Progress) error {
	res, err := e.runExport(ctx, j.row, j.spec, p)
	if err != nil {
		return err
	}
	// The commit is not interrupted: the output is written, and the job ends either way.
	err = e.commitExport(context.Background(), j.row, res)
	if err != nil && !errors.Is(err, jobs.ErrCancelledAtCommit) {
		return fmt.Errorf("committing the exported batches: %w", err)
	}
	return err
}

// applyAgain ends the messages of jobs that a new job would fix.
const applyAgain = " (with Terraform, apply again: the failed job is replaced)"

// requestGoneError says that something a job's request names was deleted while the job ran.
type requestGoneError string

func (e requestGoneError) Error() string { return string(e) }

// recoverJobs looks for jobs without a runner when the engine opens: New jobs nobody started, and
// Processing jobs whose runner died. They are resumed by this engine's runner or a worker.
func (e *Engine) recoverJobs(ctx context.Context) error {
	ids, err := e.runner.Runnable(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	e.runner.Wake()
	return nil
}

// WaitExportJob waits until a job has ended and returns it. It is told the moment the job's
// runner finishes (or dies), rather than polling; onChange, when set, hears of every status
// change and, while the job runs, of its progress every few seconds.
func (e *Engine) WaitExportJob(ctx context.Context, id int64, onChange func(*aepwire.ExportJob)) (*aepwire.ExportJob, error) {
	lastStatus := ""
	wait := 2 * time.Millisecond
	for {
		changed := e.jobEvents.wait()
		job, err := e.GetExportJob(ctx, id)
		if err != nil {
			return nil, err
		}
		if onChange != nil && job.Status != lastStatus {
			onChange(job)
		}
		lastStatus = job.Status
		state, _ := jobs.ParseWire(job.Status)
		if state.Ended() {
			return job, nil
		}
		if state == jobs.Processing {
			released, held := e.locks.WatchJob(id)
			if held {
				if err := e.awaitRelease(ctx, id, released, onChange); err != nil {
					return nil, err
				}
				continue
			}
			// Its runner died: have it resumed.
			e.runner.Wake()
		} else {
			e.runner.Wake()
			if err := e.runner.SpawnError(); err != nil {
				return nil, fmt.Errorf("no runner could be started for export job %d: %w", id, err)
			}
		}
		// A runner of this engine says when it moves the job; one in another process is polled.
		timer := e.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-changed:
		case <-timer.C():
		}
		timer.Stop()
		wait = min(wait*2, 50*time.Millisecond)
	}
}

func (e *Engine) awaitRelease(ctx context.Context, id int64, released <-chan struct{}, onChange func(*aepwire.ExportJob)) error {
	tick := e.clock.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-released:
			return nil
		case <-tick.C():
			if onChange != nil {
				if job, err := e.GetExportJob(ctx, id); err == nil {
					onChange(job)
				}
			}
		}
	}
}
