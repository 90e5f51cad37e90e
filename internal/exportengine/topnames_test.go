package exportengine

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
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
	below := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, below, `{"identityMap":{"Email":[{"id":"d@x.example"}]},"loyalty":{"points":1,"points":2}}`)
	web := newDataset(t, e, aepwire.SchemaExperienceEvent, true)
	ingestLines(t, e, web, `{"_id":"e1","timestamp":"2026-01-01T00:00:00Z","identityMap":{"Email":[{"id":"a@x.example"}]}}`)

	snap, err := e.openSnapshot(ctx, e.home)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.close()
	if len(snap.batches) != 4 {
		t.Fatalf("%d batches in the profile store, want 4", len(snap.batches))
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
	if first.plainStop != 1 || first.readsStop != reads.CountAmong(want) || !first.uniqueNames {
		t.Errorf("the CRM batch is read until %d names of a plain row and %d of the merger's, unique names %v; want 1, %d and true",
			first.plainStop, first.readsStop, first.uniqueNames, reads.CountAmong(want))
	}
	// A batch whose records repeat a name in a member object has its names, but not unique.
	if b := snap.batches[2]; !b.namesKnown() || b.uniqueNames {
		t.Errorf("a batch with a name twice in loyalty: names %q (known %v), unique %v; want known and not unique",
			b.topNames, b.namesKnown(), b.uniqueNames)
	}
	// The CRM batch's fragments are each their own whole row; those that repeat a name are not,
	// and events are not fragments.
	for i, want := range []bool{true, false, false, false} {
		if b := snap.batches[i]; b.asIs != want {
			t.Errorf("batch %d of kind %d as is: %v, want %v", i, b.kind, b.asIs, want)
		}
	}
	for _, b := range []*snapBatch{snap.batches[1], snap.batches[3]} {
		if b.namesKnown() || b.uniqueNames || b.plainStop != -1 || b.readsStop != -1 {
			t.Errorf("batch of kind %d: names %q known %v, unique %v, stops %d and %d; want unknown and read whole",
				b.kind, b.topNames, b.namesKnown(), b.uniqueNames, b.plainStop, b.readsStop)
		}
	}
}

// A batch whose records name no member twice in any object is read, in a plain row, only until
// a member object has met the names selected in it; a batch where one does is read to each
// object's end, and the last of a name counts, as it does in a merge.
func TestUniqueNamesLeaveMemberObjects(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, Options{DataDir: t.TempDir(), RunJobs: true, Workers: 2})
	unique := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, unique,
		`{"identityMap":{"Email":[{"id":"a@x.example"}]},"p":{"x":1,"y":{"x":0},"z":3},"q":{"x":4},"r":5}`,
		`{"identityMap":{"Email":[{"id":"b@x.example"}]},"q":{"y":6},"p":{"z":7,"x":8}}`)
	repeated := newDataset(t, e, aepwire.SchemaProfile, true)
	ingestLines(t, e, repeated,
		`{"identityMap":{"Email":[{"id":"c@x.example"}]},"p":{"x":1,"x":2},"q":{"x":4}}`,
		`{"identityMap":{"Email":[{"id":"d@x.example"}]},"p":{"x":1,"\u0078":3}}`)
	flags, err := store.All(ctx, e.store.DB(), func(row store.Scanner) (bool, error) {
		var u sql.NullInt64
		err := row.Scan(&u)
		return u.Valid && u.Int64 == 1, err
	}, `SELECT unique_names FROM batches ORDER BY ingest_time_ms`)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flags, []bool{true, false}) {
		t.Errorf("the batches' names unique: %v, want [true false]", flags)
	}
	dest := newDataset(t, e, aepwire.SchemaProfileUnion, false)
	got := exportSorted(t, e, aepwire.ExportJobRequest{Fields: "p.x,q.x", MergePolicy: &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultNone},
		Destination: aepwire.ExportDestination{DatasetID: dest}, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}})
	want := []string{`{"p":{"x":1},"q":{"x":4}}`, `{"p":{"x":2},"q":{"x":4}}`, `{"p":{"x":3}}`, `{"p":{"x":8}}`}
	if !slices.Equal(got, want) {
		t.Errorf("rows %q, want %q", got, want)
	}
}

// What an export writes does not depend on whether the batches' top-level names are known, nor
// on whether they are unique, nor on whether their fragments are as is: random batches of records
// with escaped and repeated names, names that differ only in their escapes (at the top level and
// below it), whitespace around records and members, nulls, JSON array files, two-file batches and
// refused records, and batches of plain records (some of them as is), exported with nested
// fields, segmentMembership and identityMap, and whole, under the default policy,
// dataSetPrecedence and pdg; then the same exports with the fragments as is forgotten, with the
// names' uniqueness forgotten, and then with the names forgotten.
func TestExportRowsDoNotDependOnKnownNames(t *testing.T) {
	allKnown, allUnique, allAsIs := 0, 0, 0
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
			below := rng.IntN(2) == 0 // names repeated in objects, in some of the batches
			plain := rng.IntN(3) == 0 // no space, escape or null, in some others
			for f := range 1 + rng.IntN(2) {
				var recs []string
				for range 1 + rng.IntN(8) {
					recs = append(recs, randomRecord(rng, rng.IntN(30) == 0, below, plain))
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
		for _, list := range []string{"a", "key", "a,b", "a.x,b.y", "c,key,a", "é", "a,segmentMembership", "b.x,é,key,a,c", "identityMap,a", "a.x,b.x,c.x,key.x,é.x", ""} {
			for _, policy := range []string{aepwire.MergePolicyDefaultNone, precedence.ID, aepwire.MergePolicyDefaultPDG} {
				reqs = append(reqs, aepwire.ExportJobRequest{Fields: list, MergePolicy: &aepwire.MergePolicyRef{ID: policy},
					Destination: aepwire.ExportDestination{DatasetID: dest}, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}})
			}
		}
		var known, unique, asIs int
		if err := e.store.DB().QueryRowContext(ctx, `SELECT count(top_names), count(unique_names), count(as_is) FROM batches`).Scan(&known, &unique, &asIs); err != nil {
			t.Fatal(err)
		}
		if known == 0 {
			t.Fatalf("seed %d: no batch has its names", seed)
		}
		allKnown, allUnique, allAsIs = allKnown+known, allUnique+unique, allAsIs+asIs
		var withNames [][]string
		for _, req := range reqs {
			withNames = append(withNames, exportSorted(t, e, req))
		}
		for _, forget := range []string{`UPDATE batches SET as_is = NULL`, `UPDATE batches SET unique_names = NULL`, `UPDATE batches SET top_names = NULL`} {
			if _, err := e.store.DB().ExecContext(ctx, forget); err != nil {
				t.Fatal(err)
			}
			for i, req := range reqs {
				if got := exportSorted(t, e, req); !slices.Equal(got, withNames[i]) {
					t.Errorf("seed %d, fields %q, policy %s, after %q:\n as ingested %q\n now         %q",
						seed, req.Fields, req.MergePolicy.ID, forget, withNames[i], got)
				}
			}
		}
	}
	if allUnique == 0 || allUnique == allKnown || allAsIs == 0 || allAsIs == allKnown {
		t.Errorf("%d batches had their names, %d of them unique, %d as is; want some of each", allKnown, allUnique, allAsIs)
	}
}

// randomRecord is a profile record of a few top-level names, some written with escapes; with
// repeats, a top-level name may come twice, and with below, a name of an object below. A plain
// one has no space, escape or null.
func randomRecord(rng *rand.Rand, repeats, below, plain bool) string {
	names := []string{`a`, `b`, `key`, `k\u0065y`, `\u0061`, `c`, `segmentMembership`, ``, `\ud800`, `\ud800\u0061`, `é`, `\u00e9`, `x y`}
	space := func() string { return []string{"", "", "", " ", "\t", " \r ", "  "}[rng.IntN(7)] }
	if plain {
		names = []string{`a`, `b`, `key`, `c`, `segmentMembership`, ``, `x y`}
		space = func() string { return "" }
	}
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
		v := randomValue(rng, 0, space, below, plain)
		if n == "segmentMembership" {
			v = `{"ups":{"s1":{"status":"realized","lastQualificationTime":"2026-01-01T00:00:00Z"}}}`
		}
		members = append(members, `"`+n+`"`+space()+":"+space()+v)
	}
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	return space() + "{" + space() + strings.Join(members, space()+","+space()) + space() + "}" + space()
}

func randomValue(rng *rand.Rand, depth int, space func() string, repeats, plain bool) string {
	switch rng.IntN(8) {
	case 0:
		if plain {
			return "false"
		}
		return "null"
	case 1:
		return fmt.Sprint(rng.IntN(100))
	case 2:
		return fmt.Sprintf(`"s%d"`, rng.IntN(5))
	case 3:
		if plain {
			return `"e}"`
		}
		return `"e\u0041\"}"`
	case 4:
		if depth > 2 {
			return "1"
		}
		return "[" + randomValue(rng, depth+1, space, repeats, plain) + "," + randomValue(rng, depth+1, space, repeats, plain) + "]"
	}
	if depth > 2 {
		return "true"
	}
	var members []string
	x := []string{[]string{"x", `\u0078`}[rng.IntN(2)]}
	switch {
	case repeats && plain:
		x = []string{"x", "x"}
	case repeats:
		x = []string{"x", `\u0078`} // x twice, once escaped
	case plain:
		x = []string{"x"}
	}
	for _, n := range [][]string{x, {"y"}, {"z"}} {
		if rng.IntN(2) == 0 {
			for _, n := range n {
				members = append(members, space()+`"`+n+`"`+space()+":"+space()+randomValue(rng, depth+1, space, repeats, plain))
			}
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
