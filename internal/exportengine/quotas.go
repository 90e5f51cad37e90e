package exportengine

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
)

// Quotas bound what one sandbox holds. Each is counted in the transaction that would add to it,
// so that two requests at once cannot both pass the last place. Zero is no bound.
type Quotas struct {
	// Datasets is the most datasets a sandbox holds; past it, a creation is a 400 that says to
	// delete some.
	Datasets int
	// LoadingBatches is the most batches a sandbox has open: loading (created, not yet completed
	// or aborted), or processing (completed, and waiting for their ingestion or in it); past it,
	// a creation is a 400 that says what to do. A batch left loading for a day is abandoned
	// (KeepTidy), and a batch processing ends once ingested, each giving its place back.
	LoadingBatches int
	// PendingJobs is the most export jobs a sandbox has waiting or running (NEW or PROCESSING);
	// past it, a creation is a 429, to be tried again once some have ended.
	PendingJobs int
	// PolicyVersions is how many versions of a merge policy are kept: an update drops the oldest
	// past it, unless a job waiting or running names it.
	PolicyVersions int
}

// Quota error codes.
const (
	codeCatalogQuota = "CAT-1429"
	codeIngestQuota  = "INGEST-1429"
	codeJobQuota     = "UPS-1429"
)

// checkQuota refuses to add one more to what query counts in tx (its arguments args) when that
// holds limit already; refusal makes the error.
func checkQuota(ctx context.Context, tx *sql.Tx, limit int, refusal func(n int) error, query string, args ...any) error {
	if limit <= 0 {
		return nil
	}
	var n int
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return err
	}
	if n >= limit {
		return refusal(n)
	}
	return nil
}

func (e *Engine) checkDatasetQuota(ctx context.Context, tx *sql.Tx, sb string) error {
	return checkQuota(ctx, tx, e.quotas.Datasets, func(n int) error {
		return aepwire.Errorf(http.StatusBadRequest, codeCatalogQuota, "Quota reached",
			"the sandbox holds %d datasets, the most this server keeps in one: delete datasets that are no longer needed, "+
				"or ask the server's operator for more (-max-datasets)", n)
	}, `SELECT COUNT(*) FROM datasets WHERE sandbox = ?`, sb)
}

func (e *Engine) checkBatchQuota(ctx context.Context, tx *sql.Tx, sb string) error {
	return checkQuota(ctx, tx, e.quotas.LoadingBatches, func(n int) error {
		return aepwire.Errorf(http.StatusBadRequest, codeIngestQuota, "Quota reached",
			"the sandbox has %d batches loading or being ingested, the most this server keeps open in one: wait for the batches "+
				"completed to end, and complete (POST /batches/{id}?action=COMPLETE) or abort (?action=ABORT) those you have "+
				"opened, or ask the server's operator for more (-max-loading-batches)", n)
	}, `SELECT COUNT(*) FROM batches WHERE sandbox = ? AND status IN (?, ?)`, sb, aepwire.BatchLoading, aepwire.BatchProcessing)
}

func (e *Engine) checkJobQuota(ctx context.Context, tx *sql.Tx, sb string) error {
	return checkQuota(ctx, tx, e.quotas.PendingJobs, func(n int) error {
		return aepwire.Errorf(http.StatusTooManyRequests, codeJobQuota, "Too many requests",
			"the sandbox has %d export jobs waiting or running, the most this server queues for one: try again once some "+
				"have ended, or cancel some (DELETE /export/jobs/{id})", n)
	}, `SELECT COUNT(*) FROM export_jobs WHERE sandbox = ? AND status IN (?, ?)`, sb, jobs.New.Wire(), jobs.Processing.Wire())
}

// prunePolicyVersions drops the versions of policy id of sandbox sb older than the newest
// Quotas.PolicyVersions, but those that a job waiting or running names.
func (e *Engine) prunePolicyVersions(ctx context.Context, tx *sql.Tx, sb, id string, newest int64) error {
	keep := int64(e.quotas.PolicyVersions)
	if keep <= 0 || newest <= keep {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM merge_policies WHERE sandbox = ? AND id = ? AND version <= ?
		AND version NOT IN (SELECT json_extract(request, '$.mergePolicy.version') FROM export_jobs
			WHERE sandbox = ? AND status IN (?, ?) AND json_extract(request, '$.mergePolicy.id') = ?
				AND json_extract(request, '$.mergePolicy.version') IS NOT NULL)`,
		sb, id, newest-keep, sb, jobs.New.Wire(), jobs.Processing.Wire(), id)
	return err
}
