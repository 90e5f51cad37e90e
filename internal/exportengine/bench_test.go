package exportengine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// The engine's Go benchmarks, on generated data of a few thousand people. `make bench` runs them
// with -benchmem beside the whole-process measurements of aepbench; `make test` runs each once.

const benchPeople = 3000

func benchData(b *testing.B) (string, sampledata.Counts) {
	b.Helper()
	dir := b.TempDir()
	c, err := sampledata.Generate(dir, sampledata.Options{Seed: 5, People: benchPeople, EventsPerPerson: 3})
	if err != nil {
		b.Fatal(err)
	}
	return dir, c
}

// ingestSample loads generated data into an engine: two profile datasets and an event dataset.
func ingestSample(b *testing.B, e *Engine, dir string) string {
	b.Helper()
	ctx := context.Background()
	mk := func(schema string) string {
		req := aepwire.DatasetRequest{Name: "d", SchemaRef: aepwire.SchemaRef{ID: schema}}
		if schema != aepwire.SchemaProfileUnion {
			req.Tags = map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}
		}
		ds, err := e.CreateDataset(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		return ds.ID
	}
	for file, schema := range map[string]string{sampledata.CRMFile: aepwire.SchemaProfile, sampledata.LoyaltyFile: aepwire.SchemaProfile,
		sampledata.EventsFile: aepwire.SchemaExperienceEvent} {
		ingestFile(b, e, mk(schema), filepath.Join(dir, file))
	}
	return mk(aepwire.SchemaProfileUnion)
}

func ingestFile(b *testing.B, e *Engine, dataset, path string) {
	b.Helper()
	ctx := context.Background()
	batch, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: dataset})
	if err != nil {
		b.Fatal(err)
	}
	f, err := openFile(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := e.UploadBatchFile(ctx, batch.ID, dataset, filepath.Base(path), f); err != nil {
		b.Fatal(err)
	}
	done, err := e.CompleteBatch(ctx, batch.ID)
	if err != nil || done.FailedRecordCount != 0 {
		b.Fatalf("%v %+v", err, done)
	}
}

func BenchmarkIngest(b *testing.B) {
	dir, c := benchData(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		e, err := Open(context.Background(), Options{DataDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ingestSample(b, e, dir)
		b.StopTimer()
		_ = e.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(c.Records())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func benchmarkExport(b *testing.B, req func(dest string) aepwire.ExportJobRequest) {
	dir, c := benchData(b)
	e, err := Open(context.Background(), Options{DataDir: b.TempDir(), RunJobs: true})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	dest := ingestSample(b, e, dir)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		job, err := e.CreateExportJob(ctx, req(dest), "")
		if err != nil {
			b.Fatal(err)
		}
		if job, err = e.WaitExportJob(ctx, job.ID, nil); err != nil || job.Status != aepwire.JobSucceeded {
			b.Fatalf("%v %+v", err, job)
		}
	}
	b.ReportMetric(float64(c.Records())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkExportPDGProjected(b *testing.B) {
	benchmarkExport(b, func(dest string) aepwire.ExportJobRequest {
		return aepwire.ExportJobRequest{
			Fields:           "identityMap,person.name,personalEmail.address,loyalty(tier,points)",
			MergePolicy:      &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultPDG},
			AdditionalFields: &aepwire.AdditionalFields{EventList: &aepwire.EventList{Fields: "timestamp,eventType"}},
			Destination:      aepwire.ExportDestination{DatasetID: dest},
			Schema:           aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		}
	})
}

func BenchmarkExportNoneWhole(b *testing.B) {
	benchmarkExport(b, func(dest string) aepwire.ExportJobRequest {
		return aepwire.ExportJobRequest{
			Destination: aepwire.ExportDestination{DatasetID: dest},
			Schema:      aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		}
	})
}

func openFile(path string) (*os.File, error) { return os.Open(path) }
