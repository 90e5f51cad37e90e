package aepwire

import "encoding/json"

// Export job statuses. CANCELLED is the embedded engine's extension, borrowed from segment jobs:
// AEP's export status enum stops at FAILED.
const (
	JobNew        = "NEW"
	JobProcessing = "PROCESSING"
	JobSucceeded  = "SUCCEEDED"
	JobFailed     = "FAILED"
	JobCancelled  = "CANCELLED"
)

// JobTerminal reports whether an export job status is final.
func JobTerminal(status string) bool {
	return status == JobSucceeded || status == JobFailed || status == JobCancelled
}

// Segment membership statuses.
const (
	SegmentRealized = "realized"
	SegmentExisting = "existing"
	SegmentExited   = "exited"
)

// ProfileSchemaName is the only schema.name of profile export jobs.
const ProfileSchemaName = "_xdm.context.profile"

// ExportJobRequest is the body of POST /data/core/ups/export/jobs.
type ExportJobRequest struct {
	Fields           string            `json:"fields,omitempty"`
	MergePolicy      *MergePolicyRef   `json:"mergePolicy,omitempty"`
	Filter           *ExportFilter     `json:"filter,omitempty"`
	AdditionalFields *AdditionalFields `json:"additionalFields,omitempty"`
	Destination      ExportDestination `json:"destination"`
	Schema           ExportSchema      `json:"schema"`
	EvaluationInfo   *EvaluationInfo   `json:"evaluationInfo,omitempty"`
}

// MergePolicyRef names a merge policy; a nil Version means the latest.
type MergePolicyRef struct {
	ID      string `json:"id"`
	Version *int64 `json:"version,omitempty"`
}

// ExportFilter restricts the profiles an export job exports.
type ExportFilter struct {
	Segments                 []SegmentFilter           `json:"segments,omitempty"`
	SegmentQualificationTime *SegmentQualificationTime `json:"segmentQualificationTime,omitempty"`
	FromIngestTimestamp      string                    `json:"fromIngestTimestamp,omitempty"`
	EmptyProfiles            bool                      `json:"emptyProfiles,omitempty"`
}

// SegmentFilter keeps the profiles whose membership of a segment has one of the statuses.
type SegmentFilter struct {
	SegmentID string   `json:"segmentId"`
	SegmentNs string   `json:"segmentNs,omitempty"`
	Status    []string `json:"status,omitempty"`
}

// SegmentQualificationTime bounds the qualifying membership's lastQualificationTime (RFC 3339).
type SegmentQualificationTime struct {
	StartTime string `json:"startTime,omitempty"`
	EndTime   string `json:"endTime,omitempty"`
}

// AdditionalFields asks for more than profile attributes.
type AdditionalFields struct {
	EventList *EventList `json:"eventList,omitempty"`
}

// EventList adds each profile's experience events to its row.
type EventList struct {
	Fields string           `json:"fields,omitempty"`
	Filter *EventListFilter `json:"filter,omitempty"`
}

// EventListFilter bounds the events by ingest time (RFC 3339; both bounds exclusive).
type EventListFilter struct {
	FromIngestTimestamp string `json:"fromIngestTimestamp,omitempty"`
	ToIngestTimestamp   string `json:"toIngestTimestamp,omitempty"`
}

// ExportDestination is where a job writes. The request holds datasetId and segmentPerBatch; the
// job adds the batches it writes.
type ExportDestination struct {
	DatasetID       string        `json:"datasetId"`
	SegmentPerBatch bool          `json:"segmentPerBatch"`
	BatchID         string        `json:"batchId,omitempty"`
	Batches         []ExportBatch `json:"batches,omitempty"`
}

// UnmarshalJSON accepts both spellings AEP's documents use, datasetId and dataSetId.
func (d *ExportDestination) UnmarshalJSON(b []byte) error {
	type plain ExportDestination
	var v struct {
		plain
		DataSetID string `json:"dataSetId"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = ExportDestination(v.plain)
	if d.DatasetID == "" {
		d.DatasetID = v.DataSetID
	}
	return nil
}

// ExportBatch is the batch a segmentPerBatch job wrote for one segment.
type ExportBatch struct {
	SegmentID string   `json:"segmentId"`
	SegmentNs string   `json:"segmentNs"`
	Status    []string `json:"status"`
	BatchID   string   `json:"batchId"`
}

// ExportSchema names the schema of the exported profiles.
type ExportSchema struct {
	Name string `json:"name"`
}

// EvaluationInfo asks for segmentation as part of the export; the engine evaluates nothing and
// accepts only false.
type EvaluationInfo struct {
	Segmentation bool `json:"segmentation"`
}

// ExportJob is an export job as the API returns it.
type ExportJob struct {
	ID                  int64             `json:"id"`
	ProfileInstanceID   string            `json:"profileInstanceId"`
	JobType             string            `json:"jobType"`
	Status              string            `json:"status"`
	Fields              string            `json:"fields,omitempty"`
	Schema              ExportSchema      `json:"schema"`
	MergePolicy         MergePolicyRef    `json:"mergePolicy"`
	Filter              *ExportFilter     `json:"filter,omitempty"`
	AdditionalFields    *AdditionalFields `json:"additionalFields,omitempty"`
	Destination         ExportDestination `json:"destination"`
	RequestID           string            `json:"requestId"`
	ComputeGatewayJobID map[string]string `json:"computeGatewayJobId"`
	Metrics             ExportMetrics     `json:"metrics"`
	Errors              []JobError        `json:"errors,omitempty"`
	// Warnings are the embedded engine's notes on a job that did not fail, such as a restart
	// after the process running it stopped.
	Warnings     []JobError `json:"warnings,omitempty"`
	ImsOrgID     string     `json:"imsOrgId"`
	CreationTime int64      `json:"creationTime"`
	UpdateTime   int64      `json:"updateTime"`
}

// JobError is an error of a failed export job.
type JobError struct {
	Code      string `json:"code"`
	Msg       string `json:"msg"`
	CallStack string `json:"callStack,omitempty"`
}

// ExportMetrics are the timings and counters of an export job. The last three counters are the
// embedded engine's extension.
type ExportMetrics struct {
	TotalTime                         *FeedbackMetrics `json:"totalTime,omitempty"`
	ProfileExportTime                 *FeedbackMetrics `json:"profileExportTime,omitempty"`
	ACPDatasetWriteTime               *FeedbackMetrics `json:"aCPDatasetWriteTime,omitempty"`
	TotalExportedProfileCounter       *int64           `json:"totalExportedProfileCounter,omitempty"`
	ExportedProfileByNamespaceCounter map[string]int64 `json:"exportedProfileByNamespaceCounter,omitempty"`
	ExportedEventCounter              *int64           `json:"exportedEventCounter,omitempty"`
	ExcludedProfileCount              *int64           `json:"excludedProfileCount,omitempty"`
	BytesWritten                      *int64           `json:"bytesWritten,omitempty"`
}

// FeedbackMetrics is one timed phase of a job, in epoch milliseconds.
type FeedbackMetrics struct {
	StartTimeInMs int64 `json:"startTimeInMs"`
	EndTimeInMs   int64 `json:"endTimeInMs,omitempty"`
	TotalTimeInMs int64 `json:"totalTimeInMs,omitempty"`
}

// ExportJobList is a page of GET /export/jobs.
type ExportJobList struct {
	Records []ExportJob `json:"records"`
	Page    ListPage    `json:"page"`
	Link    ListLink    `json:"link"`
}

// ListPage describes a page of a list.
type ListPage struct {
	SortField  string `json:"sortField"`
	Sort       string `json:"sort"`
	PageOffset string `json:"pageOffset"`
	PageSize   int    `json:"pageSize"`
}

// ListLink points to the next page; Next is empty on the last page.
type ListLink struct {
	Next string `json:"next"`
}

// ExportJobQuery selects jobs to list.
type ExportJobQuery struct {
	Status string
	Limit  int
	// Offset is the pageOffset of the previous page ("{creationTime}_{id}"), or empty.
	Offset string
}

// CancelResponse is the body of DELETE /export/jobs/{id}.
type CancelResponse struct {
	Status  bool   `json:"status"`
	Message string `json:"message"`
}
