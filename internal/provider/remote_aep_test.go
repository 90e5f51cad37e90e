package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// extension is check in the embedded engine, and null in remote mode: the value is one of the
// engine's own extensions, which the served engine's strict profile leaves out, as AEP does.
func (env *testEnv) extension(check knownvalue.Check) knownvalue.Check {
	if env.mode == "remote" {
		return knownvalue.Null()
	}
	return check
}

// AEP reports no ingestTime on a batch: the time of its completion, after its records were
// ingested, stands in, so that a filter set from ingested_at still filters. A batch without any
// time reads as unknown (null), never as 0, and says so.
func TestBatchIngestTimeComesFromWhatCatalogReports(t *testing.T) {
	for _, tc := range []struct {
		name   string
		batch  aepwire.Batch
		wantMs int64 // 0: null
	}{
		{"the engine's ingest time", aepwire.Batch{IngestTime: 1_700_000_000_123, Completed: 1_700_000_000_200}, 1_700_000_000_123},
		{"AEP: completed", aepwire.Batch{Completed: 1_700_000_000_200}, 1_700_000_000_200},
		{"AEP: the metrics' end", aepwire.Batch{Metrics: &aepwire.BatchMetrics{EndTime: 1_700_000_000_300}}, 1_700_000_000_300},
		{"no time at all", aepwire.Batch{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.batch
			b.ID, b.Status = "b1", aepwire.BatchSuccess
			var m batchResourceModelV0
			m.ContentSHA256 = types.StringUnknown()
			diags := m.fill(context.Background(), &b)
			if diags.HasError() {
				t.Fatal(diags)
			}
			if tc.wantMs == 0 {
				if !m.IngestTimeMs.IsNull() || !m.IngestedAt.IsNull() {
					t.Errorf("ingest_time_ms %v, ingested_at %v; want both null", m.IngestTimeMs, m.IngestedAt)
				}
				if diags.WarningsCount() == 0 {
					t.Error("no warning that a filter set from ingested_at would be left out")
				}
				return
			}
			if m.IngestTimeMs.ValueInt64() != tc.wantMs || m.IngestedAt.ValueString() != formatMillis(tc.wantMs) {
				t.Errorf("ingest_time_ms %v, ingested_at %v; want %d", m.IngestTimeMs, m.IngestedAt, tc.wantMs)
			}
		})
	}
}
