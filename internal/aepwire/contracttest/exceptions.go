package contracttest

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Exception waives one rule of the specifications where they are wrong or silent about what the
// real service does. Each names the operation, where in the exchange, the problem it waives (a
// substring of the problem's text) and its evidence.
type Exception struct {
	// Name is what summaries call it.
	Name string
	// Op is "METHOD /base/path/template" as routed (the API's base path and the spec's path key),
	// or the method and literal path of an operation the specs lack; "*" is any operation.
	Op string
	// Where is "request" or "response".
	Where string
	// Statuses, when set, limits a response exception to these statuses.
	Statuses []int
	// Query, when set, limits the exception to requests that carry this query parameter.
	Query string
	// Match is a substring of the problem.
	Match string
	// Why says which rule is waived, and why the service does otherwise.
	Why string
	// Evidence is one line: the seed, an Adobe guide or the spec's own text.
	Evidence string
}

// Exceptions is the written list of rules waived; nothing else is.
var Exceptions = []Exception{
	{
		Name:  "IMS token endpoint",
		Op:    "POST /ims/token/v3",
		Where: "request",
		Match: "unknown operation",
		Why: "The OAuth server-to-server token endpoint belongs to Adobe IMS, which none of the five " +
			"Platform specifications describes; the client's own tests check that exchange.",
		Evidence: "Adobe's OAuth server-to-server guide: POST https://ims-na1.adobelogin.com/ims/token/v3, " +
			"form-encoded client_credentials (reference/aep-api.md §1).",
	},
	{
		Name:     "statuses of every Platform API",
		Op:       "*",
		Where:    "response",
		Statuses: []int{400, 401, 403, 404, 429, 500, 502, 503, 504},
		Match:    "status is not supported",
		Why: "Every Platform API answers 400 for a request it cannot take, 404 for an unknown object, 401 and 403 " +
			"from the gateway, and 429 or 5xx when it cannot serve; each spec lists such statuses on some operations only.",
		Evidence: "Platform troubleshooting guide: the API status codes table (400, 401, 403, 404, 500) and the request " +
			"header errors (401013, 403010, 403000, 403027) apply to every Platform API (S9).",
	},
	{
		Name:  "batch inputFormat.format in lower case",
		Op:    "POST /data/foundation/import/batches",
		Where: "request",
		Match: `/inputFormat/format: value is not one of the allowed values ["JSON","Parquet","CSV"]`,
		Why:   "batch-ingestion.yaml's enum is capitalised; the service takes the lower-case names its guides use.",
		Evidence: "Batch ingestion developer guide, \"Create batch\": " +
			`{"datasetId": "{DATASET_ID}", "inputFormat": {"format": "json"}}.`,
	},
	{
		Name:     "a new batch is loading",
		Op:       "POST /data/foundation/import/batches",
		Where:    "response",
		Statuses: []int{201},
		Match:    "/status: value is not one of the allowed values",
		Why: "batch-ingestion.yaml's Batch.status enum lacks loading, the status of every batch the call creates " +
			"(catalog.yaml's enum has it).",
		Evidence: `Batch ingestion developer guide, "Create batch" response: "status": "loading".`,
	},
	{
		Name:     "an aborted or reverted batch",
		Op:       "POST /data/foundation/import/batches/{batchId}",
		Where:    "response",
		Statuses: []int{200},
		Match:    "/status: value is not one of the allowed values",
		Why: "batch-ingestion.yaml's Batch.status enum lacks aborted and inactive, what ?action=ABORT and " +
			"?action=REVERT leave a batch in.",
		Evidence: "catalog.yaml's batch status enum lists aborted and inactive beside success and failed.",
	},
	{
		Name:     "destination.batches is an array",
		Op:       "*",
		Where:    "response",
		Statuses: []int{200},
		Match:    "/destination/batches: value must be an object",
		Why: "segmentation.yaml declares destination.batches one object; the service lists one entry a segment, " +
			"with a status that is a list or a string.",
		Evidence: "Segmentation export jobs guide (help/segmentation/api/export-jobs.md), segmentPerBatch example: " +
			`"batches": [{"segmentId": ..., "status": ...}] (reference/openapi/README.md).`,
	},
	{
		Name:  "a large file's part is its bytes",
		Op:    "PATCH /data/foundation/import/batches/{batchId}/datasets/{datasetId}/files/{filePath}",
		Where: "request",
		Match: `header Content-Type has unexpected value "application/octet-stream"`,
		Why: "batch-ingestion.yaml declares the part's body multipart/form-data, while the same operation's Content-Type " +
			"parameter allows application/octet-stream alone; the service takes the part's bytes as they are.",
		Evidence: "batch-ingestion.yaml, uploadLargeFilePart: Content-Type enum [application/octet-stream], \"The value should " +
			"be 'application/octet-stream'\"; batch ingestion developer guide, large file upload: PATCH with " +
			"Content-Type: application/octet-stream, Content-Range: bytes {CONTENT_RANGE} and --data-binary.",
	},
	{
		Name:     "a downloaded file is its bytes",
		Op:       "GET /data/foundation/export/files/{dataSetFileId}",
		Where:    "response",
		Statuses: []int{200},
		Query:    "path",
		Match:    "doesn't match schema #/components/schemas/metadata",
		Why: "data-access.yaml gives GET /files/{id} one schema (metadata) for both answers, while with ?path= " +
			"the body is the file itself.",
		Evidence: `data-access.yaml's own text for path: "The contents of the file would be downloaded if this ` +
			`parameter is provided"; Data Access tutorial (S7).`,
	},
}

// matchException returns the index of the exception that waives a problem, or -1. where is
// "request" or "response NNN".
func matchException(opKey, where string, query url.Values, problem string) int {
	for i, e := range Exceptions {
		if e.Op != "*" && e.Op != opKey || e.Query != "" && !query.Has(e.Query) || !strings.Contains(problem, e.Match) {
			continue
		}
		kind, status, _ := strings.Cut(where, " ")
		if kind != e.Where {
			continue
		}
		if len(e.Statuses) > 0 && !slices.ContainsFunc(e.Statuses, func(s int) bool { return status == strconv.Itoa(s) }) {
			continue
		}
		return i
	}
	return -1
}
