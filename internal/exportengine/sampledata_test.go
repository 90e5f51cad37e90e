package exportengine

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// The generated sample data is valid XDM: every record is accepted, and every re-sent event
// supersedes its first delivery.
func TestSampleDataIngestsCleanly(t *testing.T) {
	e, _ := openTestEngine(t)
	dir := t.TempDir()
	opts := sampledata.Options{Seed: 3, People: 400, EventsPerPerson: 2, ResentEvents: 0.1}
	counts, err := sampledata.Generate(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file   string
		schema string
		want   int
	}{
		{sampledata.CRMFile, aepwire.SchemaProfile, counts.CRM},
		{sampledata.LoyaltyFile, aepwire.SchemaProfile, counts.Loyalty},
		{sampledata.EventsFile, aepwire.SchemaExperienceEvent, counts.Events},
	} {
		ds := newDataset(t, e, tc.schema, true)
		b := ingest(t, e, ds, filepath.Join(dir, tc.file))
		if b.Status != aepwire.BatchSuccess || b.RecordCount != int64(tc.want) || b.FailedRecordCount != 0 {
			t.Errorf("%s: %s, %d accepted, %d failed (%v); want all %d accepted", tc.file, b.Status, b.RecordCount,
				b.FailedRecordCount, b.Errors, tc.want)
		}
	}
	snap, err := e.openSnapshot(context.Background(), e.home)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.close()
	var tombstoned uint64
	for _, b := range snap.batches {
		if b.kind == record.Event {
			tombstoned = b.seg.Stats().Tombstoned
		}
	}
	if tombstoned == 0 || int(tombstoned) != counts.Resent {
		t.Errorf("%d events were superseded within the batch, want the %d re-sent ones", tombstoned, counts.Resent)
	}
}
