package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

var inputFiles = []string{sampledata.CRMFile, sampledata.LoyaltyFile, sampledata.EventsFile}

// runStep runs one measurement in this process and reports it as JSON on stdout.
func runStep(args []string) error {
	if len(args) == 0 {
		return errors.New("no step")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	data := fs.String("data", "", "generated data directory")
	engineDir := fs.String("engine", "", "engine data directory")
	people := fs.Int("people", 0, "people in the data")
	events := fs.Float64("events-per-person", 3, "events a person")
	policy := fs.String("policy", aepwire.MergePolicyDefaultPDG, "merge policy of the export")
	fieldList := fs.String("fields", "", "fields of the export")
	eventFields := fs.String("event-fields", "", "fields of the event list")
	withEvents := fs.Bool("events", true, "export an event list")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx := context.Background()
	// AEPBENCH_PROFILE=DIR writes a CPU and a heap profile of each step into DIR.
	if dir := os.Getenv("AEPBENCH_PROFILE"); dir != "" {
		name := filepath.Join(dir, args[0]+"-"+strconv.Itoa(*people))
		f, err := os.Create(name + ".cpu.prof")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
			if h, err := os.Create(name + ".heap.prof"); err == nil {
				_ = pprof.Lookup("heap").WriteTo(h, 0)
				_ = h.Close()
			}
		}()
	}
	switch args[0] {
	case "gen":
		return stepGenerate(*data, *people, *events)
	case "ingest":
		return stepIngest(ctx, *data, *engineDir, *people)
	case "export":
		return stepExport(ctx, *engineDir, *people, *policy, *fieldList, *eventFields, *withEvents)
	case "floor-io":
		return stepFloorIO(*data, *people)
	case "floor-json":
		return stepFloorJSON(*data, *people)
	}
	return fmt.Errorf("unknown step %q", args[0])
}

// stepGenerate writes the data unless a complete copy is there already.
func stepGenerate(dir string, people int, events float64) error {
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return report(&measurement{What: "generate (cached)", People: people, Bytes: dirSize(dir)})
	}
	start := time.Now()
	c, err := sampledata.Generate(dir, sampledata.Options{Seed: 1, People: people, EventsPerPerson: events, ResentEvents: 0.01})
	if err != nil {
		return err
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		return err
	}
	return report(&measurement{What: "generate", People: people, Records: int64(c.Records()), Bytes: c.Bytes, Seconds: since(start)})
}

// stepIngest creates the datasets and ingests the three files, as the batch resource does:
// create, upload, complete.
func stepIngest(ctx context.Context, data, engineDir string, people int) error {
	if err := os.RemoveAll(engineDir); err != nil {
		return err
	}
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: engineDir})
	if err != nil {
		return err
	}
	defer e.Close()
	enabled := map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}
	datasets := map[string]string{}
	for name, schema := range map[string]string{"crm": aepwire.SchemaProfile, "loyalty": aepwire.SchemaProfile,
		"web": aepwire.SchemaExperienceEvent, "export": aepwire.SchemaProfileUnion} {
		req := aepwire.DatasetRequest{Name: name, SchemaRef: aepwire.SchemaRef{ID: schema}}
		if schema != aepwire.SchemaProfileUnion {
			req.Tags = enabled
		}
		ds, err := e.CreateDataset(ctx, req)
		if err != nil {
			return err
		}
		datasets[name] = ds.ID
	}
	start := time.Now()
	var records, size int64
	for file, dataset := range map[string]string{sampledata.CRMFile: "crm", sampledata.LoyaltyFile: "loyalty", sampledata.EventsFile: "web"} {
		b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: datasets[dataset]})
		if err != nil {
			return err
		}
		f, err := os.Open(filepath.Join(data, file))
		if err != nil {
			return err
		}
		err = e.UploadBatchFile(ctx, b.ID, datasets[dataset], file, f)
		f.Close()
		if err != nil {
			return err
		}
		done, err := e.CompleteBatch(ctx, b.ID)
		if err != nil {
			return err
		}
		if done.FailedRecordCount != 0 {
			return fmt.Errorf("%s: %d records refused: %v", file, done.FailedRecordCount, done.Errors)
		}
		records += done.RecordCount
		size += done.Size
	}
	return report(&measurement{What: "ingest", People: people, Records: records, Bytes: size, Seconds: since(start)})
}

func stepExport(ctx context.Context, engineDir string, people int, policy, fieldList, eventFields string, withEvents bool) error {
	if os.Getenv("GOMEMLIMIT") == "" { // as in the worker process that runs jobs for the provider
		debug.SetMemoryLimit(exportengine.MemoryLimit)
	}
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: engineDir, RunJobs: true})
	if err != nil {
		return err
	}
	defer e.Close()
	list, err := e.ListDatasets(ctx)
	if err != nil {
		return err
	}
	var dest string
	for _, ds := range list {
		if ds.Name == "export" {
			dest = ds.ID
		}
	}
	req := aepwire.ExportJobRequest{
		Fields:      fieldList,
		MergePolicy: &aepwire.MergePolicyRef{ID: policy},
		Destination: aepwire.ExportDestination{DatasetID: dest},
		Schema:      aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
	}
	if withEvents {
		req.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{Fields: eventFields}}
	}
	start := time.Now()
	job, err := e.CreateExportJob(ctx, req, "")
	if err != nil {
		return err
	}
	job, err = e.WaitExportJob(ctx, job.ID, nil)
	if err != nil {
		return err
	}
	wall := since(start)
	if job.Status != aepwire.JobSucceeded {
		return fmt.Errorf("export job %d ended %s: %v", job.ID, job.Status, job.Errors)
	}
	m := job.Metrics
	return report(&measurement{What: "export", People: people, Records: *m.TotalExportedProfileCounter + *m.ExportedEventCounter,
		Bytes: inputBytes(engineDir), Seconds: wall, JobSeconds: float64(m.TotalTime.TotalTimeInMs) / 1000,
		Note: fmt.Sprintf("%d rows, %d events, %d MB written", *m.TotalExportedProfileCounter, *m.ExportedEventCounter, *m.BytesWritten>>20)})
}

// inputBytes is the size of the ingested files: what an export reads.
func inputBytes(engineDir string) int64 {
	var n int64
	files, _ := filepath.Glob(filepath.Join(engineDir, "batches", "*", "files", "*.json"))
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !isPart(f) {
			n += st.Size()
		}
	}
	return n
}

func isPart(path string) bool { return strings.HasPrefix(filepath.Base(path), "part-") }

// stepFloorIO reads the input files: the I/O floor.
func stepFloorIO(data string, people int) error {
	start := time.Now()
	var size int64
	for _, name := range inputFiles {
		f, err := os.Open(filepath.Join(data, name))
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, f)
		f.Close()
		if err != nil {
			return err
		}
		size += n
	}
	return report(&measurement{What: "floor: read the input", People: people, Bytes: size, Seconds: since(start)})
}

// stepFloorJSON decodes every record and encodes it again, with no merge, on every core: the
// JSON floor the export is compared with.
func stepFloorJSON(data string, people int) error {
	start := time.Now()
	type chunk struct{ buf []byte }
	chunks := make(chan chunk, runtime.NumCPU()*2)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var records, out int64
	var firstErr error
	for range runtime.NumCPU() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p fastjson.Parser
			var enc []byte
			var n, bytesOut int64
			for c := range chunks {
				for _, line := range bytes.Split(c.buf, []byte("\n")) {
					if len(line) == 0 {
						continue
					}
					v, err := p.ParseBytes(line)
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						continue
					}
					enc = append(fields.AppendValue(enc[:0], v), '\n')
					bytesOut += int64(len(enc))
					n++
				}
			}
			mu.Lock()
			records += n
			out += bytesOut
			mu.Unlock()
		}()
	}
	var size int64
	for _, name := range inputFiles {
		f, err := os.Open(filepath.Join(data, name))
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		batch := make([]byte, 0, 1<<20+64<<10)
		for sc.Scan() {
			batch = append(append(batch, sc.Bytes()...), '\n')
			size += int64(len(sc.Bytes())) + 1
			if len(batch) >= 1<<20 {
				chunks <- chunk{batch}
				batch = make([]byte, 0, 1<<20+64<<10)
			}
		}
		if len(batch) > 0 {
			chunks <- chunk{batch}
		}
		if err := sc.Err(); err != nil {
			return err
		}
		f.Close()
	}
	close(chunks)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return report(&measurement{What: "floor: decode + encode", People: people, Records: records, Bytes: size, Seconds: since(start)})
}
