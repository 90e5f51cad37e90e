package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The test binary stands in for aepbench: the driver runs its steps as children of itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "step" {
		if err := runStep(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "aepbench step:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The whole benchmark at a small size, so that `make test` keeps it compiling and working:
// generation, floors, ingestion and both exports, each in a process of its own.
func TestDriverAtSmallSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark steps as processes")
	}
	dir := t.TempDir()
	if err := drive(context.Background(), driverOptions{sizes: "200,400", dataDir: dir, eventsPerPerson: 3}); err != nil {
		t.Fatal(err)
	}
	noStoresLeft(t, dir)
}

// noStoresLeft fails t if a run of the driver left an engine store in its data directory.
func noStoresLeft(t *testing.T, dataDir string) {
	t.Helper()
	if left, err := filepath.Glob(filepath.Join(dataDir, "engine-*")); err != nil || len(left) != 0 {
		t.Errorf("engine stores left after the run: %v (%v)", left, err)
	}
}

// The same with the DuckDB peer, whose build links DuckDB (cgo, minutes when cold), so that
// `make test` leaves it out: `make bench-peer` builds the peer and runs this with it. It adds the
// merge check and the comparison of every export with DuckDB's rows.
func TestDriverWithDuckDB(t *testing.T) {
	peer := os.Getenv("AEPBENCH_PEER")
	if peer == "" {
		t.Skip("AEPBENCH_PEER names no DuckDB peer (make bench-peer builds one and runs this test with it)")
	}
	if err := drive(context.Background(), driverOptions{sizes: "300", dataDir: t.TempDir(), eventsPerPerson: 3, peer: peer}); err != nil {
		t.Fatal(err)
	}
}

// The documented run of the exports through the private identity graph at two sizes, without
// DuckDB, at a small size; with a peer named it is refused.
func TestDriverPDGOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark steps as processes")
	}
	opts := driverOptions{sizes: "200,400", dataDir: t.TempDir(), eventsPerPerson: 3, only: "pdg"}
	if err := drive(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	noStoresLeft(t, opts.dataDir)
	opts.peer = "duckpeer"
	if err := drive(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "-peer") {
		t.Fatalf("-only pdg with a peer: %v, want a refusal naming -peer", err)
	}
}

// The growth target holds every export to it: one export that grows too fast fails it, whichever
// it is, and the line names each export's growth.
func TestGrowthTargetHoldsEveryExport(t *testing.T) {
	at := func(seconds float64, rss int64) map[string]*measurement {
		m := map[string]*measurement{}
		for _, key := range growthExports {
			m[key] = &measurement{What: "export " + key, Seconds: seconds, PeakRSS: rss}
		}
		return m
	}
	small, big := at(1, 100<<20), at(10, 110<<20)
	if got := growthTarget(small, big, 10); !strings.HasSuffix(got, ": met") {
		t.Errorf("every export 10x on 10x the people: %q, want met", got)
	}
	for _, key := range growthExports {
		big := at(10, 110<<20)
		big[key].Seconds = 10.6
		got := growthTarget(small, big, 10)
		if !strings.HasSuffix(got, ": NOT MET") || !strings.Contains(got, "export "+key+" 10.60x") {
			t.Errorf("%s 10.6x on 10x the people: %q, want it named and NOT MET", key, got)
		}
	}
	if got := growthTarget(small, at(10, 160<<20), 10); !strings.HasSuffix(got, ": NOT MET") {
		t.Errorf("peak RSS 1.6x: %q, want NOT MET", got)
	}
	delete(small, "none2") // a row one size did not measure is left out
	if got := growthTarget(small, big, 10); strings.Contains(got, "none2") || !strings.HasSuffix(got, ": met") {
		t.Errorf("without none2 at the small size: %q", got)
	}
}

// warm reads the files at its paths, in directories and below them, passes over a path that is
// not there, and reports any other failure to read.
func TestWarm(t *testing.T) {
	dir := t.TempDir()
	nested := filepath.Join(dir, "batches", "b1")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "peer.duckdb")
	for _, p := range []string{filepath.Join(nested, "profile.seg"), file} {
		if err := os.WriteFile(p, make([]byte, 3<<20+5), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := warm([]string{dir, file, filepath.Join(dir, "graphs")}); err != nil {
		t.Errorf("warm of a directory, a file and a path that is not there: %v", err)
	}
	if err := warm([]string{filepath.Join(file, "below")}); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("warm of a path below a file: %v; want the error that says it is no directory", err)
	}
}

// A step run several times is its run of median time, with the highest peak RSS of all its runs
// (memory is not a median), and the times of every run; the runs given are left as they were.
func TestMedianRun(t *testing.T) {
	runs := []*measurement{
		{What: "slow", Seconds: 1.9, PeakRSS: 10 << 20},
		{What: "fast", Seconds: 1.2, PeakRSS: 30 << 20},
		{What: "middle", Seconds: 1.4, PeakRSS: 20 << 20},
	}
	m := medianRun(runs)
	if m.What != "middle" || m.Seconds != 1.4 {
		t.Errorf("median run: %s, %.2f s; want middle, 1.40 s", m.What, m.Seconds)
	}
	if m.PeakRSS != 30<<20 {
		t.Errorf("peak RSS %d MiB, want the highest of the runs, 30 MiB", m.PeakRSS>>20)
	}
	if fmt.Sprint(m.Runs) != "[1.2 1.4 1.9]" {
		t.Errorf("runs %v, want [1.2 1.4 1.9]", m.Runs)
	}
	if runs[0].What != "slow" || runs[2].PeakRSS != 20<<20 || runs[2].Runs != nil {
		t.Errorf("the runs given were changed: %+v", runs)
	}
	var out strings.Builder
	printMedians(&out, []row{{m: &measurement{What: "once", Seconds: 1}}, {m: m}})
	if want := "\nmedians of 3 runs (the time of each, fastest first):\n  middle, 0 people: 1.20, 1.40, 1.90 s\n"; out.String() != want {
		t.Errorf("printMedians wrote %q, want %q", out.String(), want)
	}
}

// Anything but flags is refused, by the driver and by a step, before either measures anything: a
// step named without "step" before it would otherwise have run the whole benchmark.
func TestStrayArgumentsRefused(t *testing.T) {
	opts, err := parseDriverFlags([]string{"-sizes", "200", "export"})
	if err == nil || !strings.Contains(err.Error(), `"export"`) {
		t.Errorf("driver with a stray argument: %v, want an error naming it", err)
	}
	if opts, err = parseDriverFlags([]string{"-sizes", "200", "-jobs", "0"}); err != nil || opts.sizes != "200" || opts.jobs != 0 {
		t.Errorf("driver flags: %+v, %v", opts, err)
	}
	engine := t.TempDir()
	err = runStep([]string{"export", "-engine", engine, "-people", "5", "extra"})
	if err == nil || !strings.Contains(err.Error(), `"extra"`) {
		t.Errorf("step with a stray argument: %v, want an error naming it", err)
	}
	if entries, _ := os.ReadDir(engine); len(entries) != 0 {
		t.Errorf("the refused step left %d entries in its engine directory", len(entries))
	}
}
