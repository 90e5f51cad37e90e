package aepwire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// destination.batches: segmentation.yaml declares one object with a status list; Adobe's guides
// show an array, with a status that is a list in some and a string in others. Every form decodes.
func TestDestinationBatchesDecodeInEveryDocumentedForm(t *testing.T) {
	want := []ExportBatch{{SegmentID: "s1", SegmentNs: "ups", Status: []string{"realized"}, BatchID: "b1"}}
	for name, doc := range map[string]string{
		"spec: one object":            `{"datasetId":"d","segmentPerBatch":true,"batches":{"segmentId":"s1","segmentNs":"ups","status":["realized"],"batchId":"b1"}}`,
		"guide: array, status a list": `{"datasetId":"d","segmentPerBatch":true,"batches":[{"segmentId":"s1","segmentNs":"ups","status":["realized"],"batchId":"b1"}]}`,
		"guide: array, status a string": `{"datasetId":"d","segmentPerBatch":true,"batches":[{"segmentId":"s1","segmentNs":"ups",` +
			`"status":"realized","batchId":"b1"}]}`,
	} {
		t.Run(name, func(t *testing.T) {
			var d ExportDestination
			if err := json.Unmarshal([]byte(doc), &d); err != nil {
				t.Fatalf("decoding %s: %v", doc, err)
			}
			if !reflect.DeepEqual(d.Batches, want) {
				t.Errorf("batches = %+v, want %+v", d.Batches, want)
			}
		})
	}
	// A status of several values in one string, as some examples print it.
	var d ExportDestination
	if err := json.Unmarshal([]byte(`{"batches":[{"segmentId":"s","status":"realized,existing"}]}`), &d); err != nil ||
		!reflect.DeepEqual([]string(d.Batches[0].Status), []string{"realized", "existing"}) {
		t.Errorf("status \"realized,existing\": %+v, %v", d.Batches, err)
	}
}

// One record the client cannot read leaves the rest of a list page readable, and is reported.
func TestOneOddRecordDoesNotBreakAJobList(t *testing.T) {
	doc := `{"records":[
	  {"id":1,"status":"SUCCEEDED","destination":{"datasetId":"d","batchId":"b"}},
	  {"id":"not a number","status":"SUCCEEDED","destination":{"datasetId":"d"}},
	  {"id":3,"status":"FAILED","destination":{"datasetId":"d","batches":[{"segmentId":"s","status":"exited"}]}}],
	 "page":{"sortField":"createdTime","sort":"desc","pageOffset":"1_3","pageSize":3},"link":{"next":""}}`
	var list ExportJobList
	if err := json.Unmarshal([]byte(doc), &list); err != nil {
		t.Fatalf("one odd record broke the list: %v", err)
	}
	if len(list.Records) != 2 || list.Records[0].ID != 1 || list.Records[1].ID != 3 {
		t.Errorf("records = %+v, want jobs 1 and 3", list.Records)
	}
	if len(list.Unreadable) != 1 || !strings.Contains(list.Unreadable[0], "record 2") {
		t.Errorf("unreadable = %q, want record 2 named", list.Unreadable)
	}
	if list.Page.PageSize != 3 || list.Page.PageOffset != "1_3" {
		t.Errorf("page = %+v", list.Page)
	}
}

// Catalog reports the rows of a batch error as strings, single rows or ranges ("3", "3-5").
func TestBatchErrorRowsAreStrings(t *testing.T) {
	var e BatchError
	if err := json.Unmarshal([]byte(`{"code":"X","description":"d","rows":["3","5-7"]}`), &e); err != nil {
		t.Fatalf("rows as Catalog sends them: %v", err)
	}
	if !reflect.DeepEqual([]int64(e.Rows), []int64{3, 5, 6, 7}) {
		t.Errorf("rows = %v, want 3 5 6 7", e.Rows)
	}
	// Numbers, as older engines sent, still decode.
	if err := json.Unmarshal([]byte(`{"rows":[4,9]}`), &e); err != nil || !reflect.DeepEqual([]int64(e.Rows), []int64{4, 9}) {
		t.Errorf("rows as numbers: %v, %v", e.Rows, err)
	}
	out, err := json.Marshal(BatchError{Code: "X", Description: "d", Rows: []int64{3, 5, 6, 7, 9}})
	if err != nil || !strings.Contains(string(out), `"rows":["3","5-7","9"]`) {
		t.Errorf("encoded %s (%v), want the rows as Catalog's strings", out, err)
	}
	for _, bad := range []string{`["x"]`, `["7-3"]`, `["-1"]`, `[true]`} {
		if err := json.Unmarshal([]byte(`{"rows":`+bad+`}`), &e); err == nil {
			t.Errorf("rows %s decoded without an error", bad)
		}
	}
	// A huge range is kept bounded in memory.
	if err := json.Unmarshal([]byte(`{"rows":["1-1000000000"]}`), &e); err != nil || len(e.Rows) > maxExpandedRows {
		t.Errorf("a huge range: %d rows, %v", len(e.Rows), err)
	}
}

// Fields that the specs declare `type: number` decode from 100.0 and 1.23456789E+11 too.
func TestNumbersDeclaredNumberDecodeFromFloats(t *testing.T) {
	doc := `{"id":100.0,"status":"SUCCEEDED","mergePolicy":{"id":"m","version":2.0},
	  "metrics":{"totalTime":{"startTimeInMs":1.23456789E+11,"endTimeInMs":123456790000.0,"totalTimeInMs":1000.0},
	    "totalExportedProfileCounter":5.0,"exportedProfileByNamespaceCounter":{"Email":5.0}},
	  "creationTime":1.5E+12,"updateTime":1500000000001,"destination":{"datasetId":"d"}}`
	var job ExportJob
	if err := json.Unmarshal([]byte(doc), &job); err != nil {
		t.Fatalf("decoding: %v", err)
	}
	tt := job.Metrics.TotalTime
	if job.ID != 100 || job.MergePolicy.Version == nil || *job.MergePolicy.Version != 2 || tt == nil ||
		tt.StartTimeInMs != 123456789000 || tt.EndTimeInMs != 123456790000 || tt.TotalTimeInMs != 1000 ||
		job.CreationTime != 1500000000000 || job.UpdateTime != 1500000000001 ||
		job.Metrics.TotalExportedProfileCounter == nil || *job.Metrics.TotalExportedProfileCounter != 5 ||
		job.Metrics.ExportedProfileByNamespaceCounter["Email"] != 5 {
		t.Errorf("decoded %+v (metrics %+v)", job, job.Metrics)
	}
	var p MergePolicy
	if err := json.Unmarshal([]byte(`{"id":"m","version":3.0,"updateEpoch":1.551660639E+9}`), &p); err != nil || p.Version != 3 || p.UpdateEpoch != 1551660639 {
		t.Errorf("merge policy: %+v, %v", p, err)
	}
	for _, bad := range []string{`{"id":1.5}`, `{"id":"7"}`, `{"id":1e30}`} {
		if err := json.Unmarshal([]byte(bad), &job); err == nil {
			t.Errorf("%s decoded without an error", bad)
		}
	}
}

// Every status of Catalog's batch enum is either a status a wait goes on through, or an end;
// none is unknown, so that no wait runs to its timeout on a batch that has ended.
func TestEveryCatalogBatchStatusIsMapped(t *testing.T) {
	// catalog.yaml, components.schemas.Batch.status, plus those of the batch ingestion guide.
	ends := map[string]bool{"success": true, "active": true, "failure": false, "failed": false, "aborted": false,
		"abandoned": false, "inactive": false, "deleted": false}
	goes := []string{"processing", "queued", "retrying", "stalled", "loading", "loaded", "staged", "staging"}
	for s, ok := range ends {
		if !BatchTerminal(s) || BatchSucceeded(s) != ok {
			t.Errorf("%q: terminal %v, succeeded %v; want an end, succeeded %v", s, BatchTerminal(s), BatchSucceeded(s), ok)
		}
		if !BatchTerminal(strings.ToUpper(s)) {
			t.Errorf("%q in capitals is not an end", s)
		}
	}
	for _, s := range goes {
		if BatchTerminal(s) || BatchSucceeded(s) {
			t.Errorf("%q ends a wait", s)
		}
	}
}

// The Catalog specification's example writes the unifiedProfile tag's entry with a space
// ("enabled: true"); the datasets AEP returns write it without. Both enable the dataset.
func TestProfileEnabledInEitherForm(t *testing.T) {
	for tag, want := range map[string]bool{"enabled:true": true, "enabled: true": true, " enabled : true ": true,
		"enabled:false": false, "isUpsert:true": false, "enabled": false, "enabledness:true": false} {
		if got := ProfileEnabled(map[string][]string{TagUnifiedProfile: {"isUpsert:true", tag}}); got != want {
			t.Errorf("ProfileEnabled(unifiedProfile: [isUpsert:true %q]) = %v, want %v", tag, got, want)
		}
	}
}

// A page of merge policies counts as profile.yaml shows it (100.0), and names its next page by
// an opaque cursor (_page.next), or by the link the merge policy guide shows.
func TestMergePolicyPagesDecodeAndNameTheirNext(t *testing.T) {
	for body, want := range map[string]string{
		`{"_page":{"count":100.0,"next":"K1JJRDpFaWc5QUwy"},"children":[]}`:                                                  "K1JJRDpFaWc5QUwy",
		`{"_page":{"totalCount":3,"pageSize":2},"children":[],"_links":{"next":{"href":"@/mergePolicies?start=2&limit=2"}}}`: "2",
		`{"_page":{"count":1.0},"children":[{"id":"p","version":2.0}]}`:                                                      "",
	} {
		var l MergePolicyList
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if got := l.NextStart(); got != want {
			t.Errorf("%s: the next page starts at %q, want %q", body, got, want)
		}
	}
}
