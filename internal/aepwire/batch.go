package aepwire

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// Batch statuses the engine uses, from the Catalog status enum.
const (
	BatchLoading = "loading"
	// BatchProcessing is a batch asked to complete that has not ended yet: the served engine, as
	// AEP, answers COMPLETE at once and ingests the batch in the background.
	BatchProcessing = "processing"
	BatchSuccess    = "success"
	BatchFailed     = "failed"
	// BatchAbandoned is a batch left loading, never completed, for longer than the engine keeps
	// such batches (a client that died between creating and completing it): its uploads are gone.
	BatchAbandoned = "abandoned"
)

// batchEnds are the Catalog statuses a batch does not leave, and whether each is a success.
// Catalog's lifecycle is loading → loaded → staging → active (= success), or failed (= failure);
// a batch may also be retrying or stalled on the way, and end aborted, abandoned, inactive or
// deleted (reverted). Every other status, those of the way and any unknown one, keeps a wait
// going until its own timeout.
var batchEnds = map[string]bool{
	"success": true, "active": true,
	"failed": false, "failure": false, "aborted": false, "abandoned": false, "inactive": false, "deleted": false,
}

// BatchTerminal says whether a batch has reached a status it does not leave. Catalog's statuses
// are lower case; they are compared without regard to case.
func BatchTerminal(status string) bool {
	_, ok := batchEnds[strings.ToLower(status)]
	return ok
}

// BatchSucceeded says whether a batch has ended in success (success, or its synonym active).
func BatchSucceeded(status string) bool { return batchEnds[strings.ToLower(status)] }

// BatchRequest is the body of POST /data/foundation/import/batches.
type BatchRequest struct {
	DatasetID   string       `json:"datasetId"`
	InputFormat *InputFormat `json:"inputFormat,omitempty"`
}

// InputFormat names the format of a batch's files.
type InputFormat struct {
	Format string `json:"format"`
}

// RelatedObject links a batch to its dataset.
type RelatedObject struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// BatchError reports one failed record of a batch, or a failure of the whole batch.
type BatchError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
	// Rows holds the record's 1-based line (JSON Lines) or index (JSON array) in its file.
	Rows Rows `json:"rows,omitempty"`
	// File names the file that holds the record.
	File string `json:"file,omitempty"`
}

// BatchMetrics are the counters of a completed batch.
type BatchMetrics struct {
	RecordsRead    int64 `json:"recordsRead"`
	RecordsWritten int64 `json:"recordsWritten"`
	RecordsFailed  int64 `json:"recordsFailed"`
	StartTime      int64 `json:"startTime,omitempty"`
	EndTime        int64 `json:"endTime,omitempty"`
}

// Batch is a Catalog batch object. GET /batches/{id} returns it in a map keyed by id; the
// ingestion API returns it with the id inside.
type Batch struct {
	ID                string              `json:"id,omitempty"`
	ImsOrg            string              `json:"imsOrg,omitempty"`
	CreatedClient     string              `json:"createdClient,omitempty"`
	CreatedUser       string              `json:"createdUser,omitempty"`
	UpdatedUser       string              `json:"updatedUser,omitempty"`
	Status            string              `json:"status"`
	Version           string              `json:"version,omitempty"`
	Created           int64               `json:"created"`
	Updated           int64               `json:"updated"`
	Started           int64               `json:"started,omitempty"`
	Completed         int64               `json:"completed,omitempty"`
	RecordCount       int64               `json:"recordCount"`
	FailedRecordCount int64               `json:"failedRecordCount"`
	Size              int64               `json:"size,omitempty"`
	Errors            []BatchError        `json:"errors,omitempty"`
	Metrics           *BatchMetrics       `json:"metrics,omitempty"`
	RelatedObjects    []RelatedObject     `json:"relatedObjects"`
	InputFormat       *InputFormat        `json:"inputFormat,omitempty"`
	Tags              map[string][]string `json:"tags,omitempty"`
	AvailableDates    json.RawMessage     `json:"availableDates,omitempty"`
	// IngestTime is the batch's ingest time in epoch milliseconds, assigned when the batch commits
	// and strictly increasing across batches: the time that export filters compare against.
	// It is an extension of the embedded engine; AEP does not report it.
	IngestTime int64 `json:"ingestTime,omitempty"`
}

// DatasetID returns the id of the batch's dataset, from its related objects.
func (b *Batch) DatasetID() string {
	for _, o := range b.RelatedObjects {
		if o.Type == RelatedDataSet {
			return o.ID
		}
	}
	return ""
}

// RelatedDataSet is the relatedObjects type of a batch's dataset.
const RelatedDataSet = "dataSet"

// MaxUploadFile is the most bytes AEP's batch ingestion takes in one upload of a file (a PUT):
// larger files go through its large-file upload (batch-ingestion.yaml), in parts.
const MaxUploadFile = 256 << 20

// MaxFilePart is the most bytes batch-ingestion.yaml says one part of a large file may hold
// ("File sizes of between 0-512000000 bytes are accepted").
const MaxFilePart = 512_000_000

// UploadedFile is what the large-file upload answers (batch-ingestion.yaml's File): the file's
// name and the bytes it holds.
type UploadedFile struct {
	Name        string `json:"name"`
	SizeInBytes int64  `json:"sizeInBytes"`
}

// ContentRange is the Content-Range of a large file's part: "bytes START-END", END the part's
// last byte, as AEP's guide sends it, or with "/TOTAL" or "/*" after, as RFC 9110 writes it.
func ContentRange(start, end int64) string {
	return "bytes " + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(end, 10)
}

// ParseContentRange reads a part's Content-Range (see ContentRange): its first byte and its
// length. A range whose total is given must end within it.
func ParseContentRange(v string) (start, length int64, err error) {
	bad := func(why string) error {
		return Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"Content-Range %s is not valid: %s; send the part's first and last byte, such as Content-Range: bytes 0-1048575",
			QuoteShort(v), why)
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, 0, bad("it does not start with \"bytes \"")
	}
	rng, total, hasTotal := strings.Cut(rest, "/")
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, bad("it has no first-last range")
	}
	start, err1 := strconv.ParseInt(strings.TrimSpace(first), 10, 64)
	end, err2 := strconv.ParseInt(strings.TrimSpace(last), 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || end == math.MaxInt64 {
		return 0, 0, bad("its first and last byte must be whole numbers, the last not before the first")
	}
	if hasTotal && strings.TrimSpace(total) != "*" {
		n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
		if err != nil || end >= n {
			return 0, 0, bad("its total must be a whole number past its last byte, or *")
		}
	}
	return start, end - start + 1, nil
}

// BatchFile is a file of a batch as the provider reports it. Location is where to read it: a
// local path with the embedded engine, the Data Access URL in remote mode.
type BatchFile struct {
	ID       string
	Name     string
	Size     int64
	Records  int64
	Location string
}
