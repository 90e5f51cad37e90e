package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	enginejobs "github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// pipeline is the configuration the crash tests apply: the three sample files ingested into
// profile-enabled datasets, and one export job of whole profiles with their events.
func pipeline(provider, data string) string { return pipelineNamed(provider, data, "") }

// pipelineNamed is pipeline with its datasets' names prefixed, so that two can share a data
// directory.
func pipelineNamed(provider, data, prefix string) string {
	return provider + fmt.Sprintf(`
terraform {
  required_providers {
    experienceplatform = { source = "aepkit/experienceplatform" }
  }
}

locals {
  sources = {
    crm     = { schema = "https://ns.adobe.com/xdm/context/profile", file = %[1]q }
    loyalty = { schema = "https://ns.adobe.com/xdm/context/profile", file = %[2]q }
    web     = { schema = "https://ns.adobe.com/xdm/context/experienceevent", file = %[3]q }
  }
}

resource "experienceplatform_dataset" "source" {
  for_each        = local.sources
  name            = "%[4]s${each.key}"
  schema_ref      = { id = each.value.schema }
  profile_enabled = true
}

resource "experienceplatform_batch" "source" {
  for_each   = local.sources
  dataset_id = experienceplatform_dataset.source[each.key].id
  files      = [each.value.file]
}

resource "experienceplatform_dataset" "export" {
  name       = "%[4]sexport"
  schema_ref = { id = "https://ns.adobe.com/xdm/context/profile__union" }
}

resource "experienceplatform_export_job" "profiles" {
  destination = { dataset_id = experienceplatform_dataset.export.id }
  event_list  = {}
  triggers    = { for k, b in experienceplatform_batch.source : k => b.id }
}

output "job" {
  value = {
    id       = experienceplatform_export_job.profiles.id
    profiles = experienceplatform_export_job.profiles.metrics.exported_profile_count
    events   = experienceplatform_export_job.profiles.metrics.exported_event_count
  }
}
`, filepath.Join(data, sampledata.CRMFile), filepath.Join(data, sampledata.LoyaltyFile), filepath.Join(data, sampledata.EventsFile), prefix)
}

type jobOutput struct {
	ID       string `json:"id"`
	Profiles int64  `json:"profiles"`
	Events   int64  `json:"events"`
}

// expected is what a clean run of the pipeline ingests and exports, found by running the engine
// directly on a fresh data directory.
type expected struct {
	records          map[string]int64 // by source: crm, loyalty, web
	profiles, events int64
}

var (
	referenceMu sync.Mutex
	references  = map[int]*expected{}
)

func reference(t *testing.T, people int) *expected {
	t.Helper()
	referenceMu.Lock()
	defer referenceMu.Unlock()
	if ref, ok := references[people]; ok {
		return ref
	}
	data, counts := sampleData(t, people)
	ctx := context.Background()
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: t.TempDir(), RunJobs: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ref := &expected{records: map[string]int64{"crm": int64(counts.CRM), "loyalty": int64(counts.Loyalty), "web": int64(counts.Events)}}
	for name, src := range map[string]struct{ schema, file string }{
		"crm": {aepwire.SchemaProfile, sampledata.CRMFile}, "loyalty": {aepwire.SchemaProfile, sampledata.LoyaltyFile},
		"web": {aepwire.SchemaExperienceEvent, sampledata.EventsFile},
	} {
		ds, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: name, SchemaRef: aepwire.SchemaRef{ID: src.schema},
			Tags: map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(filepath.Join(data, src.file))
		if err != nil {
			t.Fatal(err)
		}
		err = e.UploadBatchFile(ctx, b.ID, ds.ID, src.file, f)
		_ = f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if done, err := e.CompleteBatch(ctx, b.ID); err != nil || done.RecordCount != ref.records[name] {
			t.Fatalf("reference ingestion of %s: %+v, %v", name, done, err)
		}
	}
	dest, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "export", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := e.CreateExportJob(ctx, aepwire.ExportJobRequest{
		Destination:      aepwire.ExportDestination{DatasetID: dest.ID},
		Schema:           aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		AdditionalFields: &aepwire.AdditionalFields{EventList: &aepwire.EventList{}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	done, err := e.WaitExportJob(ctx, job.ID, nil)
	if err != nil || done.Status != aepwire.JobSucceeded {
		t.Fatalf("reference export: %+v, %v", done, err)
	}
	ref.profiles = *done.Metrics.TotalExportedProfileCounter
	ref.events = *done.Metrics.ExportedEventCounter
	references[people] = ref
	return ref
}

// checkStore checks, in an engine's database, that every source dataset holds each record of
// its file exactly once in successful batches, that no other batch of it holds records, and
// returns the records lost and duplicated.
func checkStore(t *testing.T, dataDir string, ref *expected) (lost, duplicated int64) {
	return checkStoreNamed(t, dataDir, ref, "")
}

func checkStoreNamed(t *testing.T, dataDir string, ref *expected, prefix string) (lost, duplicated int64) {
	t.Helper()
	d := db(t, dataDir)
	for name, want := range ref.records {
		ds := queryString(t, d, `SELECT id FROM datasets WHERE name = ?`, prefix+name)
		got := queryInt(t, d, `SELECT SUM(record_count) FROM batches WHERE dataset_id = ? AND status = 'success'`, ds)
		hidden := queryInt(t, d, `SELECT COALESCE(SUM(record_count), 0) FROM batches WHERE dataset_id = ? AND status != 'success'`, ds)
		if hidden != 0 {
			t.Errorf("dataset %s: batches that did not succeed hold %d records", name, hidden)
		}
		if got < want {
			lost += want - got
			t.Errorf("dataset %s: %d records in successful batches, want %d", name, got, want)
		} else if got > want {
			duplicated += got - want
			t.Errorf("dataset %s: %d records in successful batches, want %d", name, got, want)
		}
	}
	return lost, duplicated
}

// checkJob compares a job's exported counts with the reference run's.
func checkJob(t *testing.T, what string, profiles, events int64, ref *expected) (lost, duplicated int64) {
	t.Helper()
	for _, c := range []struct {
		name      string
		got, want int64
	}{{"profiles", profiles, ref.profiles}, {"events", events, ref.events}} {
		if c.got != c.want {
			t.Errorf("%s exported %d %s, a clean run %d", what, c.got, c.name, c.want)
		}
		if c.got < c.want {
			lost += c.want - c.got
		} else {
			duplicated += c.got - c.want
		}
	}
	return lost, duplicated
}

// jobRow is an export job of a data directory, with its status and exported counts.
type jobRow struct {
	id               int64
	status, warnings string
	errors           string
	profiles, events int64
}

func jobs(t *testing.T, dataDir string) []jobRow {
	t.Helper()
	d := db(t, dataDir)
	rows, err := d.Query(`SELECT id, status, warnings, errors,
		COALESCE(json_extract(metrics, '$.totalExportedProfileCounter'), 0),
		COALESCE(json_extract(metrics, '$.exportedEventCounter'), 0) FROM export_jobs ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []jobRow
	for rows.Next() {
		var j jobRow
		if err := rows.Scan(&j.id, &j.status, &j.warnings, &j.errors, &j.profiles, &j.events); err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

// awaitJobsEnded waits until every job of a data directory has ended. A job that a runner holds
// ends when the runner lets go of the job's lock file, which the wait takes; one that waits for a
// runner (NEW, or PROCESSING after its runner died) is looked at again shortly.
func awaitJobsEnded(t *testing.T, dataDir string, timeout time.Duration) []jobRow {
	t.Helper()
	locks := enginejobs.NewLocks(dataDir)
	deadline := time.After(timeout)
	for {
		all := jobs(t, dataDir)
		i := slices.IndexFunc(all, func(j jobRow) bool { return !aepwire.JobTerminal(j.status) })
		if i < 0 {
			return all
		}
		var again <-chan time.Time
		released, held := locks.WatchJob(all[i].id)
		if !held {
			again = time.After(20 * time.Millisecond)
		}
		select {
		case <-released:
		case <-again:
		case <-deadline:
			t.Fatalf("jobs still running after %s: %+v", timeout, all)
		}
	}
}

// segmentBeingWritten reports whether an ingestion is writing a profile segment now.
func segmentBeingWritten(dataDir string) bool {
	m, _ := filepath.Glob(filepath.Join(dataDir, "batches", "*", "profile.seg.tmp"))
	return len(m) > 0
}

// jobProcessing reports whether an export job is PROCESSING now.
func jobProcessing(t *testing.T, dataDir string) bool {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dataDir, "aep.db")); err != nil {
		return false
	}
	d := db(t, dataDir)
	var n int64
	if err := d.QueryRow(`SELECT COUNT(*) FROM export_jobs WHERE status = 'PROCESSING'`).Scan(&n); err != nil {
		return false // not created yet
	}
	return n > 0
}

func describeJobs(all []jobRow) string {
	var parts []string
	for _, j := range all {
		s := fmt.Sprintf("job %d %s", j.id, j.status)
		if strings.Contains(j.warnings, "EXPORT-1003") {
			s += " (resumed)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}
