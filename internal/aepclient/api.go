package aepclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

const (
	catalogPath    = "/data/foundation/catalog"
	importPath     = "/data/foundation/import"
	exportDataPath = "/data/foundation/export"
	profilePath    = "/data/core/ups"
)

// refID reads the id out of Catalog's answer to a write, ["@/dataSets/{id}"].
func refID(resp *response) (string, bool) {
	var refs []string
	if json.Unmarshal(resp.body, &refs) != nil || len(refs) == 0 {
		return "", false
	}
	ref := refs[0]
	return ref[strings.LastIndexByte(ref, '/')+1:], true
}

// CreateDataset creates a dataset and returns it as stored.
func (c *Client) CreateDataset(ctx context.Context, req aepwire.DatasetRequest) (*aepwire.Dataset, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: catalogPath + "/dataSets", body: req})
	if err != nil {
		return nil, err
	}
	id, ok := refID(resp)
	if !ok {
		if loc := resp.header.Get("Location"); loc != "" {
			id, ok = loc[strings.LastIndexByte(loc, '/')+1:], true
		}
	}
	if !ok {
		return nil, fmt.Errorf("creating dataset: the answer names no dataset (request id %s)", resp.header.Get(aepwire.HeaderRequestID))
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

// CreateBatch opens a batch for uploads.
func (c *Client) CreateBatch(ctx context.Context, req aepwire.BatchRequest) (*aepwire.Batch, error) {
	// Safe to send again: a batch a lost answer hid is left empty and loading, and never counts.
	var b aepwire.Batch
	if err := c.call(ctx, request{method: http.MethodPost, path: importPath + "/batches", body: req, idempotent: true}, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// UploadBatchFile uploads one file; a body that can seek is sent again when a try fails.
func (c *Client) UploadBatchFile(ctx context.Context, batchID, datasetID, name string, body io.Reader) error {
	_, err := c.do(ctx, request{method: http.MethodPut, raw: body, contentType: "application/octet-stream",
		path: importPath + "/batches/" + url.PathEscape(batchID) + "/datasets/" + url.PathEscape(datasetID) + "/files/" + url.PathEscape(name)})
	return err
}

// CompleteBatch signals that the batch's files are all uploaded, and returns the batch.
func (c *Client) CompleteBatch(ctx context.Context, batchID string) (*aepwire.Batch, error) {
	if _, err := c.do(ctx, request{method: http.MethodPost, path: importPath + "/batches/" + url.PathEscape(batchID),
		query: url.Values{"action": {"COMPLETE"}}, idempotent: true}); err != nil {
		return nil, err
	}
	return c.GetBatch(ctx, batchID)
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

// DeleteBatch deletes a batch.
func (c *Client) DeleteBatch(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: catalogPath + "/batches/" + url.PathEscape(id)})
	return err
}

const policiesPath = profilePath + "/config/mergePolicies"

// CreateMergePolicy creates a merge policy.
func (c *Client) CreateMergePolicy(ctx context.Context, p aepwire.MergePolicy) (*aepwire.MergePolicy, error) {
	return c.policyCall(ctx, request{method: http.MethodPost, path: policiesPath, body: p})
}

// GetMergePolicy returns a merge policy, or a 404 error.
func (c *Client) GetMergePolicy(ctx context.Context, id string) (*aepwire.MergePolicy, error) {
	return c.policyCall(ctx, request{method: http.MethodGet, path: policiesPath + "/" + url.PathEscape(id)})
}

// UpdateMergePolicy replaces a merge policy's settings.
func (c *Client) UpdateMergePolicy(ctx context.Context, id string, p aepwire.MergePolicy) (*aepwire.MergePolicy, error) {
	p.ID = id
	return c.policyCall(ctx, request{method: http.MethodPut, path: policiesPath + "/" + url.PathEscape(id), body: p})
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
	_, err := c.do(ctx, request{method: http.MethodDelete, path: policiesPath + "/" + url.PathEscape(id)})
	return err
}

const jobsPath = profilePath + "/export/jobs"

// CreateExportJob starts an export job. The idempotency key lets a try whose answer was lost be
// repeated without starting a second job.
func (c *Client) CreateExportJob(ctx context.Context, req aepwire.ExportJobRequest, idempotencyKey string) (*aepwire.ExportJob, error) {
	var job aepwire.ExportJob
	if err := c.call(ctx, request{method: http.MethodPost, path: jobsPath, body: req, idempotencyKey: idempotencyKey}, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// GetExportJob returns a job, or a 404 error.
func (c *Client) GetExportJob(ctx context.Context, id int64) (*aepwire.ExportJob, error) {
	var job aepwire.ExportJob
	if err := c.getJSON(ctx, jobsPath+"/"+strconv.FormatInt(id, 10), nil, &job); err != nil {
		return nil, err
	}
	return &job, nil
}

// ListExportJobs returns a page of jobs.
func (c *Client) ListExportJobs(ctx context.Context, q aepwire.ExportJobQuery) (*aepwire.ExportJobList, error) {
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

// CancelExportJob is DELETE /export/jobs/{id}; AEP answers 200 with a body or 204 without.
func (c *Client) CancelExportJob(ctx context.Context, id int64) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: jobsPath + "/" + strconv.FormatInt(id, 10)})
	return err
}

// WaitExportJob polls a job until it ends, waiting longer between polls up to PollInterval.
func (c *Client) WaitExportJob(ctx context.Context, id int64, onChange func(*aepwire.ExportJob)) (*aepwire.ExportJob, error) {
	wait := min(250*time.Millisecond, c.cfg.PollInterval)
	last := ""
	for {
		job, err := c.GetExportJob(ctx, id)
		if err != nil {
			return nil, err
		}
		if onChange != nil && job.Status != last {
			onChange(job)
		}
		last = job.Status
		if aepwire.JobTerminal(job.Status) {
			return job, nil
		}
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return nil, err
		}
		wait = min(wait*2, c.cfg.PollInterval)
	}
}

// ListBatchFiles lists a batch's files through Data Access: the batch's dataSetFiles (following
// the pages), then each one's physical files, whose links are where to download them.
func (c *Client) ListBatchFiles(ctx context.Context, batchID string) ([]aepwire.BatchFile, error) {
	var out []aepwire.BatchFile
	next := ""
	for {
		var page aepwire.DataSetFileList
		r := request{method: http.MethodGet, path: exportDataPath + "/batches/" + url.PathEscape(batchID) + "/files", rawURL: next}
		if err := c.call(ctx, r, &page); err != nil {
			return nil, err
		}
		for _, d := range page.Data {
			var files aepwire.PhysicalFileList
			fr := request{method: http.MethodGet, path: exportDataPath + "/files/" + url.PathEscape(d.DataSetFileID), rawURL: d.Links.Self.Href}
			if err := c.call(ctx, fr, &files); err != nil {
				return nil, err
			}
			for _, f := range files.Data {
				bf := aepwire.BatchFile{ID: d.DataSetFileID, Name: f.Name, Size: int64(f.Length), Location: f.Links.Self.Href}
				if len(files.Data) == 1 {
					bf.Records = int64(d.Records)
				}
				out = append(out, bf)
			}
		}
		if page.Links.Next == nil || page.Links.Next.Href == "" || len(page.Data) == 0 {
			break
		}
		next = page.Links.Next.Href
	}
	if out == nil {
		out = []aepwire.BatchFile{}
	}
	return out, nil
}

// Download streams a file the API links to (a batch file's Location).
func (c *Client) Download(ctx context.Context, location string) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: location, rawURL: location})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}
