package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Catalog error codes.
const (
	codeCatalogBadRequest = "CAT-1400"
	codeCatalogNotFound   = "CAT-1404"
)

func datasetNotFound(id string) error {
	return aepwire.Errorf(http.StatusNotFound, codeCatalogNotFound, "Dataset not found",
		"no dataset has the id %q", id)
}

func catalogBadRequest(format string, args ...any) error {
	return aepwire.Errorf(http.StatusBadRequest, codeCatalogBadRequest, "Bad request", format, args...)
}

// CreateDataset creates a Catalog dataset.
func (e *Engine) CreateDataset(ctx context.Context, req aepwire.DatasetRequest) (*aepwire.Dataset, error) {
	if strings.TrimSpace(req.Name) == "" {
		return nil, catalogBadRequest("name is required")
	}
	if req.SchemaRef.ID == "" {
		return nil, catalogBadRequest("schemaRef.id is required")
	}
	if err := aepwire.CheckLength(codeCatalogBadRequest, "schemaRef.id", req.SchemaRef.ID, aepwire.MaxSchemaIDLen); err != nil {
		return nil, err
	}
	if err := aepwire.CheckLength(codeCatalogBadRequest, "schemaRef.contentType", req.SchemaRef.ContentType, aepwire.MaxIdentifierLen); err != nil {
		return nil, err
	}
	if req.SchemaRef.ContentType == "" {
		req.SchemaRef.ContentType = aepwire.DefaultSchemaContentType
	}
	if err := validateTags(req.Tags); err != nil {
		return nil, err
	}
	now := e.nowMs()
	ds := &aepwire.Dataset{
		ID:          newDatasetID(),
		Name:        req.Name,
		Description: req.Description,
		ImsOrg:      e.imsOrg,
		Version:     "1.0.0",
		Created:     now,
		Updated:     now,
		Tags:        req.Tags,
		SchemaRef:   req.SchemaRef,
		State:       "DRAFT",
	}
	tags, err := encodeTags(ds.Tags)
	if err != nil {
		return nil, err
	}
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		if err := e.checkDatasetQuota(ctx, tx, sb); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO datasets
			(sandbox, id, name, description, schema_id, schema_content_type, tags, version, state, created_ms, updated_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			sb, ds.ID, ds.Name, ds.Description, ds.SchemaRef.ID, ds.SchemaRef.ContentType, tags,
			ds.Version, ds.State, ds.Created, ds.Updated)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating dataset: %w", err)
	}
	return ds, nil
}

// GetDataset returns a dataset, or a 404 error.
func (e *Engine) GetDataset(ctx context.Context, id string) (*aepwire.Dataset, error) {
	return readInSandbox(ctx, e, func(tx *sql.Tx, sb string) (*aepwire.Dataset, error) {
		return e.getDataset(ctx, tx, sb, id)
	})
}

const datasetColumns = `id, name, description, schema_id, schema_content_type, tags, version, state, created_ms, updated_ms`

// getDataset reads a dataset of sandbox sb: one of another sandbox is not found.
func (e *Engine) getDataset(ctx context.Context, tx *sql.Tx, sb, id string) (*aepwire.Dataset, error) {
	row := tx.QueryRowContext(ctx, `SELECT `+datasetColumns+` FROM datasets WHERE id = ? AND sandbox = ?`, id, sb)
	ds, err := e.scanDataset(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, datasetNotFound(id)
	}
	return ds, err
}

func (e *Engine) scanDataset(row interface{ Scan(...any) error }) (*aepwire.Dataset, error) {
	ds := &aepwire.Dataset{ImsOrg: e.imsOrg}
	var tags string
	if err := row.Scan(&ds.ID, &ds.Name, &ds.Description, &ds.SchemaRef.ID, &ds.SchemaRef.ContentType,
		&tags, &ds.Version, &ds.State, &ds.Created, &ds.Updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &ds.Tags); err != nil {
		return nil, fmt.Errorf("dataset %s has unreadable tags: %w", ds.ID, err)
	}
	if len(ds.Tags) == 0 {
		ds.Tags = nil
	}
	return ds, nil
}

// UpdateDataset applies a partial update: each set field replaces the stored property. The
// dataset's version is bumped.
func (e *Engine) UpdateDataset(ctx context.Context, id string, patch aepwire.DatasetPatch) (*aepwire.Dataset, error) {
	if patch.Name != nil && strings.TrimSpace(*patch.Name) == "" {
		return nil, catalogBadRequest("name must not be empty")
	}
	if patch.Tags != nil {
		if err := validateTags(*patch.Tags); err != nil {
			return nil, err
		}
	}
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	var ds *aepwire.Dataset
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if ds, err = e.getDataset(ctx, tx, sb, id); err != nil {
			return err
		}
		if patch.IfVersion != "" && patch.IfVersion != ds.Version {
			return aepwire.Errorf(http.StatusPreconditionFailed, "CAT-1412", "Precondition failed",
				"dataset %s is at version %s, not %s (If-Match): read it again and send the change with the version read", id, ds.Version, aepwire.QuoteShort(patch.IfVersion))
		}
		if patch.Name != nil {
			ds.Name = *patch.Name
		}
		if patch.Description != nil {
			ds.Description = *patch.Description
		}
		if patch.Tags != nil {
			ds.Tags = *patch.Tags
			if len(ds.Tags) == 0 {
				ds.Tags = nil
			}
		}
		ds.Version = bumpVersion(ds.Version)
		ds.Updated = max(e.nowMs(), ds.Updated)
		tags, err := encodeTags(ds.Tags)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE datasets SET name = ?, description = ?, tags = ?, version = ?, updated_ms = ?
			WHERE id = ? AND sandbox = ?`, ds.Name, ds.Description, tags, ds.Version, ds.Updated, id, sb)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// DeleteDataset deletes a dataset with its batches, their files and the profile data they
// contributed. Deleting a dataset that does not exist is a 404.
func (e *Engine) DeleteDataset(ctx context.Context, id string) error {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return err
	}
	var batches []string
	var inStore int // batches of the profile store
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if batches, err = store.QueryStrings(ctx, tx, `SELECT id FROM batches WHERE dataset_id = ? AND sandbox = ?`, id, sb); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM batches WHERE dataset_id = ? AND sandbox = ? AND profile_kind <> 0 AND status = 'success'`,
			id, sb).Scan(&inStore); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM datasets WHERE id = ? AND sandbox = ?`, id, sb) // batches cascade
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return datasetNotFound(id)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// As DeleteBatch: the ingestions of its batches stop first, and waiters hear of them.
	for _, b := range batches {
		e.background.halted(b)
	}
	if inStore > 0 {
		if err := e.dropKept(sb); err != nil {
			return err
		}
	}
	for _, b := range batches {
		if err := os.RemoveAll(e.batchDir(b)); err != nil {
			return err
		}
	}
	return nil
}

func validateTags(tags map[string][]string) error {
	for name := range tags {
		if strings.TrimSpace(name) == "" {
			return catalogBadRequest("tag names must not be empty")
		}
	}
	return nil
}

func encodeTags(tags map[string][]string) (string, error) {
	if len(tags) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(tags)
	return string(b), err
}

// bumpVersion increments the patch number of a semantic version string.
func bumpVersion(v string) string {
	i := strings.LastIndexByte(v, '.')
	n, err := strconv.Atoi(v[i+1:])
	if err != nil {
		return v + ".1"
	}
	return v[:i+1] + strconv.Itoa(n+1)
}

// catalogOrderBy is the ORDER BY of a Catalog listing's query, of a table whose times are
// created_ms and updated_ms: each tie broken by what comes after it, and then by id, so that a
// page is the same whatever the other pages.
func catalogOrderBy(q aepwire.CatalogQuery) string {
	dir := " ASC"
	if q.Desc {
		dir = " DESC"
	}
	if q.ByUpdated {
		return "updated_ms" + dir + ", created_ms, id"
	}
	return "created_ms" + dir + ", id"
}

// ListDatasetsPage returns a page of the sandbox's datasets of q.Name (or of every name) that
// have q.Tags (the batches' filters of q do not apply), read from the database a page at a time.
func (e *Engine) ListDatasetsPage(ctx context.Context, q aepwire.CatalogQuery) ([]*aepwire.Dataset, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	where, args := `sandbox = ? AND (? = '' OR name = ?)`, []any{sb, q.Name, q.Name}
	for _, t := range q.Tags {
		if t.Value == "*" {
			where += ` AND EXISTS (SELECT 1 FROM json_each(datasets.tags) t WHERE t.key = ?)`
			args = append(args, t.Name)
			continue
		}
		where += ` AND EXISTS (SELECT 1 FROM json_each(datasets.tags) t, json_each(t.value) v WHERE t.key = ? AND v.value = ?)`
		args = append(args, t.Name, t.Value)
	}
	return store.All(ctx, e.store.DB(), e.scanDataset, `SELECT `+datasetColumns+` FROM datasets WHERE `+where+`
		ORDER BY `+catalogOrderBy(q)+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Start)...)
}

// ListDatasets returns every dataset of the sandbox, oldest first.
func (e *Engine) ListDatasets(ctx context.Context) ([]*aepwire.Dataset, error) {
	return e.ListDatasetsPage(ctx, aepwire.CatalogQuery{Limit: -1})
}
