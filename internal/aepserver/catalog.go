package aepserver

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

func (s *Server) createDataset(w http.ResponseWriter, r *http.Request) error {
	var req aepwire.DatasetRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := checkDataset(&req.Name, &req.Description, &req.Tags); err != nil {
		return err
	}
	ds, err := s.platform.CreateDataset(r.Context(), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", catalogPath+"/dataSets/"+ds.ID)
	writeJSON(w, http.StatusCreated, []string{"@/dataSets/" + ds.ID})
	return nil
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.platform.GetDataset(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+ds.Version+`"`)
	writeJSON(w, http.StatusOK, map[string]*aepwire.Dataset{ds.ID: ds})
	return nil
}

// listDatasets is GET /dataSets with start (0-based) and limit (default 20, at most 100).
func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) error {
	start, limit, err := pageParams(r, 20)
	if err != nil {
		return err
	}
	desc, byUpdated, err := catalogOrder(r.URL.Query().Get("orderBy"), false)
	if err != nil {
		return err
	}
	page, err := s.platform.ListDatasetsPage(r.Context(), aepwire.CatalogQuery{Start: start, Limit: limit, Desc: desc, ByUpdated: byUpdated})
	if err != nil {
		return err
	}
	out := map[string]*aepwire.Dataset{}
	for _, d := range page {
		out[d.ID] = d
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// catalogOrder reads a Catalog list's orderBy, a direction and a field (asc:created,
// desc:updated; of a list of fields, asc:created,updated, the first orders): whether it is
// descending, and whether by update time rather than creation. None orders by creation,
// descending as defaultDesc says.
func catalogOrder(v string, defaultDesc bool) (desc, byUpdated bool, err error) {
	if v == "" {
		return defaultDesc, false, nil
	}
	dir, fieldList, ok := strings.Cut(v, ":")
	field, _, _ := strings.Cut(fieldList, ",")
	if !ok || (dir != "asc" && dir != "desc") || (field != "created" && field != "updated") {
		return false, false, aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request",
			"orderBy %s is not a direction and a field, such as desc:created; the fields are created and updated", aepwire.QuoteShort(v))
	}
	return dir == "desc", field == "updated", nil
}

// maxStart bounds a listing's start: far past any list the server holds, and far enough from
// the largest int that start+limit cannot overflow into a negative next page.
const maxStart = 1_000_000_000

// pageParams reads start (0-based, at most maxStart) and limit (at most 100, as AEP's listings
// allow).
func pageParams(r *http.Request, defaultLimit int) (start, limit int, err error) {
	const maxLimit = 100
	limit = defaultLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > maxLimit {
			return 0, 0, aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request", "limit must be between 1 and %d", maxLimit)
		}
	}
	if v := r.URL.Query().Get("start"); v != "" {
		if start, err = strconv.Atoi(v); err != nil || start < 0 || start > maxStart {
			return 0, 0, aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request",
				"start must be between 0 and %d: the index of the page's first item", maxStart)
		}
	}
	return start, limit, nil
}

// patchDataset takes either a partial object or, with application/json-patch+json, a JSON Patch
// of top-level properties and single tags.
func (s *Server) patchDataset(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var patch aepwire.DatasetPatch
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json-patch+json") {
		cur, err := s.platform.GetDataset(r.Context(), id)
		if err != nil {
			return err
		}
		if patch, err = jsonPatchDataset(r.Body, cur); err != nil {
			return err
		}
	} else if err := decodeBody(r, &patch); err != nil {
		return err
	}
	if err := checkDataset(patch.Name, patch.Description, patch.Tags); err != nil {
		return err
	}
	if _, err := s.platform.UpdateDataset(r.Context(), id, patch); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []string{"@/dataSets/" + id})
	return nil
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

func jsonPatchDataset(body io.Reader, cur *aepwire.Dataset) (aepwire.DatasetPatch, error) {
	var ops []patchOp
	var patch aepwire.DatasetPatch
	err := json.NewDecoder(body).Decode(&ops)
	if err == nil {
		_, err = io.Copy(io.Discard, body)
	}
	if aepwire.StatusOf(err) != 0 {
		return patch, err // too large, or too slow
	}
	if err != nil {
		return patch, aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request", "the body is not a JSON Patch array: %v", err)
	}
	tags := map[string][]string{}
	for k, v := range cur.Tags {
		tags[k] = v
	}
	tagsChanged := false
	bad := func(op patchOp) error {
		return aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request", "cannot %s %s", op.Op, op.Path)
	}
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" && op.Op != "remove" {
			return patch, bad(op)
		}
		switch {
		case op.Path == "/name" || op.Path == "/description":
			var v string
			if op.Op != "remove" && json.Unmarshal(op.Value, &v) != nil {
				return patch, bad(op)
			}
			if op.Path == "/name" {
				patch.Name = &v
			} else {
				patch.Description = &v
			}
		case op.Path == "/tags":
			tagsChanged = true
			tags = map[string][]string{}
			if op.Op != "remove" && json.Unmarshal(op.Value, &tags) != nil {
				return patch, bad(op)
			}
		case strings.HasPrefix(op.Path, "/tags/"):
			tagsChanged = true
			name := strings.NewReplacer("~1", "/", "~0", "~").Replace(strings.TrimPrefix(op.Path, "/tags/"))
			if op.Op == "remove" {
				delete(tags, name)
				continue
			}
			var v []string
			if json.Unmarshal(op.Value, &v) != nil {
				return patch, bad(op)
			}
			tags[name] = v
		default:
			return patch, bad(op)
		}
	}
	if tagsChanged {
		patch.Tags = &tags
	}
	return patch, nil
}

func (s *Server) deleteDataset(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.platform.DeleteDataset(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []string{"@/dataSets/" + id})
	return nil
}

func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	b, err := s.platform.GetBatch(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]*aepwire.Batch{b.ID: catalogBatch(b)})
	return nil
}

// catalogBatch is a batch as Catalog shows it: keyed by id, so without the id inside.
func catalogBatch(b *aepwire.Batch) *aepwire.Batch {
	c := *b
	c.ID = ""
	return &c
}

// listBatches is GET /batches, newest first, of one dataset (dataSet) or of all, filtered by
// creation time (createdAfter, createdBefore: epoch milliseconds, exclusive) and status.
func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) error {
	start, limit, err := pageParams(r, 20)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	bound := func(name string) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request", "%s must be epoch milliseconds", name)
		}
		return n, nil
	}
	after, err := bound("createdAfter")
	if err != nil {
		return err
	}
	before, err := bound("createdBefore")
	if err != nil {
		return err
	}
	desc, byUpdated, err := catalogOrder(q.Get("orderBy"), true)
	if err != nil {
		return err
	}
	page, err := s.platform.ListBatchesPage(r.Context(), aepwire.CatalogQuery{Start: start, Limit: limit, Desc: desc, ByUpdated: byUpdated,
		DatasetID: q.Get("dataSet"), CreatedAfter: after, CreatedBefore: before, Status: q.Get("status")})
	if err != nil {
		return err
	}
	out := map[string]*aepwire.Batch{}
	for _, b := range page {
		out[b.ID] = catalogBatch(b)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) deleteBatch(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := s.platform.DeleteBatch(r.Context(), id); err != nil {
		return err
	}
	s.uploads.forget(uploadsOf(r, id))
	writeJSON(w, http.StatusOK, []string{"@/batches/" + id})
	return nil
}

func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) error {
	var req aepwire.BatchRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	b, err := s.platform.CreateBatch(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, b)
	return nil
}

// uploadsOf is the batch id as the upload counts know it: in the request's sandbox.
func uploadsOf(r *http.Request, batch string) batchKey {
	sandbox, _ := aepwire.SandboxOf(r.Context())
	return batchKey{sandbox: sandbox, batch: batch}
}

// uploadFile stores one file of a loading batch, streaming it to the platform; its name, its
// size and its batch's size and count of files are held to the limits.
func (s *Server) uploadFile(w http.ResponseWriter, r *http.Request) error {
	batch, name := r.PathValue("id"), r.PathValue("name")
	if err := aepwire.CheckFileName(name); err != nil {
		return err
	}
	up, err := s.uploads.start(uploadsOf(r, batch), name, 0, r.ContentLength, s.limits, s.clock.Now())
	if err != nil {
		return err
	}
	err = s.platform.UploadBatchFile(r.Context(), batch, r.PathValue("dataset"), name, &chargedBody{r: r.Body, up: up})
	up.end(err == nil)
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// batchAction is POST /batches/{id}?action=COMPLETE, which answers at once with the batch as
// the spec declares, processing until it has been ingested in the background (a batch of any
// size, within AEP's 60 seconds an answer); ABORT, which deletes a loading batch; or REVERT,
// which undoes a batch with the records it contributed (what replaces Catalog's deprecated
// DELETE /batches/{id}).
func (s *Server) batchAction(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	switch action := strings.ToUpper(r.URL.Query().Get("action")); action {
	case "COMPLETE":
		b, err := s.platform.AcceptBatch(r.Context(), id)
		if err != nil {
			return err
		}
		s.uploads.forget(uploadsOf(r, id))
		writeJSON(w, http.StatusOK, b)
		return nil
	case "ABORT", "REVERT":
		b, err := s.platform.GetBatch(r.Context(), id)
		if err != nil {
			return err
		}
		if err := s.platform.DeleteBatch(r.Context(), id); err != nil {
			return err
		}
		s.uploads.forget(uploadsOf(r, id))
		// Catalog calls an aborted batch aborted, and a reverted one inactive. The engine forgets
		// both, so later reads answer 404.
		b.Status = map[string]string{"ABORT": "aborted", "REVERT": "inactive"}[action]
		writeJSON(w, http.StatusOK, b)
		return nil
	default:
		return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request", "action %q is not one of COMPLETE, ABORT, REVERT", action)
	}
}
