package aepclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

const (
	catalogPath    = "/data/foundation/catalog"
	importPath     = "/data/foundation/import"
	exportDataPath = "/data/foundation/export"
	profilePath    = "/data/core/ups"
)

// refID reads the id out of Catalog's answer to a write, ["@/dataSets/{id}"], or its Location.
func refID(resp *response) (string, bool) {
	var refs []string
	if json.Unmarshal(resp.body, &refs) == nil && len(refs) > 0 {
		ref := refs[0]
		return ref[strings.LastIndexByte(ref, '/')+1:], true
	}
	if loc := resp.header.Get("Location"); loc != "" {
		return loc[strings.LastIndexByte(loc, '/')+1:], true
	}
	return "", false
}

// CreateDataset creates a dataset and returns it as stored. When the answer is lost, the dataset
// the call made is looked for and adopted (see create).
func (c *Client) CreateDataset(ctx context.Context, req aepwire.DatasetRequest) (*aepwire.Dataset, error) {
	resp, id, err := c.create(ctx, request{method: http.MethodPost, path: catalogPath + "/dataSets", body: req}, "dataset",
		func(ctx context.Context, since time.Time) ([]string, error) { return c.findDatasets(ctx, req, since) })
	if err != nil {
		return nil, err
	}
	if resp != nil {
		var ok bool
		if id, ok = refID(resp); !ok {
			return nil, fmt.Errorf("creating dataset: the answer names no dataset (request id %s)", resp.header.Get(aepwire.HeaderRequestID))
		}
		c.remember(id)
	}
	return c.GetDataset(ctx, id)
}

// GetDataset returns a dataset, or a 404 error.
func (c *Client) GetDataset(ctx context.Context, id string) (*aepwire.Dataset, error) {
	var m map[string]*aepwire.Dataset
	if err := c.getJSON(ctx, catalogPath+"/dataSets/"+url.PathEscape(id), nil, &m); err != nil {
		return nil, err
	}
	ds, ok := m[id]
	if !ok || ds == nil {
		return nil, aepwire.Errorf(http.StatusNotFound, "CAT-1404", "Dataset not found", "no dataset has the id %q", id)
	}
	ds.ID = id
	return ds, nil
}

// UpdateDataset applies a partial update and returns the dataset as stored.
func (c *Client) UpdateDataset(ctx context.Context, id string, patch aepwire.DatasetPatch) (*aepwire.Dataset, error) {
	if _, err := c.do(ctx, request{method: http.MethodPatch, path: catalogPath + "/dataSets/" + url.PathEscape(id), body: patch,
		idempotent: true}); err != nil {
		return nil, err
	}
	return c.GetDataset(ctx, id)
}

// DeleteDataset deletes a dataset. Catalog answers a DELETE of an unknown id with 404, or with
// 200 and an empty list; both are a 404 here.
func (c *Client) DeleteDataset(ctx context.Context, id string) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: catalogPath + "/dataSets/" + url.PathEscape(id)})
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(resp.body)) == "[]" {
		return aepwire.Errorf(http.StatusNotFound, "CAT-1404", "Dataset not found", "no dataset has the id %q", id)
	}
	return nil
}

// CreateBatch opens a batch for uploads. When the answer is lost, the batch the call made is
// looked for and adopted.
func (c *Client) CreateBatch(ctx context.Context, req aepwire.BatchRequest) (*aepwire.Batch, error) {
	resp, id, err := c.create(ctx, request{method: http.MethodPost, path: importPath + "/batches", body: req}, "batch",
		func(ctx context.Context, since time.Time) ([]string, error) { return c.findBatches(ctx, req, since) })
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return c.GetBatch(ctx, id)
	}
	var b aepwire.Batch
	if err := decode(resp, importPath+"/batches", &b); err != nil {
		return nil, err
	}
	c.remember(b.ID)
	return &b, nil
}

// UploadBatchFile uploads one file; a body that can seek is sent again when a try fails. A JSON
// array is sent as JSON Lines (see uploadReader). A file larger than Config.MaxSingleUpload goes
// through AEP's large-file upload (uploadLargeFile).
func (c *Client) UploadBatchFile(ctx context.Context, batchID, datasetID, name string, body io.Reader) error {
	var length int64
	if f, ok := body.(interface{ Stat() (fs.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if fi.Size() > c.cfg.MaxSingleUpload {
				return c.uploadLargeFile(ctx, batchFilePath(batchID, datasetID, name), name, body)
			}
			length = sentAsIs(body, fi.Size())
		}
	}
	_, err := c.do(ctx, request{method: http.MethodPut, raw: body, length: length, contentType: "application/octet-stream",
		path: batchFilePath(batchID, datasetID, name)})
	if err != nil {
		return fmt.Errorf("uploading %s: %w", name, err)
	}
	return nil
}

// sentAsIs returns size when a file of size bytes is sent as it is (uploadReader neither skips
// its first bytes nor converts it), so that it goes with its Content-Length; else 0, and it goes
// chunked.
func sentAsIs(body io.Reader, size int64) int64 {
	ra, ok := body.(io.ReaderAt)
	if !ok {
		return 0
	}
	var first [1]byte
	if _, err := ra.ReadAt(first[:], 0); err != nil || !leadsAsIs(first[0]) {
		return 0
	}
	return size
}

// batchFilePath is the path of a batch's file in the batch ingestion API.
func batchFilePath(batchID, datasetID, name string) string {
	return importPath + "/batches/" + url.PathEscape(batchID) + "/datasets/" + url.PathEscape(datasetID) + "/files/" + url.PathEscape(name)
}

// uploadLargeFile is AEP's large-file upload (batch-ingestion.yaml, and the batch ingestion
// guide's "large file upload"): the file is initialized (POST ?action=INITIALIZE), sent in parts
// of Config.FilePartSize in order, each a PATCH whose Content-Range names its first and last
// byte, and completed (POST ?action=COMPLETE). Each call is tried again as a PUT is, since
// sending it twice leaves the file as once; a part is held in memory so that a try sends the
// same bytes again. A JSON array is sent as JSON Lines, as by a PUT.
func (c *Client) uploadLargeFile(ctx context.Context, path, name string, body io.Reader) error {
	fail := func(err error) error {
		return fmt.Errorf("uploading %s in parts (AEP's large-file upload): %w", name, err)
	}
	// The actions have no body, and batch-ingestion.yaml asks for a JSON Content-Type all the same.
	if _, err := c.do(ctx, request{method: http.MethodPost, path: path, query: url.Values{"action": {"INITIALIZE"}},
		contentType: "application/json", idempotent: true}); err != nil {
		return fail(err)
	}
	src := uploadReader(body)
	part := make([]byte, c.cfg.FilePartSize)
	var sent int64
	for {
		n, rerr := io.ReadFull(src, part)
		if n > 0 {
			last := sent + int64(n) - 1
			_, err := c.do(ctx, request{method: http.MethodPatch, path: path, raw: bytes.NewReader(part[:n]), asIs: true, length: int64(n),
				contentType: "application/octet-stream", header: http.Header{"Content-Range": {aepwire.ContentRange(sent, last)}},
				idempotent: true})
			if err != nil {
				return fail(fmt.Errorf("the part of bytes %d-%d: %w", sent, last, err))
			}
			sent += int64(n)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("reading the file: %w", rerr))
		}
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: path, query: url.Values{"action": {"COMPLETE"}},
		contentType: "application/json", idempotent: true})
	if err != nil {
		return fail(err)
	}
	// The answer, where there is one, says what the file holds: all that was sent.
	var done aepwire.UploadedFile
	if len(bytes.TrimSpace(resp.body)) > 0 && json.Unmarshal(resp.body, &done) == nil && done.SizeInBytes != 0 && done.SizeInBytes != sent {
		return fail(fmt.Errorf("the platform completed the file with %d bytes, and %d were sent", done.SizeInBytes, sent))
	}
	return nil
}

// CompleteBatch signals that the batch's files are all uploaded, and returns the batch.
func (c *Client) CompleteBatch(ctx context.Context, batchID string) (*aepwire.Batch, error) {
	if err := c.batchAction(ctx, batchID, "COMPLETE"); err != nil {
		return nil, err
	}
	return c.GetBatch(ctx, batchID)
}

// batchAction is POST /batches/{id}?action=...: completing, aborting or reverting a batch twice
// leaves it as once, so it is retried like an idempotent call. What AEP answers an action
// repeated, after a try whose answer was lost, is not documented: a refusal (a 4xx other than
// those of credentials and of a batch not found) is taken as done where the batch reads as the
// action leaves it.
func (c *Client) batchAction(ctx context.Context, batchID, action string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: importPath + "/batches/" + url.PathEscape(batchID),
		query: url.Values{"action": {action}}, idempotent: true})
	if s := aepwire.StatusOf(err); s < 400 || s >= 500 || s == http.StatusUnauthorized || s == http.StatusForbidden || s == http.StatusNotFound {
		return err
	}
	if b, gerr := c.GetBatch(ctx, batchID); gerr == nil && batchActionDone(action, b.Status) {
		return nil
	}
	return err
}

// batchActionDone reports whether a batch of status is as action leaves it: completed (no longer
// loading), aborted (ended other than in success) or reverted (inactive or deleted).
func batchActionDone(action, status string) bool {
	status = strings.ToLower(status)
	switch action {
	case "COMPLETE":
		return status != aepwire.BatchLoading
	case "ABORT":
		return aepwire.BatchTerminal(status) && !aepwire.BatchSucceeded(status)
	case "REVERT":
		return status == "inactive" || status == "deleted"
	}
	return false
}

// GetBatch returns a batch from Catalog, or a 404 error.
func (c *Client) GetBatch(ctx context.Context, id string) (*aepwire.Batch, error) {
	var m map[string]*aepwire.Batch
	if err := c.getJSON(ctx, catalogPath+"/batches/"+url.PathEscape(id), nil, &m); err != nil {
		return nil, err
	}
	b, ok := m[id]
	if !ok || b == nil {
		return nil, aepwire.Errorf(http.StatusNotFound, "CAT-1405", "Batch not found", "no batch has the id %q", id)
	}
	b.ID = id
	return b, nil
}

// DeleteBatch undoes a batch with Batch Ingestion's actions (Catalog's DELETE /batches/{id} is
// deprecated): REVERT for a batch that was ingested, ABORT for one still loading.
func (c *Client) DeleteBatch(ctx context.Context, id string) error {
	b, err := c.GetBatch(ctx, id)
	if err != nil {
		return err
	}
	action := "REVERT"
	if b.Status == aepwire.BatchLoading {
		action = "ABORT"
	}
	return c.batchAction(ctx, id, action)
}

const policiesPath = profilePath + "/config/mergePolicies"

// profileInstance is the x-profile-instance-id of merge policy writes, which profile.yaml
// requires there: the Real-Time Customer Profile instance, "ups".
var profileInstance = http.Header{"X-Profile-Instance-Id": {"ups"}}

// CreateMergePolicy creates a merge policy. When the answer is lost, the policy the call made is
// looked for and adopted.
func (c *Client) CreateMergePolicy(ctx context.Context, p aepwire.MergePolicy) (*aepwire.MergePolicy, error) {
	resp, id, err := c.create(ctx, request{method: http.MethodPost, path: policiesPath, body: p.Request(), header: profileInstance}, "merge policy",
		func(ctx context.Context, since time.Time) ([]string, error) {
			return c.findMergePolicies(ctx, p, since)
		})
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return c.GetMergePolicy(ctx, id)
	}
	var created aepwire.MergePolicy
	if err := decode(resp, policiesPath, &created); err != nil {
		return nil, err
	}
	c.remember(created.ID)
	return &created, nil
}

// GetMergePolicy returns a merge policy, or a 404 error.
func (c *Client) GetMergePolicy(ctx context.Context, id string) (*aepwire.MergePolicy, error) {
	return c.policyCall(ctx, request{method: http.MethodGet, path: policiesPath + "/" + url.PathEscape(id)})
}

// UpdateMergePolicy replaces a merge policy's settings: p's name, schema, identity graph,
// attribute merge and default. AEP's PUT replaces the whole policy, so the policy is read first
// and the rest (isActiveOnEdge, which the provider does not manage, the version, the sandbox) is
// sent back as AEP has it, where zero values would switch a policy active on edge off.
func (c *Client) UpdateMergePolicy(ctx context.Context, id string, p aepwire.MergePolicy) (*aepwire.MergePolicy, error) {
	cur, err := c.GetMergePolicy(ctx, id)
	if err != nil {
		return nil, err
	}
	cur.ID = id
	cur.Name, cur.Schema, cur.IdentityGraph, cur.AttributeMerge, cur.Default = p.Name, p.Schema, p.IdentityGraph, p.AttributeMerge, p.Default
	return c.policyCall(ctx, request{method: http.MethodPut, path: policiesPath + "/" + url.PathEscape(id), body: cur, header: profileInstance})
}

func (c *Client) policyCall(ctx context.Context, r request) (*aepwire.MergePolicy, error) {
	var p aepwire.MergePolicy
	if err := c.call(ctx, r, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeleteMergePolicy deletes a merge policy.
func (c *Client) DeleteMergePolicy(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: policiesPath + "/" + url.PathEscape(id), header: profileInstance})
	return err
}

const jobsPath = profilePath + "/export/jobs"

// CreateExportJob starts an export job. AEP has no idempotency key, so idempotencyKey (the
// embedded engine's) is not sent: when the answer is lost, the job the call started is looked
// for and adopted instead (see create). fields lists are sent expanded, as plain comma-separated
// dot paths, the only form AEP documents.
func (c *Client) CreateExportJob(ctx context.Context, req aepwire.ExportJobRequest, _ string) (*aepwire.ExportJob, error) {
	var err error
	if req.Fields, err = expandFields("fields", req.Fields); err != nil {
		return nil, err
	}
	if af := req.AdditionalFields; af != nil && af.EventList != nil {
		el := *af.EventList
		if el.Fields, err = expandFields("additionalFields.eventList.fields", el.Fields); err != nil {
			return nil, err
		}
		req.AdditionalFields = &aepwire.AdditionalFields{EventList: &el}
	}
	resp, id, err := c.create(ctx, request{method: http.MethodPost, path: jobsPath, body: req}, "export job",
		func(ctx context.Context, since time.Time) ([]string, error) { return c.findJobs(ctx, req, since) })
	if err != nil {
		return nil, err
	}
	if resp == nil {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil, err
		}
		return c.GetExportJob(ctx, n)
	}
	var job aepwire.ExportJob
	if err := decode(resp, jobsPath, &job); err != nil {
		return nil, err
	}
	c.remember(strconv.FormatInt(job.ID, 10))
	return &job, nil
}

// expandFields rewrites a fields list with the shorthand a(b,c) and spaces as the plain list of
// dot paths it means.
func expandFields(name, list string) (string, error) {
	sel, err := fields.Parse(list)
	if err != nil {
		return "", aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", "%s %q: %v", name, list, err)
	}
	return sel.String(), nil
}

// GetExportJob returns a job, or a 404 error.
func (c *Client) GetExportJob(ctx context.Context, id int64) (*aepwire.ExportJob, error) {
	var job aepwire.ExportJob
	if err := c.getJSON(ctx, jobsPath+"/"+strconv.FormatInt(id, 10), nil, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// listStatuses are the statuses AEP's list filters by; for the others (PROCESSING, and the
// embedded engine's CANCELLED) the client lists every job and keeps those that match.
var listStatuses = map[string]bool{"": true, aepwire.JobNew: true, aepwire.JobSucceeded: true, aepwire.JobFailed: true}

// maxFilteredPages bounds the pages read to fill one page of a status AEP cannot filter by.
const maxFilteredPages = 50

// ListExportJobs returns a page of jobs, newest first.
func (c *Client) ListExportJobs(ctx context.Context, q aepwire.ExportJobQuery) (*aepwire.ExportJobList, error) {
	status := strings.ToUpper(q.Status)
	if listStatuses[status] {
		q.Status = status
		return c.listJobsPage(ctx, q)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	out := &aepwire.ExportJobList{Records: []aepwire.ExportJob{}, Page: aepwire.ListPage{SortField: "createdTime", Sort: "desc"}}
	offset := q.Offset
	// more: AEP has jobs past offset, the last job looked at (those left of the page last read,
	// or a next page).
	more := false
	for range maxFilteredPages {
		page, err := c.listJobsPage(ctx, aepwire.ExportJobQuery{Limit: 100, Offset: offset})
		if err != nil {
			return nil, err
		}
		out.Unreadable = append(out.Unreadable, page.Unreadable...)
		rest := page.Records
		for len(rest) > 0 && len(out.Records) < limit {
			j := rest[0]
			rest = rest[1:]
			offset = fmt.Sprintf("%d_%d", j.CreationTime, j.ID)
			if j.Status == status {
				out.Records = append(out.Records, j)
			}
		}
		more = len(rest) > 0 || (page.Link.Next != "" && len(page.Records) > 0)
		if !more || len(out.Records) == limit {
			break
		}
	}
	if !more {
		offset = ""
	}
	out.Page.PageSize, out.Page.PageOffset = len(out.Records), offset
	if offset != "" {
		out.Link.Next = "/export/jobs/?" + url.Values{"limit": {strconv.Itoa(limit)}, "offset": {offset}}.Encode()
	}
	return out, nil
}

func (c *Client) listJobsPage(ctx context.Context, q aepwire.ExportJobQuery) (*aepwire.ExportJobList, error) {
	query := url.Values{}
	if q.Limit > 0 {
		query.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Offset != "" {
		query.Set("offset", q.Offset)
	}
	if q.Status != "" {
		query.Set("status", q.Status)
	}
	var list aepwire.ExportJobList
	if err := c.getJSON(ctx, jobsPath, query, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// CancelExportJob is DELETE /export/jobs/{id}; AEP answers 200 with a body or 204 without. A
// body of {"status": false, "message"} is a cancellation the platform refused: an error that
// quotes its message, unless the job has ended meanwhile (or is gone, as a cancelled job may
// read), which is what the caller wanted.
func (c *Client) CancelExportJob(ctx context.Context, id int64) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: jobsPath + "/" + strconv.FormatInt(id, 10)})
	if err != nil {
		return err
	}
	var answer struct {
		Status  *bool  `json:"status"`
		Message string `json:"message"`
	}
	// No body (204), or one of another form, leaves Status nil: the cancellation was taken.
	_ = json.Unmarshal(resp.body, &answer)
	if answer.Status == nil || *answer.Status {
		return nil
	}
	if c.jobEnded(ctx, id) {
		return nil
	}
	return fmt.Errorf("the platform did not cancel export job %d: %q", id, answer.Message)
}

// jobEnded reports whether a job has ended, or is gone.
func (c *Client) jobEnded(ctx context.Context, id int64) bool {
	job, err := c.GetExportJob(ctx, id)
	if err != nil {
		return aepwire.IsNotFound(err)
	}
	return aepwire.JobTerminal(job.Status)
}

// WaitExportJob polls a job until it ends, waiting longer between polls up to PollInterval. A
// poll that gets no answer (the platform unreachable or unavailable for longer than one call's
// tries) does not end the wait: it goes on until ctx is done, as the job runs on meanwhile. A
// job that is gone (404, as a cancelled job may read on AEP) ends it with that error.
func (c *Client) WaitExportJob(ctx context.Context, id int64, onChange func(*aepwire.ExportJob)) (*aepwire.ExportJob, error) {
	wait := min(250*time.Millisecond, c.cfg.PollInterval)
	last := ""
	var outage error
	for {
		job, err := c.GetExportJob(ctx, id)
		switch {
		case err == nil:
			outage = nil
			if onChange != nil && job.Status != last {
				onChange(job)
			}
			last = job.Status
			if aepwire.JobTerminal(job.Status) {
				return job, nil
			}
		case aepwire.IsUnavailable(err) && ctx.Err() == nil:
			if outage == nil {
				c.log(ctx, "the platform does not answer; waiting on", map[string]any{"job_id": id, "error": err.Error()})
			}
			outage = err
		default:
			if outage != nil && errors.Is(err, ctx.Err()) {
				return nil, fmt.Errorf("%w (the platform had not answered since: %w)", err, outage)
			}
			return nil, err
		}
		if err := clock.Sleep(ctx, c.clock, wait); err != nil {
			if outage != nil {
				return nil, fmt.Errorf("%w (the platform had not answered since: %w)", err, outage)
			}
			return nil, err
		}
		wait = min(wait*2, c.cfg.PollInterval)
	}
}

// Download streams a file the API links to (a batch file's Location).
func (c *Client) Download(ctx context.Context, location string) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: location, rawURL: location, transfer: true})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}
