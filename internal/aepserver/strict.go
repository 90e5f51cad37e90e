package aepserver

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// strictRoute puts the strict profile (Options.Strict) in front of the handler of a route. It
// serves the engine as AEP behaves wherever the engine's own documented extensions would let a
// fault of a client pass unseen. It translates requests and answers at the HTTP layer; the engine
// underneath is unchanged, and without Strict the server keeps the extensions. What it does, and what AEP documents for each:
//
//   - Idempotency-Key is ignored: AEP has no such header, so two POSTs start two jobs.
//   - CANCELLED is never reported (the spec's status enum stops at FAILED). What AEP reports for
//     a cancelled job is not documented; here it disappears, as the DELETE that cancels it
//     suggests: GET answers 404, the list leaves it out, a second DELETE answers 404.
//   - The list takes status NEW, SUCCEEDED or FAILED only, as the spec's enum says.
//   - fields (and eventList.fields) must be plain comma-separated dot paths, as the spec and the
//     seed document them: no a(b,c) shorthand, no spaces.
//   - destination.batches is an array with a status string where a segment has one status (the
//     form of Adobe's guides); jobs carry no warnings and no counters of the engine's own
//     (exportedEventCounter, excludedProfileCount, bytesWritten).
//   - Batches carry no ingestTime (Catalog reports none) and their errors no file; completed is
//     never before the records' ingest time, as on AEP, where records are ingested before their
//     batch completes.
//   - A batch file that is not JSON Lines (a JSON array) is refused unless the batch was created
//     with inputFormat.isMultiLineJson: AEP would read it one line a record, and fail them.
//   - Data Access answers a dataSetFile with a directory of further dataSetFiles (one level), as
//     the spec allows ("a directory of chunked data").
func (s *Server) strictRoute(pattern string, next http.Handler) http.Handler {
	st := s.strictSt
	jobs := "GET " + profilePath + "/export/jobs"
	switch pattern {
	case "POST " + profilePath + "/export/jobs":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Header.Del(aepwire.HeaderIdempotencyKey)
			if err := strictJobRequest(r); err != nil {
				s.writeError(w, r, err)
				return
			}
			s.rewriteJSON(w, r, next, func(doc any) (any, error) { strictJob(doc); return doc, nil })
		})
	case jobs, jobs + "/{$}":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if st := r.URL.Query().Get("status"); st != "" && st != aepwire.JobNew && st != aepwire.JobSucceeded && st != aepwire.JobFailed {
				s.writeError(w, r, aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request",
					"status %q is not one of NEW, SUCCEEDED, FAILED", st))
				return
			}
			s.rewriteJSON(w, r, next, strictJobList)
		})
	case jobs + "/{id}":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.rewriteJSON(w, r, next, func(doc any) (any, error) {
				if m, ok := doc.(map[string]any); ok && m["status"] == aepwire.JobCancelled {
					return nil, jobGone(r.PathValue("id"))
				}
				strictJob(doc)
				return doc, nil
			})
		})
	case "DELETE " + profilePath + "/export/jobs/{id}":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, err := jobID(r); err == nil {
				if job, err := s.platform.GetExportJob(r.Context(), id); err == nil && job.Status == aepwire.JobCancelled {
					s.writeError(w, r, jobGone(r.PathValue("id")))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	case "GET " + catalogPath + "/batches/{id}", "GET " + catalogPath + "/batches":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.rewriteJSON(w, r, next, func(doc any) (any, error) {
				if m, ok := doc.(map[string]any); ok {
					for _, b := range m {
						strictBatch(b)
					}
				}
				return doc, nil
			})
		})
	case "POST " + importPath + "/batches":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			multiLine := readInputFormat(r)
			s.rewriteJSON(w, r, next, func(doc any) (any, error) {
				strictBatch(doc)
				if m, ok := doc.(map[string]any); ok && multiLine {
					if id, ok := m["id"].(string); ok {
						st.setMultiLine(uploadsOf(r, id), true)
					}
				}
				return doc, nil
			})
		})
	case "POST " + importPath + "/batches/{id}":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st.setMultiLine(uploadsOf(r, r.PathValue("id")), false)
			s.rewriteJSON(w, r, next, func(doc any) (any, error) { strictBatch(doc); return doc, nil })
		})
	case uploadPattern:
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := st.checkUpload(r); err != nil {
				s.writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	case partPattern:
		// A large file's first part is judged as a whole file's start is.
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if start, _, err := aepwire.ParseContentRange(r.Header.Get("Content-Range")); err == nil && start == 0 {
				if err := st.checkUpload(r); err != nil {
					s.writeError(w, r, err)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	case "GET " + exportDataPath + "/files/{id}":
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.strictFile(w, r, next) })
	}
	return next
}

func jobGone(id string) error {
	return aepwire.Errorf(http.StatusNotFound, "UPS-2404", "Export job not found", "no export job has the id %s", id)
}

type strictState struct {
	mu sync.Mutex
	// multiLine holds the loading batches created with inputFormat.isMultiLineJson, each in its
	// sandbox; completing (or aborting) a batch forgets it.
	multiLine map[batchKey]bool
}

// maxMultiLineBatches bounds the memory of the multi-line batches still loading.
const maxMultiLineBatches = 10000

func newStrictState() *strictState { return &strictState{multiLine: map[batchKey]bool{}} }

func (st *strictState) setMultiLine(batch batchKey, on bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if on {
		if len(st.multiLine) >= maxMultiLineBatches {
			for id := range st.multiLine { // forget one: its uploads will be refused as JSON Lines
				delete(st.multiLine, id)
				break
			}
		}
		st.multiLine[batch] = true
	} else {
		delete(st.multiLine, batch)
	}
}

// readInputFormat reads whether a batch creation asks for multi-line JSON, leaving the body for
// the handler.
func readInputFormat(r *http.Request) bool {
	var req struct {
		InputFormat struct {
			IsMultiLineJSON bool `json:"isMultiLineJson"`
		} `json:"inputFormat"`
	}
	peekJSON(r, &req)
	return req.InputFormat.IsMultiLineJSON
}

// peekJSON decodes a JSON request body into v, when it is at most maxStrictBody bytes, leaving
// the whole body for the handler; it reports whether the body was read and decoded.
func peekJSON(r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxStrictBody+1))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
	return err == nil && len(body) <= maxStrictBody && json.Unmarshal(body, v) == nil
}

// maxStrictBody bounds the JSON requests the strict profile reads ahead of the handler.
const maxStrictBody = 1 << 20

// checkUpload refuses a file that starts as a JSON array in a batch that is not multi-line.
func (st *strictState) checkUpload(r *http.Request) error {
	st.mu.Lock()
	multiLine := st.multiLine[uploadsOf(r, r.PathValue("id"))]
	st.mu.Unlock()
	br := bufio.NewReaderSize(r.Body, 4096)
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	head, _ := br.Peek(4096)
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	i := bytes.IndexFunc(head, func(c rune) bool { return !unicode.IsSpace(c) })
	if multiLine || i < 0 || head[i] != '[' {
		return nil
	}
	return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
		"file %s is a JSON array, and batch %s reads JSON Lines (one record a line): create the batch with "+
			"inputFormat.isMultiLineJson true, or upload JSON Lines", r.PathValue("name"), r.PathValue("id"))
}

// strictJobRequest refuses what the spec does not document in an export job request.
func strictJobRequest(r *http.Request) error {
	var req aepwire.ExportJobRequest
	if !peekJSON(r, &req) {
		return nil // the handler reports what is wrong with the body
	}
	check := func(name, v string) error {
		if strings.ContainsAny(v, "()") || strings.IndexFunc(v, unicode.IsSpace) >= 0 {
			return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request",
				"%s %q is not a comma-separated list of dot paths: AEP takes no spaces and no a(b,c) shorthand", name, v)
		}
		return nil
	}
	if err := check("fields", req.Fields); err != nil {
		return err
	}
	if af := req.AdditionalFields; af != nil && af.EventList != nil {
		return check("additionalFields.eventList.fields", af.EventList.Fields)
	}
	return nil
}

// strictJob removes the engine's extensions from a job.
func strictJob(doc any) {
	job, ok := doc.(map[string]any)
	if !ok {
		return
	}
	delete(job, "warnings")
	if m, ok := job["metrics"].(map[string]any); ok {
		delete(m, "exportedEventCounter")
		delete(m, "excludedProfileCount")
		delete(m, "bytesWritten")
	}
	if d, ok := job["destination"].(map[string]any); ok {
		if batches, ok := d["batches"].([]any); ok {
			for _, b := range batches {
				if bm, ok := b.(map[string]any); ok {
					if st, ok := bm["status"].([]any); ok && len(st) == 1 {
						bm["status"] = st[0]
					}
				}
			}
		}
	}
}

func strictJobList(doc any) (any, error) {
	list, ok := doc.(map[string]any)
	if !ok {
		return doc, nil
	}
	records, _ := list["records"].([]any)
	kept := []any{}
	for _, rec := range records {
		if m, ok := rec.(map[string]any); ok && m["status"] == aepwire.JobCancelled {
			continue
		}
		strictJob(rec)
		kept = append(kept, rec)
	}
	list["records"] = kept
	if page, ok := list["page"].(map[string]any); ok {
		page["pageSize"] = len(kept)
	}
	return list, nil
}

// strictBatch removes the engine's extensions from a batch.
func strictBatch(doc any) {
	b, ok := doc.(map[string]any)
	if !ok {
		return
	}
	if ingest, ok := b["ingestTime"].(json.Number); ok {
		if completed, ok := b["completed"].(json.Number); ok && numberLess(completed, ingest) {
			b["completed"] = ingest
		}
		delete(b, "ingestTime")
	}
	if errs, ok := b["errors"].([]any); ok {
		for _, e := range errs {
			if m, ok := e.(map[string]any); ok {
				delete(m, "file")
			}
		}
	}
}

func numberLess(a, b json.Number) bool {
	x, err1 := a.Int64()
	y, err2 := b.Int64()
	return err1 == nil && err2 == nil && x < y
}

// rewriteJSON serves a request into a buffer and, when the answer is a JSON success, sends what
// rewrite makes of it; an error from rewrite is sent instead.
func (s *Server) rewriteJSON(w http.ResponseWriter, r *http.Request, next http.Handler, rewrite func(any) (any, error)) {
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(buf, r)
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	if buf.status >= 300 || !strings.HasPrefix(buf.header.Get("Content-Type"), "application/json") || r.Method == http.MethodHead {
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(buf.body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		s.writeError(w, r, fmt.Errorf("the strict profile could not read the engine's answer: %w", err))
		return
	}
	out, err := rewrite(doc)
	if err != nil {
		w.Header().Del("Content-Length")
		s.writeError(w, r, err)
		return
	}
	body, err := json.Marshal(out)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(buf.status)
	_, _ = w.Write(append(body, '\n'))
}

// nestedFileSuffix marks the dataSetFile that the strict profile lists inside another one.
const nestedFileSuffix = "_0"

// strictFile answers GET /files/{id}: a dataSetFile's listing is a directory holding one further
// dataSetFile, whose listing is the physical file.
func (s *Server) strictFile(w http.ResponseWriter, r *http.Request, next http.Handler) {
	id := r.PathValue("id")
	if inner, nested := strings.CutSuffix(id, nestedFileSuffix); nested {
		r.SetPathValue("id", inner)
		next.ServeHTTP(w, r)
		return
	}
	if r.URL.Query().Get("path") != "" {
		next.ServeHTTP(w, r)
		return
	}
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	next.ServeHTTP(buf, r)
	if buf.status != http.StatusOK {
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body)
		return
	}
	var list aepwire.DataSetFileList
	entry := aepwire.DataSetFile{DataSetFileID: id + nestedFileSuffix, Version: "1.0.0", IsValid: true}
	entry.Links.Self.Href = s.baseURL(r) + exportDataPath + "/files/" + id + nestedFileSuffix
	list.Data = []aepwire.DataSetFile{entry}
	list.Page.Limit, list.Page.Count = 100, 1
	writeJSON(w, http.StatusOK, list)
}
