package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Export job error codes reported in a job's errors.
const (
	codeJobInternal    = "EXPORT-1000"
	codeJobDestination = "EXPORT-1001"
	codeJobAbandoned   = "EXPORT-1002"
	codeJobResumed     = "EXPORT-1003"
	codeJobCancelled   = "EXPORT-1004"
)

func jobNotFound(id int64) error {
	return aepwire.Errorf(http.StatusNotFound, codeJobNotFound, "Export job not found", "no export job has the id %d", id)
}

// CreateExportJob validates a request and creates a NEW job for it, with its destination batch
// ids reserved. A non-empty idempotencyKey makes the call safe to retry: a second request with
// the same key returns the job the first one created.
//
// It answers with the job as the transaction left it (NEW, or as the first request's job stood),
// never as a runner may have moved it since: a runner can claim the job the moment it commits.
func (e *Engine) CreateExportJob(ctx context.Context, req aepwire.ExportJobRequest, idempotencyKey string) (*aepwire.ExportJob, error) {
	spec, err := parseExportRequest(req)
	if err != nil {
		return nil, err
	}
	// The key is kept with the job: it is held to the length of an identifier.
	if err := checkRequestLength("the idempotency key (Idempotency-Key)", idempotencyKey, aepwire.MaxIdentifierLen); err != nil {
		return nil, err
	}
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.checkRoom(); err != nil {
		return nil, err
	}
	var created *jobRow
	err = e.writeJobs(ctx, func(tx *sql.Tx) error {
		if idempotencyKey != "" {
			var id int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM export_jobs WHERE sandbox = ? AND idempotency_key = ?`, sb, idempotencyKey).Scan(&id)
			if err == nil {
				created, err = e.getJobRow(ctx, tx, id)
				return err
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		if err := e.resolve(ctx, tx, sb, spec); err != nil {
			return err
		}
		if err := e.checkJobQuota(ctx, tx, sb); err != nil {
			return err
		}
		n := 1
		if spec.perBatch {
			n = len(spec.segments)
		}
		batches := make([]string, n)
		for i := range batches {
			batches[i] = newBatchID()
		}
		reqJSON, err := json.Marshal(spec.req)
		if err != nil {
			return err
		}
		batchJSON, _ := json.Marshal(batches)
		now := e.nowMs()
		var key any
		if idempotencyKey != "" {
			key = idempotencyKey
		}
		r, err := tx.ExecContext(ctx, `INSERT INTO export_jobs (sandbox, status, request, request_id, idempotency_key, batch_ids,
			creation_ms, update_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sb, jobs.New.Wire(), string(reqJSON), randomHex(16), key, string(batchJSON), now, now)
		if err != nil {
			return err
		}
		id, err := r.LastInsertId()
		if err != nil {
			return err
		}
		created, err = e.getJobRow(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	e.runner.Wake()
	return e.wire(created), nil
}

// jobRow is an export job as stored.
type jobRow struct {
	id              int64
	sandbox         string
	state           jobs.State
	req             aepwire.ExportJobRequest
	requestID       string
	batchIDs        []string
	creation        int64
	update          int64
	started         int64
	metrics         aepwire.ExportMetrics
	errors          []aepwire.JobError
	warnings        []aepwire.JobError
	gatewayIDs      map[string]string
	attempts        int
	cancelRequested bool
}

const jobColumns = `id, sandbox, status, request, request_id, batch_ids, creation_ms, update_ms, started_ms, metrics, errors,
	warnings, gateway_ids, attempts, cancel_requested`

func scanJob(row interface{ Scan(...any) error }) (*jobRow, error) {
	j := &jobRow{}
	var req, batches, metrics, errs, warnings, gateway string
	if err := row.Scan(&j.id, &j.sandbox, &j.state, &req, &j.requestID, &batches, &j.creation, &j.update, &j.started, &metrics,
		&errs, &warnings, &gateway, &j.attempts, &j.cancelRequested); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		s string
		v any
	}{{req, &j.req}, {batches, &j.batchIDs}, {metrics, &j.metrics}, {errs, &j.errors}, {warnings, &j.warnings}, {gateway, &j.gatewayIDs}} {
		if err := json.Unmarshal([]byte(f.s), f.v); err != nil {
			return nil, fmt.Errorf("export job %d is unreadable: %w", j.id, err)
		}
	}
	return j, nil
}

// rowQuerier runs a query for one row: a *sql.DB or *sql.Tx.
type rowQuerier interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// getJobRow reads a job of any sandbox: the runner's view, which runs the jobs of them all.
func (e *Engine) getJobRow(ctx context.Context, q rowQuerier, id int64) (*jobRow, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM export_jobs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobNotFound(id)
	}
	return j, err
}

// getOwnJobRow reads a job of sandbox sb: the API's view, where a job of another sandbox is not
// found.
func (e *Engine) getOwnJobRow(ctx context.Context, q rowQuerier, sb string, id int64) (*jobRow, error) {
	j, err := scanJob(q.QueryRowContext(ctx, `SELECT `+jobColumns+` FROM export_jobs WHERE id = ? AND sandbox = ?`, id, sb))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, jobNotFound(id)
	}
	return j, err
}

// wire renders a job as the API returns it.
func (e *Engine) wire(j *jobRow) *aepwire.ExportJob {
	job := &aepwire.ExportJob{
		ID:                  j.id,
		ProfileInstanceID:   "ups",
		JobType:             "BATCH",
		Status:              j.state.Wire(),
		Fields:              j.req.Fields,
		Schema:              j.req.Schema,
		Filter:              j.req.Filter,
		AdditionalFields:    j.req.AdditionalFields,
		Destination:         j.req.Destination,
		RequestID:           j.requestID,
		ComputeGatewayJobID: j.gatewayIDs,
		Metrics:             j.metrics,
		Errors:              j.errors,
		Warnings:            j.warnings,
		ImsOrgID:            e.imsOrg,
		CreationTime:        j.creation,
		UpdateTime:          j.update,
	}
	if j.req.MergePolicy != nil {
		job.MergePolicy = *j.req.MergePolicy
	}
	if job.ComputeGatewayJobID == nil {
		job.ComputeGatewayJobID = map[string]string{}
	}
	if job.Metrics.TotalTime == nil {
		job.Metrics.TotalTime = &aepwire.FeedbackMetrics{StartTimeInMs: j.creation}
	}
	// A job names the batches reserved for it from its creation on, as AEP's does, whether or
	// not it ends by committing them: a failed or cancelled job's batches do not exist.
	if j.req.Destination.SegmentPerBatch {
		for i, seg := range j.req.Filter.Segments {
			ns, statuses := seg.SegmentNs, seg.Status
			if ns == "" {
				ns = "ups"
			}
			if len(statuses) == 0 {
				statuses = []string{aepwire.SegmentRealized, aepwire.SegmentExisting}
			}
			b := aepwire.ExportBatch{SegmentID: seg.SegmentID, SegmentNs: ns, Status: statuses}
			if i < len(j.batchIDs) {
				b.BatchID = j.batchIDs[i]
			}
			job.Destination.Batches = append(job.Destination.Batches, b)
		}
	} else if len(j.batchIDs) > 0 {
		job.Destination.BatchID = j.batchIDs[0]
	}
	return job
}

// GetExportJob returns a job, or a 404 error.
func (e *Engine) GetExportJob(ctx context.Context, id int64) (*aepwire.ExportJob, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	j, err := e.getOwnJobRow(ctx, e.store.DB(), sb, id)
	if err != nil {
		return nil, err
	}
	return e.wire(j), nil
}

const defaultJobListLimit = 100

// ListExportJobs returns a page of jobs, newest first, as GET /export/jobs does: the page's
// offset is "{creationTime}_{id}" of its last job, and link.next is empty on the last page.
func (e *Engine) ListExportJobs(ctx context.Context, q aepwire.ExportJobQuery) (*aepwire.ExportJobList, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	limit := min(q.Limit, aepwire.MaxExportJobPage)
	if limit <= 0 {
		limit = defaultJobListLimit
	}
	where, args := []string{"sandbox = ?"}, []any{sb}
	if q.Status != "" {
		st, ok := jobs.ParseWire(strings.ToUpper(q.Status))
		if !ok {
			return nil, profileBadRequest("status %q is not one of NEW, PROCESSING, SUCCEEDED, FAILED, CANCELLED", q.Status)
		}
		where, args = append(where, "status = ?"), append(args, st.Wire())
	}
	if q.Offset != "" {
		creation, id, ok := parseJobOffset(q.Offset)
		if !ok {
			return nil, profileBadRequest("offset %q is not a page offset of this list ({creationTime}_{id})", q.Offset)
		}
		where = append(where, "(creation_ms < ? OR (creation_ms = ? AND id < ?))")
		args = append(args, creation, creation, id)
	}
	args = append(args, limit+1)
	// One job past the page says whether another page follows.
	rows, err := store.All(ctx, e.store.DB(), scanJob, `SELECT `+jobColumns+` FROM export_jobs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY creation_ms DESC, id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	more := len(rows) > limit
	list := &aepwire.ExportJobList{Records: []aepwire.ExportJob{}, Page: aepwire.ListPage{SortField: "createdTime", Sort: "desc"}}
	for _, j := range rows[:min(limit, len(rows))] {
		list.Records = append(list.Records, *e.wire(j))
	}
	list.Page.PageSize = len(list.Records)
	if n := len(list.Records); n > 0 {
		last := list.Records[n-1]
		list.Page.PageOffset = fmt.Sprintf("%d_%d", last.CreationTime, last.ID)
		if more {
			next := fmt.Sprintf("/export/jobs/?limit=%d&offset=%s", limit, list.Page.PageOffset)
			if q.Status != "" {
				next += "&status=" + strings.ToUpper(q.Status)
			}
			list.Link.Next = next
		}
	}
	return list, nil
}

func parseJobOffset(s string) (creation, id int64, ok bool) {
	a, b, found := strings.Cut(s, "_")
	if !found {
		return 0, 0, false
	}
	var err1, err2 error
	creation, err1 = strconv.ParseInt(a, 10, 64)
	id, err2 = strconv.ParseInt(b, 10, 64)
	return creation, id, err1 == nil && err2 == nil
}

// CancelExportJob is DELETE /export/jobs/{id}: a NEW or PROCESSING job stops and becomes
// CANCELLED, its partial output discarded; a finished job's record is deleted (its batches stay).
// It returns once the request is recorded; the runner stops promptly after.
func (e *Engine) CancelExportJob(ctx context.Context, id int64) error {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return err
	}
	var abandoned bool
	err = e.writeJobs(ctx, func(tx *sql.Tx) error {
		j, err := e.getOwnJobRow(ctx, tx, sb, id)
		if err != nil {
			return err
		}
		now := e.nowMs()
		switch j.state {
		case jobs.New:
			// Not started: no runner can claim it any more once it is Cancelled.
			return e.transition(ctx, tx, j, jobs.Cancelled, jobs.ByAPI, nil, now)
		case jobs.Processing:
			_, err := tx.ExecContext(ctx, `UPDATE export_jobs SET cancel_requested = 1, update_ms = ? WHERE id = ?`, now, id)
			abandoned = true
			return err
		default:
			_, err := tx.ExecContext(ctx, `DELETE FROM export_jobs WHERE id = ?`, id)
			return err
		}
	})
	if err != nil {
		return err
	}
	if abandoned {
		return e.runner.Cancel(ctx, id)
	}
	return nil
}

// transition moves a job to another state in tx: it is the one way a job's state changes. The
// move must be in the transition table (jobs.Check), made by by. The caller sets what the move
// changes besides the state (attempts, warnings, metrics) in j first; transition adds errs to the
// job's errors, and on an end state closes the job's total time and gives a cancellation its error.
func (e *Engine) transition(ctx context.Context, tx *sql.Tx, j *jobRow, to jobs.State, by jobs.Mover, errs []aepwire.JobError, now int64) error {
	if err := jobs.Check(j.state, to, by); err != nil {
		return fmt.Errorf("export job %d: %w", j.id, err)
	}
	if to.Ended() {
		if j.metrics.TotalTime == nil {
			j.metrics.TotalTime = &aepwire.FeedbackMetrics{StartTimeInMs: j.creation}
		}
		j.metrics.TotalTime.EndTimeInMs = now
		j.metrics.TotalTime.TotalTimeInMs = now - j.metrics.TotalTime.StartTimeInMs
		if to == jobs.Cancelled && len(errs) == 0 {
			errs = []aepwire.JobError{{Code: codeJobCancelled, Msg: "the job was cancelled (DELETE /export/jobs/" + strconv.FormatInt(j.id, 10) + ")"}}
		}
	}
	j.state, j.update = to, now
	j.errors = append(j.errors, errs...)
	var cols [4][]byte
	for i, v := range []any{j.metrics, j.errors, j.warnings, j.gatewayIDs} {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		cols[i] = b
	}
	_, err := tx.ExecContext(ctx, `UPDATE export_jobs SET status = ?, attempts = ?, started_ms = ?, update_ms = ?, metrics = ?,
		errors = ?, warnings = ?, gateway_ids = ? WHERE id = ?`,
		j.state.Wire(), j.attempts, j.started, j.update, string(cols[0]), string(cols[1]), string(cols[2]), string(cols[3]), j.id)
	return err
}

// writeJobs runs fn in a write transaction of the store, as store.write does, and then tells the
// waiters of this process that a job may have changed. Every transaction that changes a job runs
// through it.
func (e *Engine) writeJobs(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer e.jobEvents.notify()
	return e.store.Write(ctx, fn)
}
