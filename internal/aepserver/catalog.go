package aepserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
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
	if err := refuseUnserved(r.URL.Query(), "properties"); err != nil {
		return err
	}
	ds, err := s.platform.GetDataset(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	out, err := datasetProperties(r.URL.Query(), []*aepwire.Dataset{ds})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", `"`+ds.Version+`"`)
	writeJSON(w, http.StatusOK, out)
	return nil
}

// listDatasets is GET /dataSets with start (0-based) and limit (default 20, at most 100),
// orderBy, name (the datasets of that name), tags (tagFilters) and properties.
func (s *Server) listDatasets(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := refuseUnserved(q, "limit, start, orderBy, name, tags, properties"); err != nil {
		return err
	}
	start, limit, err := pageParams(r, 20)
	if err != nil {
		return err
	}
	desc, byUpdated, err := catalogOrder(q.Get("orderBy"), false)
	if err != nil {
		return err
	}
	tags, err := tagFilters(q)
	if err != nil {
		return err
	}
	page, err := s.platform.ListDatasetsPage(r.Context(), aepwire.CatalogQuery{Start: start, Limit: limit, Desc: desc, ByUpdated: byUpdated,
		Name: q.Get("name"), Tags: tags})
	if err != nil {
		return err
	}
	out, err := datasetProperties(q, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tagFilters reads a listing's tags: name:value or name:* entries separated by commas, each of
// which a dataset must have. A name ends at its first colon (a value may hold more, as
// unifiedProfile:enabled:true does).
func tagFilters(q url.Values) ([]aepwire.TagFilter, error) {
	v, ok := q["tags"]
	if !ok {
		return nil, nil
	}
	var out []aepwire.TagFilter
	for _, entry := range strings.Split(v[0], ",") {
		name, value, ok := strings.Cut(entry, ":")
		if !ok || name == "" || value == "" {
			return nil, aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request",
				"tags entry %s is not name:value or name:*: tags takes such entries separated by commas", aepwire.QuoteShort(entry))
		}
		out = append(out, aepwire.TagFilter{Name: name, Value: value})
	}
	return out, nil
}

// unservedFilters are the query parameters of Catalog's listings (catalog.yaml's listDatasets,
// retrieveDataset and listBatches) that this engine does not filter by. A request that names one
// gets a 400 saying so, where leaving it out would answer what the client did not ask for: every
// dataset for ?name=... once answered every dataset.
var unservedFilters = []string{"batch", "completed", "created", "createdClient", "createdUser", "description",
	"enableErrorDiagnostics", "endAfter", "endBefore", "externalId", "failedRecordCount", "property", "recordCount",
	"size", "startAfter", "startBefore", "started", "tags", "updated", "updatedUser", "version"}

// refuseUnserved refuses a query that names one of Catalog's filters that this engine does not
// serve (served lists those it does, for the answer).
func refuseUnserved(q url.Values, served string) error {
	for _, name := range unservedFilters {
		if _, ok := q[name]; ok && !strings.Contains(", "+served+", ", ", "+name+", ") {
			return aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request",
				"the query parameter %s is not served by this engine: leave it out, and filter what the answer holds; this call serves %s", name, served)
		}
	}
	return nil
}

// datasetProperties is Catalog's answer of datasets, keyed by id, with the properties the query
// asks for (catalogProperties).
func datasetProperties(q url.Values, list []*aepwire.Dataset) (map[string]any, error) {
	out := make(map[string]any, len(list))
	for _, d := range list {
		out[d.ID] = d
	}
	return catalogProperties(q, out)
}

// catalogProperties keeps, of each object of a Catalog answer keyed by id, the top-level
// properties the query's properties names (a comma-separated list); without it, each whole.
func catalogProperties(q url.Values, objects map[string]any) (map[string]any, error) {
	props, ok := q["properties"]
	if !ok {
		return objects, nil
	}
	names := strings.Split(props[0], ",")
	for id, o := range objects {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		var whole map[string]json.RawMessage
		if err := json.Unmarshal(b, &whole); err != nil {
			return nil, err
		}
		kept := map[string]json.RawMessage{}
		for _, n := range names {
			if v, ok := whole[strings.TrimSpace(n)]; ok {
				kept[strings.TrimSpace(n)] = v
			}
		}
		objects[id] = kept
	}
	return objects, nil
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
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
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
	patch.IfVersion = version
	if _, err := s.platform.UpdateDataset(r.Context(), id, patch); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, []string{"@/dataSets/" + id})
	return nil
}

// ifMatch reads a request's If-Match: the version of the dataset's ETag ("1.0.3") that the change
// is for, or "" for any (no header, or *).
func ifMatch(r *http.Request) (string, error) {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	if v == "" || v == "*" {
		return "", nil
	}
	tag := strings.TrimPrefix(v, "W/")
	if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.Contains(tag[1:len(tag)-1], `"`) {
		return "", aepwire.Errorf(http.StatusBadRequest, "CAT-1400", "Bad request",
			"If-Match %s is not one ETag: send the ETag a GET of the dataset answered, such as \"1.0.0\"", aepwire.QuoteShort(v))
	}
	return tag[1 : len(tag)-1], nil
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

func jsonPatchDataset(body io.Reader, cur *aepwire.Dataset) (aepwire.DatasetPatch, error) {
	var ops []patchOp
	var patch aepwire.DatasetPatch
	if err := decodeOneJSON(body, &ops, "CAT-1400", "the body is not a JSON Patch array"); err != nil {
		return patch, err
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
// creation time (createdAfter, createdBefore: epoch milliseconds, exclusive) and status, with the
// properties asked for.
func (s *Server) listBatches(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := refuseUnserved(q, "limit, start, orderBy, dataSet, createdAfter, createdBefore, status, properties"); err != nil {
		return err
	}
	start, limit, err := pageParams(r, 20)
	if err != nil {
		return err
	}
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
	out := map[string]any{}
	for _, b := range page {
		out[b.ID] = catalogBatch(b)
	}
	kept, err := catalogProperties(q, out)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, kept)
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

// actionFits refuses an ABORT of a batch that has ended, whose records are ingested (or failed)
// and would go with it, and a REVERT of a batch still loading, which has nothing to revert: each
// is the other action's, and taking one for the other deleted data a client had not meant to.
func actionFits(id, action, status string) error {
	switch {
	case action == "ABORT" && aepwire.BatchTerminal(status):
		return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"batch %s has ended (%s): ABORT stops a batch still loading or being ingested; undo an ended batch with action=REVERT", id, status)
	case action == "REVERT" && strings.EqualFold(status, aepwire.BatchLoading):
		return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"batch %s is still loading: REVERT undoes a completed batch; end a loading batch with action=ABORT", id)
	}
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
		// The status is checked again in the deletion's transaction, where a batch being ingested
		// may have ended since it was read.
		if err := s.platform.DeleteBatchIf(r.Context(), id, func(status string) error { return actionFits(id, action, status) }); err != nil {
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
