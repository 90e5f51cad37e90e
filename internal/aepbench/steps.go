package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strconv"
	"strings"
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
	rows := fs.String("rows", "", "export: copy the exported rows here (after the measurement)")
	graphFrom := fs.String("graph", "built", "export through the identity graph: built (the kept graph dropped first) or kept (read from the export before)")
	files := fs.String("files", strings.Join(inputFiles, ","), "floors: the generated files to read")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q: a step takes flags only", args[0], fs.Arg(0))
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
	// AEPBENCH_TRACE=DIR writes an execution trace of each step into DIR.
	if dir := os.Getenv("AEPBENCH_TRACE"); dir != "" {
		f, err := os.Create(filepath.Join(dir, args[0]+"-"+strconv.Itoa(*people)+".trace"))
		if err != nil {
			return err
		}
		if err := trace.Start(f); err != nil {
			return err
		}
		defer func() {
			trace.Stop()
			_ = f.Close()
		}()
	}
	switch args[0] {
	case "gen":
		return stepGenerate(*data, *people, *events)
	case "ingest":
		return stepIngest(ctx, *data, *engineDir, *people)
	case "export":
		return stepExport(ctx, *engineDir, *people, exportOptions{*policy, *fieldList, *eventFields, *withEvents, *rows, *graphFrom})
	case "floor-io":
		return stepFloorIO(*data, *people, strings.Split(*files, ","))
	case "floor-json":
		return stepFloorJSON(*data, *people, strings.Split(*files, ","))
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
	// In this order, one batch a file, as the peer loads them: later batches rank higher under
	// timestampOrdered.
	for _, fd := range []struct{ file, dataset string }{
		{sampledata.CRMFile, "crm"}, {sampledata.LoyaltyFile, "loyalty"}, {sampledata.EventsFile, "web"},
	} {
		file, dataset := fd.file, fd.dataset
		if _, err := os.Stat(filepath.Join(data, file)); errors.Is(err, os.ErrNotExist) && file == sampledata.EventsFile {
			continue // data without events (the merge check's)
		}
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

// exportOptions are an export job's request, and where to copy its rows.
type exportOptions struct {
	policy, fields, eventFields string
	events                      bool
	rows                        string
	graph                       string // "built" or "kept"
}

func stepExport(ctx context.Context, engineDir string, people int, o exportOptions) error {
	exportengine.LimitMemory() // as in the worker process that runs jobs for the provider
	// Whether the export read a kept identity graph, and what keeping the one it built came to.
	// The hook runs before the job ends.
	// And the same of the event bodies kept beside the graph.
	var reused, eventsKept, eventsRead bool
	var keepErr, eventsErr error
	var eventsFromStore int64
	hooks := exportengine.Hooks{
		GraphDone:  func(fromKept bool, err error) { reused, keepErr = fromKept, err },
		EventsKept: func(err error) { eventsKept, eventsErr = true, err },
		EventsRead: func(_, fromStore int64) { eventsRead, eventsFromStore = true, fromStore },
	}
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: engineDir, RunJobs: true, Hooks: hooks})
	if err != nil {
		return err
	}
	defer e.Close()
	switch o.graph {
	case "built":
		if err := e.DropKeptGraph(ctx); err != nil {
			return err
		}
	case "kept":
	default:
		return fmt.Errorf("-graph %q: want built or kept", o.graph)
	}
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
		Fields:      o.fields,
		MergePolicy: &aepwire.MergePolicyRef{ID: o.policy},
		Destination: aepwire.ExportDestination{DatasetID: dest},
		Schema:      aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
	}
	if o.events {
		req.AdditionalFields = &aepwire.AdditionalFields{EventList: &aepwire.EventList{Fields: o.eventFields}}
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
	if keepErr != nil {
		return fmt.Errorf("keeping the identity graph: %w", keepErr)
	}
	if o.graph == "kept" && !reused {
		return errors.New("-graph kept: the export did not read a kept identity graph")
	}
	// What the export did with the event bodies kept beside the graph: the export that reads a
	// kept graph without them keeps them, unless the disk is short of room for them, and the
	// export after it reads them (the driver checks both); those read must all check out.
	bodies := "not kept"
	switch {
	case eventsRead && eventsFromStore != 0:
		return fmt.Errorf("%d events read from the store, not the kept bodies", eventsFromStore)
	case eventsRead:
		bodies = "read"
	case eventsKept && eventsErr != nil:
		bodies = eventsErr.Error()
	case eventsKept:
		bodies = "kept"
	}
	if o.graph == "built" && reused {
		return errors.New("-graph built: the export read a kept identity graph")
	}
	if o.rows != "" {
		if err := copyRows(ctx, e, job, o.rows); err != nil {
			return err
		}
	}
	// The output goes once measured, so that every export of a run at millions of people fits the
	// disk beside the store.
	if err := e.DeleteBatch(ctx, job.Destination.BatchID); err != nil {
		return fmt.Errorf("deleting the export's batch: %w", err)
	}
	m := job.Metrics
	return report(&measurement{What: "export", People: people, Records: *m.TotalExportedProfileCounter + *m.ExportedEventCounter,
		Bytes: inputBytes(engineDir), Seconds: wall, JobSeconds: float64(m.TotalTime.TotalTimeInMs) / 1000,
		ByNamespace: m.ExportedProfileByNamespaceCounter, Excluded: deref(m.ExcludedProfileCount), EventBodies: bodies,
		Note: fmt.Sprintf("%d rows, %d events, %d MB written; %d ms exporting, %d ms committing", *m.TotalExportedProfileCounter, *m.ExportedEventCounter, *m.BytesWritten>>20, m.ProfileExportTime.TotalTimeInMs, m.ACPDatasetWriteTime.TotalTimeInMs)})
}

// copyRows writes the rows of an export job, its files in order, into one file.
func copyRows(ctx context.Context, e *exportengine.Engine, job *aepwire.ExportJob, path string) error {
	batch := job.Destination.BatchID
	if batch == "" {
		return fmt.Errorf("export job %d names no batch", job.ID)
	}
	files, err := e.ListBatchFiles(ctx, batch)
	if err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b aepwire.BatchFile) int { return strings.Compare(a.Name, b.Name) })
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	for _, bf := range files {
		f, err := e.OpenBatchFile(ctx, batch, bf.Name)
		if err != nil {
			out.Close()
			return err
		}
		_, err = io.Copy(out, f)
		f.Close()
		if err != nil {
			out.Close()
			return err
		}
	}
	return out.Close()
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
func stepFloorIO(data string, people int, files []string) error {
	start := time.Now()
	var size int64
	for _, name := range files {
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
// JSON floor the exports are compared with. It uses the fastest JSON code the engine's exports
// use: fastjson's parser (which builds every value, as a merge needs them) and the projection's
// encoder (fields.AppendValue); records are handed to the cores in blocks of whole lines, as
// the engine's ingestion does.
func stepFloorJSON(data string, people int, files []string) error {
	start := time.Now()
	const blockBytes = 1 << 20
	blocks := make(chan []byte, runtime.NumCPU()*2)
	free := make(chan []byte, runtime.NumCPU()*2+2)
	for range cap(free) {
		free <- make([]byte, 0, blockBytes+64<<10)
	}
	type result struct {
		records, out int64
		err          error
	}
	results := make(chan result, runtime.NumCPU())
	for range runtime.NumCPU() {
		go func() {
			var p fastjson.Parser
			var enc []byte
			var r result
			for b := range blocks {
				for rest := b; len(rest) > 0; {
					line := rest
					if i := bytes.IndexByte(rest, '\n'); i >= 0 {
						line, rest = rest[:i], rest[i+1:]
					} else {
						rest = nil
					}
					if len(line) == 0 {
						continue
					}
					v, err := p.ParseBytes(line)
					if err != nil {
						r.err = err
						continue
					}
					enc = append(fields.AppendValue(enc[:0], v), '\n')
					r.out += int64(len(enc))
					r.records++
				}
				free <- b[:0]
			}
			results <- r
		}()
	}
	var size int64
	readErr := func() error {
		for _, name := range files {
			f, err := os.Open(filepath.Join(data, name))
			if err != nil {
				return err
			}
			err = func() error {
				defer f.Close()
				// A block ends at its last newline; what follows starts the next block.
				var carry []byte
				for {
					b := <-free
					b = append(b, carry...)
					n, err := io.ReadFull(f, b[len(b):blockBytes])
					b = b[:len(b)+n]
					size += int64(n)
					last := bytes.LastIndexByte(b, '\n')
					if err != nil || last < 0 {
						carry = nil
						blocks <- b
						if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
							return nil
						}
						if err != nil {
							return err
						}
						return fmt.Errorf("%s: a line longer than %d bytes", name, blockBytes)
					}
					carry = append(carry[:0], b[last+1:]...)
					blocks <- b[:last+1]
				}
			}()
			if err != nil {
				return err
			}
		}
		return nil
	}()
	close(blocks)
	var records int64
	for range runtime.NumCPU() {
		r := <-results
		records += r.records
		if r.err != nil && readErr == nil {
			readErr = r.err
		}
	}
	if readErr != nil {
		return readErr
	}
	return report(&measurement{What: "floor: decode + encode", People: people, Records: records, Bytes: size, Seconds: since(start)})
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}
