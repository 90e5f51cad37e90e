// Package backend defines the one interface through which the provider reaches Adobe Experience
// Platform: the embedded engine implements it in-process, the remote client over HTTP.
package backend

import (
	"context"
	"io"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Backend is everything the provider asks of a platform. Errors that the platform reports carry
// an *aepwire.Error, so callers can tell a missing object (aepwire.IsNotFound) from a failure.
type Backend interface {
	// CreateDataset creates a Catalog dataset and returns it as stored.
	CreateDataset(ctx context.Context, req aepwire.DatasetRequest) (*aepwire.Dataset, error)
	// GetDataset returns the dataset with the given id, or a 404 error.
	GetDataset(ctx context.Context, id string) (*aepwire.Dataset, error)
	// UpdateDataset applies a partial update and returns the dataset as stored.
	UpdateDataset(ctx context.Context, id string, patch aepwire.DatasetPatch) (*aepwire.Dataset, error)
	// DeleteDataset deletes a dataset with its batches and the profile data they contributed.
	DeleteDataset(ctx context.Context, id string) error

	// CreateBatch opens a batch for file uploads into a dataset.
	CreateBatch(ctx context.Context, req aepwire.BatchRequest) (*aepwire.Batch, error)
	// UploadBatchFile adds a file to a loading batch.
	UploadBatchFile(ctx context.Context, batchID, datasetID, name string, body io.Reader) error
	// CompleteBatch signals that all files are uploaded. The returned batch may still be
	// processing; GetBatch reports when it has ended.
	CompleteBatch(ctx context.Context, batchID string) (*aepwire.Batch, error)
	// GetBatch returns the batch with the given id, or a 404 error.
	GetBatch(ctx context.Context, id string) (*aepwire.Batch, error)
	// DeleteBatch deletes a batch and the records it contributed.
	DeleteBatch(ctx context.Context, id string) error

	// CreateMergePolicy creates a merge policy at version 1.
	CreateMergePolicy(ctx context.Context, p aepwire.MergePolicy) (*aepwire.MergePolicy, error)
	// GetMergePolicy returns the latest version of a merge policy, or a 404 error.
	GetMergePolicy(ctx context.Context, id string) (*aepwire.MergePolicy, error)
	// UpdateMergePolicy replaces a merge policy's settings, which bumps its version.
	UpdateMergePolicy(ctx context.Context, id string, p aepwire.MergePolicy) (*aepwire.MergePolicy, error)
	// DeleteMergePolicy deletes a merge policy.
	DeleteMergePolicy(ctx context.Context, id string) error

	// CreateExportJob starts an export job. A non-empty idempotencyKey makes the call safe to
	// retry against the embedded engine, which returns the job the key first created. Real AEP
	// ignores the key, so the remote client never resends the call blindly: after an answer it
	// lost, it finds and adopts the job the first attempt made.
	CreateExportJob(ctx context.Context, req aepwire.ExportJobRequest, idempotencyKey string) (*aepwire.ExportJob, error)
	// GetExportJob returns a job, or a 404 error.
	GetExportJob(ctx context.Context, id int64) (*aepwire.ExportJob, error)
	// ListExportJobs returns a page of jobs, newest first.
	ListExportJobs(ctx context.Context, q aepwire.ExportJobQuery) (*aepwire.ExportJobList, error)
	// CancelExportJob cancels a NEW or PROCESSING job, or deletes the record of a finished one.
	CancelExportJob(ctx context.Context, id int64) error
	// WaitExportJob returns once the job has ended (SUCCEEDED, FAILED or CANCELLED), or ctx is
	// done. onChange, when set, hears of status changes and progress.
	WaitExportJob(ctx context.Context, id int64, onChange func(*aepwire.ExportJob)) (*aepwire.ExportJob, error)

	// ListBatchFiles returns the files of a batch.
	ListBatchFiles(ctx context.Context, batchID string) ([]aepwire.BatchFile, error)
}
