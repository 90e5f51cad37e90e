package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the database schema, one step per version: migrations[i] brings the schema from
// version i to i+1. Steps are append-only; a released step is never edited.
var migrations = []string{
	// 1: Catalog datasets.
	`CREATE TABLE datasets (
		id                  TEXT PRIMARY KEY,
		name                TEXT NOT NULL,
		description         TEXT NOT NULL DEFAULT '',
		schema_id           TEXT NOT NULL,
		schema_content_type TEXT NOT NULL,
		tags                TEXT NOT NULL DEFAULT '{}', -- JSON object of string arrays
		version             TEXT NOT NULL,
		state               TEXT NOT NULL,
		created_ms          INTEGER NOT NULL,
		updated_ms          INTEGER NOT NULL
	) STRICT`,

	// 2: Catalog batches, their files, and the engine's own counters.
	`CREATE TABLE batches (
		id                  TEXT PRIMARY KEY,
		dataset_id          TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
		origin              TEXT NOT NULL,            -- ingest | export
		status              TEXT NOT NULL,            -- loading | success | failed
		format              TEXT NOT NULL,
		created_ms          INTEGER NOT NULL,
		updated_ms          INTEGER NOT NULL,
		started_ms          INTEGER NOT NULL DEFAULT 0,
		completed_ms        INTEGER NOT NULL DEFAULT 0,
		ingest_time_ms      INTEGER NOT NULL DEFAULT 0, -- assigned at commit, strictly increasing
		record_count        INTEGER NOT NULL DEFAULT 0,
		failed_record_count INTEGER NOT NULL DEFAULT 0,
		size_bytes          INTEGER NOT NULL DEFAULT 0,
		errors              TEXT NOT NULL DEFAULT '[]', -- JSON array of batch errors
		profile_kind        INTEGER NOT NULL DEFAULT 0  -- recordKind of its profile segment; 0: none
	) STRICT;
	CREATE INDEX batches_by_dataset ON batches (dataset_id, created_ms);
	CREATE INDEX batches_in_profile_store ON batches (ingest_time_ms) WHERE profile_kind <> 0 AND status = 'success';
	CREATE TABLE batch_files (
		batch_id   TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
		name       TEXT NOT NULL,
		size_bytes INTEGER NOT NULL,
		records    INTEGER NOT NULL,
		sha256     TEXT NOT NULL,
		PRIMARY KEY (batch_id, name)
	) STRICT;
	CREATE TABLE engine_state (
		key   TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	) STRICT;`,

	// 3: merge policies (every version kept, so that a job can name an older one) and export jobs.
	`CREATE TABLE merge_policies (
		id                TEXT NOT NULL,
		version           INTEGER NOT NULL,
		name              TEXT NOT NULL,
		identity_graph    TEXT NOT NULL,
		attribute_merge   TEXT NOT NULL,
		dataset_order     TEXT NOT NULL DEFAULT '[]', -- JSON array of dataset ids
		is_default        INTEGER NOT NULL DEFAULT 0,  -- meaningful on the latest version only
		is_active_on_edge INTEGER NOT NULL DEFAULT 0,
		update_epoch      INTEGER NOT NULL,            -- seconds
		latest            INTEGER NOT NULL DEFAULT 1,
		PRIMARY KEY (id, version)
	) STRICT;
	CREATE UNIQUE INDEX merge_policies_latest ON merge_policies (id) WHERE latest = 1;
	INSERT INTO merge_policies (id, version, name, identity_graph, attribute_merge, is_default, update_epoch) VALUES
		('timestampOrdered-none-mp', 1, 'Default timestamp-ordered', 'none', 'timestampOrdered', 1, unixepoch()),
		('timestampOrdered-pdg-mp', 1, 'Timestamp-ordered with private graph', 'pdg', 'timestampOrdered', 0, unixepoch());
	CREATE TABLE export_jobs (
		id               INTEGER PRIMARY KEY AUTOINCREMENT,
		status           TEXT NOT NULL,
		request          TEXT NOT NULL,             -- JSON: the request as the job echoes it
		request_id       TEXT NOT NULL,
		idempotency_key  TEXT UNIQUE,               -- a client's key: the same key returns the same job
		batch_ids        TEXT NOT NULL,             -- JSON array: the destination batch ids, reserved
		creation_ms      INTEGER NOT NULL,
		update_ms        INTEGER NOT NULL,
		started_ms       INTEGER NOT NULL DEFAULT 0,
		metrics          TEXT NOT NULL DEFAULT '{}', -- JSON
		errors           TEXT NOT NULL DEFAULT '[]', -- JSON
		warnings         TEXT NOT NULL DEFAULT '[]', -- JSON
		gateway_ids      TEXT NOT NULL DEFAULT '{}', -- JSON: computeGatewayJobId
		attempts         INTEGER NOT NULL DEFAULT 0,
		cancel_requested INTEGER NOT NULL DEFAULT 0
	) STRICT;
	CREATE INDEX export_jobs_active ON export_jobs (status) WHERE status IN ('NEW', 'PROCESSING');
	CREATE INDEX export_jobs_by_creation ON export_jobs (creation_ms DESC, id DESC);`,

	// 4: sandboxes. Every dataset, batch, merge policy and export job belongs to one; the rows of
	// a data directory written before have none ('') until an engine claims them. Merge policy
	// ids (the defaults' are fixed) and idempotency keys are a sandbox's own, so those tables are
	// rebuilt with the sandbox in their keys; export job ids stay unique across sandboxes, and
	// never go back to one given before.
	`CREATE TABLE sandboxes (
		name       TEXT PRIMARY KEY,
		created_ms INTEGER NOT NULL
	) STRICT;

	ALTER TABLE datasets ADD COLUMN sandbox TEXT NOT NULL DEFAULT '';
	CREATE INDEX datasets_by_sandbox ON datasets (sandbox, created_ms);
	ALTER TABLE batches ADD COLUMN sandbox TEXT NOT NULL DEFAULT '';
	DROP INDEX batches_in_profile_store;
	CREATE INDEX batches_in_profile_store ON batches (sandbox, ingest_time_ms) WHERE profile_kind <> 0 AND status = 'success';

	CREATE TABLE merge_policies_v4 (
		sandbox           TEXT NOT NULL,
		id                TEXT NOT NULL,
		version           INTEGER NOT NULL,
		name              TEXT NOT NULL,
		identity_graph    TEXT NOT NULL,
		attribute_merge   TEXT NOT NULL,
		dataset_order     TEXT NOT NULL DEFAULT '[]',
		is_default        INTEGER NOT NULL DEFAULT 0,
		is_active_on_edge INTEGER NOT NULL DEFAULT 0,
		update_epoch      INTEGER NOT NULL,
		latest            INTEGER NOT NULL DEFAULT 1,
		PRIMARY KEY (sandbox, id, version)
	) STRICT;
	INSERT INTO merge_policies_v4 (sandbox, id, version, name, identity_graph, attribute_merge, dataset_order, is_default,
		is_active_on_edge, update_epoch, latest)
		SELECT '', id, version, name, identity_graph, attribute_merge, dataset_order, is_default, is_active_on_edge,
			update_epoch, latest FROM merge_policies;
	DROP TABLE merge_policies;
	ALTER TABLE merge_policies_v4 RENAME TO merge_policies;
	CREATE UNIQUE INDEX merge_policies_latest ON merge_policies (sandbox, id) WHERE latest = 1;

	CREATE TABLE export_jobs_v4 (
		id               INTEGER PRIMARY KEY AUTOINCREMENT,
		sandbox          TEXT NOT NULL,
		status           TEXT NOT NULL,
		request          TEXT NOT NULL,
		request_id       TEXT NOT NULL,
		idempotency_key  TEXT,
		batch_ids        TEXT NOT NULL,
		creation_ms      INTEGER NOT NULL,
		update_ms        INTEGER NOT NULL,
		started_ms       INTEGER NOT NULL DEFAULT 0,
		metrics          TEXT NOT NULL DEFAULT '{}',
		errors           TEXT NOT NULL DEFAULT '[]',
		warnings         TEXT NOT NULL DEFAULT '[]',
		gateway_ids      TEXT NOT NULL DEFAULT '{}',
		attempts         INTEGER NOT NULL DEFAULT 0,
		cancel_requested INTEGER NOT NULL DEFAULT 0,
		UNIQUE (sandbox, idempotency_key)
	) STRICT;
	INSERT INTO export_jobs_v4 (id, sandbox, status, request, request_id, idempotency_key, batch_ids, creation_ms, update_ms,
		started_ms, metrics, errors, warnings, gateway_ids, attempts, cancel_requested)
		SELECT id, '', status, request, request_id, idempotency_key, batch_ids, creation_ms, update_ms, started_ms, metrics,
			errors, warnings, gateway_ids, attempts, cancel_requested FROM export_jobs;
	DELETE FROM sqlite_sequence WHERE name = 'export_jobs_v4';
	INSERT INTO sqlite_sequence (name, seq) SELECT 'export_jobs_v4', seq FROM sqlite_sequence WHERE name = 'export_jobs';
	DROP TABLE export_jobs;
	ALTER TABLE export_jobs_v4 RENAME TO export_jobs;
	CREATE INDEX export_jobs_active ON export_jobs (status) WHERE status IN ('NEW', 'PROCESSING');
	CREATE INDEX export_jobs_by_creation ON export_jobs (sandbox, creation_ms DESC, id DESC);`,

	// 5: the top-level names of a profile batch's records (a JSON array of strings), so that an
	// export stops reading a record once it has met the names it selects that the batch has. NULL
	// when they are not known: a batch ingested before, or one whose records repeat a name.
	`ALTER TABLE batches ADD COLUMN top_names TEXT`,

	// 6: profile segments of version 4, which keep where each record's top-level members start.
	// The step changes no table: it marks the directory as one that may hold them, so that a
	// provider that reads only the versions before refuses the directory, as newer than it knows
	// (checkVersion), rather than finding its new segments damaged.
	`INSERT INTO engine_state (key, value) VALUES ('profile_segment_version', 4)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,

	// 7: whether no member object of a profile batch's records (the value of a top-level member)
	// has a name twice, and their top-level names are known (1), so that an export reads a member
	// object only until it has met the names it selects in it. NULL when not known: a batch
	// ingested before, or one where a name is repeated.
	`ALTER TABLE batches ADD COLUMN unique_names INTEGER`,

	// 8: whether every profile fragment of a batch, merged alone, is its own whole row (1), and
	// the batch's top-level names are known, so that an export copies them into whole rows
	// without reading them (fields.Selector.CopiesAsIs). NULL when not known: a batch ingested
	// before, one with a fragment that is not, one whose names are not known, and an event batch.
	`ALTER TABLE batches ADD COLUMN as_is INTEGER`,

	// 9: when each sandbox last had an export job started, as a count of the starts (0: never), so
	// that the sandboxes take turns at the places of the engine's runners.
	`ALTER TABLE sandboxes ADD COLUMN job_turn INTEGER NOT NULL DEFAULT 0`,
}

// migrate brings the schema up to the newest version. It runs in one write transaction, so two
// processes opening a new data directory at once apply each step exactly once.
func (s *Store) migrate(ctx context.Context) error {
	// A database already up to date (every open but the first) is only read: the write lock,
	// which an export's commit or an ingestion may hold in another process, is not waited for.
	if current, err := s.SchemaVersion(ctx); err == nil && current >= len(migrations) {
		return checkVersion(current)
	}
	return s.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    INTEGER PRIMARY KEY,
			applied_ms INTEGER NOT NULL
		) STRICT`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return err
		}
		if err := checkVersion(current); err != nil {
			return err
		}
		for v := current + 1; v <= len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v-1]); err != nil {
				return fmt.Errorf("schema migration %d: %w", v, err)
			}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, applied_ms) VALUES (?, CAST(unixepoch('subsec') * 1000 AS INTEGER))`, v); err != nil {
				return fmt.Errorf("recording schema migration %d: %w", v, err)
			}
		}
		return nil
	})
}

// checkVersion refuses a database whose schema is newer than this package knows.
func checkVersion(current int) error {
	if current > len(migrations) {
		return fmt.Errorf("the data directory has schema version %d, newer than this provider knows (%d): "+
			"use a provider version at least as new as the one that last wrote it", current, len(migrations))
	}
	return nil
}

// Versions is the number of migrations: the schema version of a database this package brought up
// to date.
func Versions() int { return len(migrations) }

// SchemaVersion is the version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
