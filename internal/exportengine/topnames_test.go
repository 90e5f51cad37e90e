package exportengine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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
	if !first.namesKnown() || !slices.Equal(first.topNames, want) {
		t.Errorf("the CRM batch's names: %q (known %v), want %q", first.topNames, first.namesKnown(), want)
	}
	if first.plainStop != 1 || first.readsStop != reads.CountAmong(want) {
		t.Errorf("the CRM batch is read until %d names of a plain row and %d of the merger's, want 1 and %d",
			first.plainStop, first.readsStop, reads.CountAmong(want))
	}
	for _, b := range snap.batches[1:] {
		if b.namesKnown() || b.plainStop != -1 || b.readsStop != -1 {
			t.Errorf("batch of kind %d: names %q known %v, stops %d and %d; want unknown and read whole",
				b.kind, b.topNames, b.namesKnown(), b.plainStop, b.readsStop)
		}
	}
}

// What an export writes does not depend on whether the batches' top-level names are known: random
// batches of records with escaped and repeated names, names that differ only in their escapes,
// whitespace around records and members, JSON array files, two-file batches and refused records,
// exported with nested fields, segmentMembership and identityMap, under the default policy,
// dataSetPrecedence and pdg; then the same exports with the names forgotten.
func TestExportRowsDoNotDependOnKnownNames(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 7))
		ctx := context.Background()
		e := openEngine(t, Options{DataDir: t.TempDir(), RunJobs: true, Workers: 2})
		var datasets []string
		for range 3 {
			datasets = append(datasets, newDataset(t, e, aepwire.SchemaProfile, true))
		}
		dest := newDataset(t, e, aepwire.SchemaProfileUnion, false)
		for b := range 6 {
			ds := datasets[rng.IntN(len(datasets))]
			batch, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
			if err != nil {
				t.Fatal(err)
			}
			for f := range 1 + rng.IntN(2) {
				var recs []string
				for range 1 + rng.IntN(8) {
					recs = append(recs, randomRecord(rng, rng.IntN(30) == 0))
				}
				content := strings.Join(recs, ",\n")
				if rng.IntN(3) == 0 {
					content = "[\n" + content + "\n]"
				} else {
					content = strings.Join(recs, "\n") + "\n"
					if rng.IntN(5) == 0 {
						content += `{"identityMap":{"Email":[{"id":"bad@x.example"}]},"q":` + "\n" // refused
					}
				}
				name := fmt.Sprintf("f%d-%d.json", b, f)
				if err := e.UploadBatchFile(ctx, batch.ID, ds, name, strings.NewReader(content)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.CompleteBatch(ctx, batch.ID); err != nil {
				t.Fatal(err)
			}
		}
		precedence, err := e.CreateMergePolicy(ctx, aepwire.MergePolicy{Name: "precedence", IdentityGraph: aepwire.IdentityGraph{Type: aepwire.IdentityGraphNone},
			AttributeMerge: aepwire.AttributeMerge{Type: aepwire.AttributeMergeDataSetPrecedence, Order: []string{datasets[2], datasets[0], datasets[1]}}})
		if err != nil {
			t.Fatal(err)
		}
		var reqs []aepwire.ExportJobRequest
		for _, list := range []string{"a", "key", "a,b", "a.x,b.y", "c,key,a", "é", "a,segmentMembership", "b.x,é,key,a,c", "identityMap,a"} {
			for _, policy := range []string{aepwire.MergePolicyDefaultNone, precedence.ID, aepwire.MergePolicyDefaultPDG} {
				reqs = append(reqs, aepwire.ExportJobRequest{Fields: list, MergePolicy: &aepwire.MergePolicyRef{ID: policy},
					Destination: aepwire.ExportDestination{DatasetID: dest}, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}})
			}
		}
		var known int
		if err := e.store.DB().QueryRowContext(ctx, `SELECT count(*) FROM batches WHERE top_names IS NOT NULL`).Scan(&known); err != nil {
			t.Fatal(err)
		}
		if known == 0 {
			t.Fatalf("seed %d: no batch has its names", seed)
		}
		var withNames [][]string
		for _, req := range reqs {
			withNames = append(withNames, exportSorted(t, e, req))
		}
		if _, err := e.store.DB().ExecContext(ctx, `UPDATE batches SET top_names = NULL`); err != nil {
			t.Fatal(err)
		}
		for i, req := range reqs {
			if whole := exportSorted(t, e, req); !slices.Equal(whole, withNames[i]) {
				t.Errorf("seed %d, fields %q, policy %s:\n names known %q\n read whole  %q", seed, req.Fields, req.MergePolicy.ID, withNames[i], whole)
			}
		}
	}
}

// randomRecord is a profile record of a few top-level names, some written with escapes; with
// repeats, a name may come twice.
func randomRecord(rng *rand.Rand, repeats bool) string {
	names := []string{`a`, `b`, `key`, `k\u0065y`, `\u0061`, `c`, `segmentMembership`, ``, `\ud800`, `\ud800\u0061`, `é`, `\u00e9`, `x y`}
	space := func() string { return []string{"", "", "", " ", "\t", " \r ", "  "}[rng.IntN(7)] }
	// Most people have one record (a profile of one fragment is written from its bytes), some
	// several, and a few records link two people.
	identities := fmt.Sprintf(`{"id":"p%d@x.example"}`, rng.IntN(60))
	if rng.IntN(8) == 0 {
		identities += fmt.Sprintf(`,{"id":"p%d@x.example"}`, rng.IntN(60))
	}
	members := []string{`"identityMap":{"Email":[` + identities + `]}`}
	used := map[string]bool{}
	for range rng.IntN(6) {
		n := names[rng.IntN(len(names))]
		if used[n] && !repeats {
			continue
		}
		used[n] = true
		v := randomValue(rng, 0, space)
		if n == "segmentMembership" {
			v = `{"ups":{"s1":{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"}}}`
		}
		members = append(members, `"`+n+`"`+space()+":"+space()+v)
	}
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	return space() + "{" + space() + strings.Join(members, space()+","+space()) + space() + "}" + space()
}

func randomValue(rng *rand.Rand, depth int, space func() string) string {
	switch rng.IntN(8) {
	case 0:
		return "null"
	case 1:
		return fmt.Sprint(rng.IntN(100))
	case 2:
		return fmt.Sprintf(`"s%d"`, rng.IntN(5))
	case 3:
		return `"e\u0041\"}"`
	case 4:
		if depth > 2 {
			return "1"
		}
		return "[" + randomValue(rng, depth+1, space) + "," + randomValue(rng, depth+1, space) + "]"
	}
	if depth > 2 {
		return "true"
	}
	var members []string
	for _, n := range []string{"x", "y", `\u0078`, "z"} {
		if rng.IntN(2) == 0 {
			members = append(members, space()+`"`+n+`"`+space()+":"+space()+randomValue(rng, depth+1, space))
		}
	}
	return "{" + strings.Join(members, ",") + space() + "}"
}

// exportSorted runs an export job to its end and returns its rows, sorted.
func exportSorted(t *testing.T, e *Engine, req aepwire.ExportJobRequest) []string {
	t.Helper()
	ctx := context.Background()
	job, err := e.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	job, err = e.WaitExportJob(ctx, job.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if job.Status != aepwire.JobSucceeded {
		t.Fatalf("export job %s: %+v", job.Status, job.Errors)
	}
	rows := exportedRows(t, e, job.Destination.BatchID)
	slices.Sort(rows)
	return rows
}
