// Command aepbench measures the embedded engine on generated data: ingestion, exports (with and
// without projection), the I/O and JSON floors they are compared with, and the overhead Terraform
// adds. Each measurement runs in a process of its own, so that its peak resident memory is its
// own. `make bench` runs it; see BENCHMARKS.md.
//
//	aepbench [-sizes 100000,1000000] [-data .benchdata] [-peer bin/duckpeer]
//	         [-terraform bin/terraform -provider bin/terraform-provider-experienceplatform]
//	aepbench -only starts|terraform|mergecheck|pdg ...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "step" {
		if err := runStep(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "aepbench step:", err)
			os.Exit(1)
		}
		return
	}
	opts, err := parseDriverFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "aepbench:", err)
		os.Exit(2)
	}
	if err := drive(context.Background(), opts); err != nil {
		fmt.Fprintln(os.Stderr, "aepbench:", err)
		os.Exit(1)
	}
}

// parseDriverFlags reads the driver's flags. It takes flags only: anything else is refused, so
// that a mistyped step (one without "step" before it) is an error rather than a whole run.
func parseDriverFlags(args []string) (driverOptions, error) {
	var opts driverOptions
	fs := flag.NewFlagSet("aepbench", flag.ContinueOnError)
	fs.StringVar(&opts.sizes, "sizes", "100000,1000000", "comma-separated numbers of people to measure")
	fs.StringVar(&opts.dataDir, "data", ".benchdata", "where generated data (cached) and engine directories go")
	fs.Float64Var(&opts.eventsPerPerson, "events-per-person", 3, "web events a person")
	fs.StringVar(&opts.terraform, "terraform", "", "a terraform binary, to measure Terraform's overhead (with -provider)")
	fs.StringVar(&opts.provider, "provider", "", "the provider binary built for the Terraform runs")
	fs.StringVar(&opts.emptyProvider, "empty-provider", "", "a provider with nothing in it on the same libraries (built from ./internal/aepbench/emptyprovider), whose start is the part of the provider's start that is not its own")
	fs.StringVar(&opts.peer, "peer", "", "the DuckDB peer (built from ./internal/aepbench/duckpeer), to compare exports with DuckDB's")
	fs.IntVar(&opts.jobs, "jobs", 100, "export jobs in the many-jobs Terraform run (0: no such run)")
	fs.IntVar(&opts.jobPeople, "job-people", 10000, "people of the data each of those jobs exports")
	fs.IntVar(&opts.starts, "starts", 30, "times to start the provider to measure its start")
	fs.StringVar(&opts.only, "only", "", "measure only one part: \"starts\" (the provider's start), \"terraform\" (with -terraform and -provider), \"mergecheck\", or \"pdg\" (the floors, ingestion and the exports through the private identity graph, at each size, without DuckDB)")
	if err := fs.Parse(args); err != nil {
		return opts, err
	}
	if fs.NArg() > 0 {
		return opts, fmt.Errorf("unexpected argument %q: the driver takes flags only (a single step is run as `aepbench step NAME -flag ...`)", fs.Arg(0))
	}
	return opts, nil
}

// measurement is what one step reports, plus what its parent measured of it.
type measurement struct {
	What    string  `json:"what"`
	People  int     `json:"people"`
	Records int64   `json:"records"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	// Job is an export job's own totalTime, when the step ran one.
	JobSeconds float64 `json:"job_seconds,omitempty"`
	// ByNamespace is an export's count of profiles by primary identity namespace.
	ByNamespace map[string]int64 `json:"by_namespace,omitempty"`
	// Excluded is an export's count of profiles left out for their size.
	Excluded int64  `json:"excluded,omitempty"`
	Note     string `json:"note,omitempty"`
	// EventBodies is what an export through the identity graph did with the event bodies kept
	// beside it: "not kept" (as the export that builds the graph does); "kept", or why not, by
	// one that read a kept graph without them; "read" by one that read them.
	EventBodies string `json:"event_bodies,omitempty"`
	// PeakRSS is the step's peak resident set in bytes: as the step saw its own (ownPeakRSS), or
	// where it cannot tell, from its rusage.
	PeakRSS int64 `json:"peak_rss,omitempty"`
	// Runs are the times of the runs of a step run more than once (see medianRun), fastest first;
	// the measurement is the median one.
	Runs []float64 `json:"-"`
}

// child runs one step in a process of its own and returns its report and peak RSS.
func child(ctx context.Context, args ...string) (*measurement, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return measured(ctx, exe, append([]string{"step"}, args...)...)
}

// measured runs a program that reports a measurement as JSON on stdout (a step of this one, or
// of the DuckDB peer) and returns its report and peak RSS.
func measured(ctx context.Context, exe string, args ...string) (*measurement, error) {
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("step %v: %w", args, err)
	}
	var m measurement
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, fmt.Errorf("step %v reported %q: %w", args, out, err)
	}
	if m.PeakRSS == 0 {
		m.PeakRSS = peakRSS(cmd.ProcessState)
	}
	return &m, nil
}

// report prints a step's measurement, with the step's own peak resident set.
func report(m *measurement) error {
	m.PeakRSS = ownPeakRSS()
	return json.NewEncoder(os.Stdout).Encode(m)
}

func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("size %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func machine() string {
	host, _ := os.Hostname()
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(strings.SplitN(line, ":", 2)[1])
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		fields := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		if len(fields) >= 2 {
			if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
				mem = fmt.Sprintf(", %.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%s: %d cores (%s)%s, %s, %s/%s", host, runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func since(t time.Time) float64 { return time.Since(t).Seconds() }
