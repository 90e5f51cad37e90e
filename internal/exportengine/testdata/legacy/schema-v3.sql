-- The schema of a data directory written before sandboxes (schema version 3), as that version
-- created it, and what a user had in it: the engine must open it and keep every object.
CREATE TABLE datasets (
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
	) STRICT;
CREATE TABLE batches (
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
	) STRICT;
CREATE TABLE merge_policies (
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
	CREATE INDEX export_jobs_by_creation ON export_jobs (creation_ms DESC, id DESC);
CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_ms INTEGER NOT NULL
) STRICT;
INSERT INTO schema_migrations (version, applied_ms) VALUES (1, 1767225600000), (2, 1767225600000), (3, 1767225600000);

INSERT INTO datasets (id, name, description, schema_id, schema_content_type, tags, version, state, created_ms, updated_ms) VALUES
	('aaaaaaaaaaaaaaaaaaaaaaaa', 'legacy crm', '', 'https://ns.adobe.com/xdm/context/profile',
		'application/vnd.adobe.xed-full+json;version=1', '{"unifiedProfile":["enabled:true"]}', '1.0.0', 'DRAFT', 1767225600000, 1767225600000),
	('bbbbbbbbbbbbbbbbbbbbbbbb', 'legacy exports', '', 'https://ns.adobe.com/xdm/context/profile__union',
		'application/vnd.adobe.xed-full+json;version=1', '{}', '1.0.0', 'DRAFT', 1767225600000, 1767225600000);
INSERT INTO merge_policies (id, version, name, identity_graph, attribute_merge, dataset_order, is_default, update_epoch, latest) VALUES
	('11111111-1111-4111-8111-111111111111', 1, 'legacy precedence', 'none', 'dataSetPrecedence', '["aaaaaaaaaaaaaaaaaaaaaaaa"]', 0, 1767225600, 1);
INSERT INTO batches (id, dataset_id, origin, status, format, created_ms, updated_ms, started_ms, completed_ms, ingest_time_ms, record_count, size_bytes) VALUES
	('cccccccccccccccccccccccccccccccc', 'bbbbbbbbbbbbbbbbbbbbbbbb', 'export', 'success', 'json', 1767225700000, 1767225700000,
		1767225700000, 1767225700000, 1767225700000, 0, 0);
INSERT INTO engine_state (key, value) VALUES ('last_ingest_ms', 1767225700000);
INSERT INTO export_jobs (id, status, request, request_id, idempotency_key, batch_ids, creation_ms, update_ms) VALUES
	(7, 'SUCCEEDED', '{"destination":{"datasetId":"bbbbbbbbbbbbbbbbbbbbbbbb"},"schema":{"name":"_xdm.context.profile"}}',
		'legacy-request', 'legacy-key', '["cccccccccccccccccccccccccccccccc"]', 1767225700000, 1767225700000);
-- Jobs 8 and 9 were deleted: their ids are never given again.
UPDATE sqlite_sequence SET seq = 9 WHERE name = 'export_jobs';
