package exportengine

import (
	"context"
	"slices"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// A profile batch keeps its records' top-level names, and an export reads each record of it only
// until it has met the names it selects that the batch has; a batch whose records repeat a name,
// or an event batch, is read whole.
func TestBatchTopNamesSetHowFarExportsRead(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, Options{DataDir: t.TempDir()})
	crm := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, crm,
		`{"identityMap":{"Email":[{"id":"a@x.example"}]},"personalEmail":{"address":"a@x.example"},"person":{"name":"A"}}`,
		`{"identityMap":{"Email":[{"id":"b@x.example"}]},"person":{"name":"B"},"homeAddress":{"city":"Paris"}}`)
	repeats := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, repeats, `{"identityMap":{"Email":[{"id":"c@x.example"}]},"loyalty":{"points":1},"loyalty":{"points":2}}`)
	web := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	ingestLines(t, e, web, `{"_id":"e1","timestamp":"2026-01-01T00:00:00Z","identityMap":{"Email":[{"id":"a@x.example"}]}}`)

	snap, err := e.openSnapshot(ctx, e.home)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.close()
	if len(snap.batches) != 3 {
		t.Fatalf("%d batches in the profile store, want 3", len(snap.batches))
	}
	sel, err := fields.Parse("personalEmail.address,loyalty.points")
	if err != nil {
		t.Fatal(err)
	}
	spec := &exportSpec{profileFields: sel}
	reads := spec.reads()
	spec.setStops(snap, reads)

	want := []string{"homeAddress", "identityMap", "person", "personalEmail"}
	first := snap.batches[0]
	if !first.namesKnown || !slices.Equal(first.topNames, want) {
		t.Errorf("the CRM batch's names: %q (known %v), want %q", first.topNames, first.namesKnown, want)
	}
	if first.plainStop != 1 || first.readsStop != reads.CountAmong(want) {
		t.Errorf("the CRM batch is read until %d names of a plain row and %d of the merger's, want 1 and %d",
			first.plainStop, first.readsStop, reads.CountAmong(want))
	}
	for _, b := range snap.batches[1:] {
		if b.namesKnown || b.plainStop != -1 || b.readsStop != -1 {
			t.Errorf("batch of kind %d: names %q known %v, stops %d and %d; want unknown and read whole",
				b.kind, b.topNames, b.namesKnown, b.plainStop, b.readsStop)
		}
	}
}
