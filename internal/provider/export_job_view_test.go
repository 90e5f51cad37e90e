package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// A job names its reserved batches whatever its status, as AEP's does; batch_id names a batch
// only when the job may have committed it, as its description says.
func TestJobViewBatchOfAnEndedJob(t *testing.T) {
	for status, kept := range map[string]bool{aepwire.JobNew: true, aepwire.JobProcessing: true, aepwire.JobSucceeded: true,
		aepwire.JobFailed: false, aepwire.JobCancelled: false} {
		job := &aepwire.ExportJob{ID: 7, Status: status, Destination: aepwire.ExportDestination{DatasetID: "d", BatchID: "b1"}}
		v, diags := jobViewOf(context.Background(), job)
		if diags.HasError() {
			t.Fatal(diags)
		}
		if got := !v.BatchID.IsNull(); got != kept {
			t.Errorf("%s job: batch_id %s, want it kept: %t", status, v.BatchID, kept)
		}
		job.Destination = aepwire.ExportDestination{DatasetID: "d", SegmentPerBatch: true,
			Batches: []aepwire.ExportBatch{{SegmentID: "s", SegmentNs: "ups", BatchID: "b2"}}}
		if v, diags = jobViewOf(context.Background(), job); diags.HasError() {
			t.Fatal(diags)
		}
		if got := v.Batches.String(); strings.Contains(got, `"b2"`) != kept {
			t.Errorf("%s job: batches %s, want the batch id kept: %t", status, got, kept)
		}
	}
}
