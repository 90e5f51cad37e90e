package exportengine

import (
	"slices"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// Events at the same instant with the same _id (possible across datasets) are ordered by dataset.
func TestEventOrder(t *testing.T) {
	a := &snapBatch{datasetID: "aaa"}
	b := &snapBatch{datasetID: "bbb"}
	ev := func(ts int64, id string, batch *snapBatch) *storedRecord {
		return &storedRecord{kind: record.Event, timestamp: ts, eventID: id, batch: batch}
	}
	events := []*storedRecord{ev(2, "x", a), ev(1, "z", b), ev(2, "w", b), ev(2, "x", b), ev(2, "w", a)}
	var w exportWorker
	slices.SortFunc(events, w.compareEvents)
	var got []string
	for _, e := range events {
		got = append(got, e.eventID+"/"+e.batch.datasetID)
	}
	want := []string{"z/bbb", "w/aaa", "w/bbb", "x/aaa", "x/bbb"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}
