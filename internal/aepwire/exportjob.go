package aepwire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

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

// UnmarshalJSON reads version as the spec declares it, a number (2 or 2.0).
func (m *MergePolicyRef) UnmarshalJSON(b []byte) error {
	type plain MergePolicyRef
	var v struct {
		*plain
		Version *number `json:"version"`
	}
	v.plain = (*plain)(m)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m.Version = v.Version.int64Ptr()
	return nil
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

// UnmarshalJSON accepts every form AEP's documents use: datasetId or dataSetId, and batches as
// one object (segmentation.yaml) or as an array (Adobe's guides).
func (d *ExportDestination) UnmarshalJSON(b []byte) error {
	type plain ExportDestination
	var v struct {
		plain
		DataSetID string          `json:"dataSetId"`
		Batches   json.RawMessage `json:"batches"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*d = ExportDestination(v.plain)
	if d.DatasetID == "" {
		d.DatasetID = v.DataSetID
	}
	switch raw := bytes.TrimSpace(v.Batches); {
	case len(raw) == 0 || string(raw) == "null":
	case raw[0] == '{':
		var one ExportBatch
		if err := json.Unmarshal(raw, &one); err != nil {
			return fmt.Errorf("destination.batches: %w", err)
		}
		d.Batches = []ExportBatch{one}
	default:
		if err := json.Unmarshal(raw, &d.Batches); err != nil {
			return fmt.Errorf("destination.batches: %w", err)
		}
	}
	return nil
}

// jobDestination is a job's destination as the API writes it: batchId is always there, empty
// when the job has none (as in the seed's FAILED example), unless the job lists batches.
type jobDestination ExportDestination

func (d jobDestination) MarshalJSON() ([]byte, error) {
	type plain ExportDestination
	if len(d.Batches) > 0 {
		return json.Marshal(plain(d))
	}
	return json.Marshal(struct {
		DatasetID       string `json:"datasetId"`
		SegmentPerBatch bool   `json:"segmentPerBatch"`
		BatchID         string `json:"batchId"`
	}{d.DatasetID, d.SegmentPerBatch, d.BatchID})
}

// ExportBatch is the batch a segmentPerBatch job wrote for one segment.
type ExportBatch struct {
	SegmentID string     `json:"segmentId"`
	SegmentNs string     `json:"segmentNs"`
	Status    StatusList `json:"status"`
	BatchID   string     `json:"batchId"`
}

// StatusList is the membership statuses of a segment's batch. The spec declares a list; some of
// Adobe's examples print one string, or several joined by commas. It decodes from all three and
// encodes as a list.
type StatusList []string

// UnmarshalJSON accepts ["realized","existing"], "realized" and "realized,existing".
func (s *StatusList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = nil
		for _, part := range strings.Split(one, ",") {
			if part = strings.TrimSpace(part); part != "" {
				*s = append(*s, part)
			}
		}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("status: %s is neither a string nor a list of strings", b)
	}
	*s = list
	return nil
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

// UnmarshalJSON reads id, which the spec declares a number (100 or 100.0), and the times.
func (j *ExportJob) UnmarshalJSON(b []byte) error {
	type plain ExportJob
	var v struct {
		*plain
		ID           number `json:"id"`
		CreationTime number `json:"creationTime"`
		UpdateTime   number `json:"updateTime"`
	}
	v.plain = (*plain)(j)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	j.ID, j.CreationTime, j.UpdateTime = int64(v.ID), int64(v.CreationTime), int64(v.UpdateTime)
	return nil
}

// MarshalJSON writes the job with its destination as the API shows it.
func (j ExportJob) MarshalJSON() ([]byte, error) {
	type plain ExportJob
	return json.Marshal(struct {
		plain
		Destination jobDestination `json:"destination"`
	}{plain(j), jobDestination(j.Destination)})
}

// JobError is an error of a failed export job. callStack is always written, as AEP does.
type JobError struct {
	Code      string `json:"code"`
	Msg       string `json:"msg"`
	CallStack string `json:"callStack"`
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

// The embedded engine's exportedProfileByNamespaceCounter names at most MaxMetricNamespaces
// namespaces, the first the rows meet (rows are in the order of their identity, namespace first,
// so those are the smallest), and counts the rows of any other under OtherNamespaces: a store
// may hold any number of namespaces, and every read of a job repeats its metrics. The counts
// still add up to totalExportedProfileCounter.
const (
	MaxMetricNamespaces = 100
	OtherNamespaces     = "(other)"
)

// UnmarshalJSON reads the counters as numbers (5 or 5.0).
func (m *ExportMetrics) UnmarshalJSON(b []byte) error {
	type plain ExportMetrics
	var v struct {
		*plain
		TotalExportedProfileCounter       *number           `json:"totalExportedProfileCounter"`
		ExportedProfileByNamespaceCounter map[string]number `json:"exportedProfileByNamespaceCounter"`
		ExportedEventCounter              *number           `json:"exportedEventCounter"`
		ExcludedProfileCount              *number           `json:"excludedProfileCount"`
		BytesWritten                      *number           `json:"bytesWritten"`
	}
	v.plain = (*plain)(m)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m.TotalExportedProfileCounter = v.TotalExportedProfileCounter.int64Ptr()
	m.ExportedEventCounter = v.ExportedEventCounter.int64Ptr()
	m.ExcludedProfileCount = v.ExcludedProfileCount.int64Ptr()
	m.BytesWritten = v.BytesWritten.int64Ptr()
	m.ExportedProfileByNamespaceCounter = nil
	if v.ExportedProfileByNamespaceCounter != nil {
		m.ExportedProfileByNamespaceCounter = make(map[string]int64, len(v.ExportedProfileByNamespaceCounter))
		for ns, n := range v.ExportedProfileByNamespaceCounter {
			m.ExportedProfileByNamespaceCounter[ns] = int64(n)
		}
	}
	return nil
}

// FeedbackMetrics is one timed phase of a job, in epoch milliseconds.
type FeedbackMetrics struct {
	StartTimeInMs int64 `json:"startTimeInMs"`
	EndTimeInMs   int64 `json:"endTimeInMs,omitempty"`
	TotalTimeInMs int64 `json:"totalTimeInMs,omitempty"`
}

// UnmarshalJSON reads the times as the spec declares them, numbers (1.23456789E+11 included).
func (f *FeedbackMetrics) UnmarshalJSON(b []byte) error {
	var v struct {
		StartTimeInMs number `json:"startTimeInMs"`
		EndTimeInMs   number `json:"endTimeInMs"`
		TotalTimeInMs number `json:"totalTimeInMs"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = FeedbackMetrics{StartTimeInMs: int64(v.StartTimeInMs), EndTimeInMs: int64(v.EndTimeInMs), TotalTimeInMs: int64(v.TotalTimeInMs)}
	return nil
}

// ExportJobList is a page of GET /export/jobs.
type ExportJobList struct {
	Records []ExportJob `json:"records"`
	Page    ListPage    `json:"page"`
	Link    ListLink    `json:"link"`
	// Unreadable says which records of the page could not be decoded, and why: one odd record
	// leaves the others readable. It is never sent.
	Unreadable []string `json:"-"`
}

// UnmarshalJSON decodes the records one by one, keeping those it can read.
func (l *ExportJobList) UnmarshalJSON(b []byte) error {
	var v struct {
		Records []json.RawMessage `json:"records"`
		Page    ListPage          `json:"page"`
		Link    ListLink          `json:"link"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = ExportJobList{Records: make([]ExportJob, 0, len(v.Records)), Page: v.Page, Link: v.Link}
	for i, raw := range v.Records {
		var job ExportJob
		if err := json.Unmarshal(raw, &job); err != nil {
			var probe struct {
				ID any `json:"id"`
			}
			_ = json.Unmarshal(raw, &probe)
			l.Unreadable = append(l.Unreadable, fmt.Sprintf("record %d (id %v): %v", i+1, probe.ID, err))
			continue
		}
		l.Records = append(l.Records, job)
	}
	return nil
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
	// Limit is the most jobs of the page: 0 for the default, and at most MaxExportJobPage (a
	// larger limit is taken as that, and link.next leads on).
	Limit int
	// Offset is the pageOffset of the previous page ("{creationTime}_{id}"), or empty.
	Offset string
}

// MaxExportSegments is the most segments an export job's filter.segments may name: with
// destination.segmentPerBatch, each is a batch of the job, which a run writes through a buffer and
// a file of its own, and every profile is checked against each. AEP documents no maximum.
const MaxExportSegments = 100

// MaxExportJobPage is the most jobs one page of GET /export/jobs holds. AEP documents no
// maximum, and clients ask for pages of 1000 (aepp does).
const MaxExportJobPage = 1000

// CancelResponse is the body of DELETE /export/jobs/{id}.
type CancelResponse struct {
	Status  bool   `json:"status"`
	Message string `json:"message"`
}
