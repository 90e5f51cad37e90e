package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

type driverOptions struct {
	sizes           string
	dataDir         string
	eventsPerPerson float64
	terraform       string
	provider        string
	emptyProvider   string // a provider with nothing in it, on the same libraries: the floor of a start
	peer            string // the DuckDB peer (duckpeer); without it, no DuckDB rows
	jobs            int
	jobPeople       int
	starts          int
	only            string
}

// The export of the targets: a projection and an event list, through the private graph.
const (
	benchFields      = "identityMap,person.name,personalEmail.address,loyalty(tier,points),segmentMembership.ups"
	benchEventFields = "timestamp,eventType,web.webPageDetails.name,commerce.order"
)

// The exports compared with DuckDB: profile fragments only, merge policy timestampOrdered-none-mp.
var peerExports = []struct{ key, label, fields string }{
	{"none4", "4 fields", "identityMap,personalEmail.address,person.name,loyalty.points"},
	{"none2", "2 fields", "personalEmail.address,loyalty.points"},
}

var profileFiles = []string{sampledata.CRMFile, sampledata.LoyaltyFile}

type row struct {
	m       *measurement
	floor   float64      // to the JSON floor of the same input; 0 when not compared
	records int64        // what records/s counts: the records of the input the row reads
	peerOf  *measurement // for a DuckDB row: the engine's row it is compared with
}

func drive(ctx context.Context, opts driverOptions) error {
	switch opts.only {
	case "terraform":
		lines, err := terraformOverhead(ctx, opts)
		for _, l := range lines {
			fmt.Println(l)
		}
		return err
	case "starts":
		lines, _, _, err := startLines(ctx, opts)
		for _, l := range lines {
			fmt.Println(l)
		}
		return err
	case "mergecheck":
		return mergeCheck(ctx, opts, os.Stdout)
	case "pdg":
		if opts.peer != "" {
			return errors.New("-only pdg measures the engine alone: leave -peer out")
		}
	case "":
	default:
		return fmt.Errorf("-only %q: want starts, terraform, mergecheck or pdg", opts.only)
	}
	sizes, err := parseSizes(opts.sizes)
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s\n\n", machine())
	if opts.peer != "" {
		if err := mergeCheck(ctx, opts, os.Stdout); err != nil {
			return err
		}
		fmt.Println()
	}
	var rows []row
	bySize := map[int]map[string]*measurement{}
	small, big := sizes[0], sizes[len(sizes)-1]
	rounds := len(sizes) > 1 && opts.only != "pdg"
	for _, people := range sizes {
		// The growth rounds read the stores of the smallest size and the largest: those stay
		// until the end; every other goes once measured, so that the disk holds one large store.
		keep := rounds && (people == small || people == big)
		if keep {
			defer os.RemoveAll(engineDir(opts.dataDir, people))
		}
		got, sizeRows, err := measureSize(ctx, opts, people)
		if !keep {
			err = errors.Join(err, os.RemoveAll(engineDir(opts.dataDir, people)))
		}
		if err != nil {
			return err
		}
		bySize[people] = got
		rows = append(rows, sizeRows...)
	}
	var growth map[int]map[string]*measurement
	if rounds {
		if growth, err = measureGrowth(ctx, opts, small, big); err != nil {
			return err
		}
	}

	printTable(os.Stdout, rows)
	printMedians(os.Stdout, rows)
	if opts.only == "pdg" {
		fmt.Println()
		printPDGTargets(sizes, bySize)
		return nil
	}
	if growth != nil {
		printGrowthRuns(os.Stdout, small, big, growth)
	}
	if opts.terraform != "" && opts.provider != "" {
		tfResults, err := terraformOverhead(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Println()
		for _, line := range tfResults {
			fmt.Println(line)
		}
	}
	fmt.Println()
	printTargets(sizes, bySize, growth, opts.peer != "")
	return nil
}

// warm reads the files at paths (and in the directories among them) once, so that the step after
// it starts with them in the page cache, as every step at the smallest size does. Otherwise the
// order of the steps decides what a step finds there: what the steps before it wrote, and the
// gigabytes DuckDB's exports hold, push the files of earlier steps out. A path that is not there
// is passed over.
func warm(paths []string) error {
	buf := make([]byte, 1<<20)
	for _, p := range paths {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			for {
				if _, err := f.Read(buf); err == io.EOF {
					return nil
				} else if err != nil {
					return err
				}
			}
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("reading the inputs of a step: %w", err)
		}
	}
	return nil
}

// measureSize measures every step at one size, each in a process of its own, and checks that
// the engine and DuckDB export the same rows.
func measureSize(ctx context.Context, opts driverOptions, people int) (map[string]*measurement, []row, error) {
	data := filepath.Join(opts.dataDir, fmt.Sprintf("people-%d", people))
	engine := engineDir(opts.dataDir, people) // removed by drive, once the growth rounds have read it
	work := filepath.Join(opts.dataDir, fmt.Sprintf("work-%d", people))
	defer os.RemoveAll(work)
	if err := os.RemoveAll(work); err != nil { // what a stopped run left
		return nil, nil, err
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, nil, err
	}
	p := strconv.Itoa(people)
	ev := strconv.FormatFloat(opts.eventsPerPerson, 'f', -1, 64)
	if _, err := child(ctx, "gen", "-data", data, "-people", p, "-events-per-person", ev); err != nil {
		return nil, nil, err
	}
	got := map[string]*measurement{}
	duckDB := filepath.Join(work, "peer.duckdb")
	// Each step starts with what it reads in the page cache (see warm): its inputs, the
	// generated files, the engine's segments and kept graph (storeFiles), or DuckDB's database.
	duckFiles := func() []string {
		files, _ := filepath.Glob(duckDB + "*")
		return files
	}
	run := func(key, what string, exe string, inputs []string, args ...string) error {
		if err := warm(inputs); err != nil {
			return err
		}
		var m *measurement
		var err error
		if exe == "" {
			m, err = child(ctx, args...)
		} else {
			m, err = measured(ctx, exe, args...)
		}
		if err != nil {
			return err
		}
		if what != "" {
			m.What = what
		}
		m.People = people
		got[key] = m
		fmt.Fprintf(os.Stderr, "%-66s %9d people %8.2f s %6.0f MiB\n", m.What, people, m.Seconds, float64(m.PeakRSS)/(1<<20))
		return nil
	}
	// runMedian runs a step that changes nothing it reads (an export with the identity graph
	// none, the engine's or DuckDB's) shortRuns times, and keeps the run of median time, with the
	// highest peak RSS of them. On a shared VM, a run of a second or two swings by a tenth or
	// more either way, and these are the rows whose time is compared to DuckDB's and across sizes.
	runMedian := func(key, what string, exe string, inputs []string, args ...string) error {
		var runs []*measurement
		for range shortRuns {
			if err := run(key, what, exe, inputs, args...); err != nil {
				return err
			}
			runs = append(runs, got[key])
		}
		got[key] = medianRun(runs)
		return nil
	}
	profiles := strings.Join(profileFiles, ",")
	for _, s := range []struct {
		key, what string
		args      []string
	}{
		{"io", "", []string{"floor-io", "-data", data, "-people", p}},
		{"json", "", []string{"floor-json", "-data", data, "-people", p}},
		{"json-profiles", "floor: decode + encode, profiles", []string{"floor-json", "-data", data, "-people", p, "-files", profiles}},
		{"ingest", "", []string{"ingest", "-data", data, "-engine", engine, "-people", p}},
	} {
		if err := run(s.key, s.what, "", []string{data}, s.args...); err != nil {
			return nil, nil, err
		}
	}
	if opts.peer != "" {
		if err := run("duck-load", "", opts.peer, []string{data}, "load", "-data", data, "-db", duckDB, "-people", p); err != nil {
			return nil, nil, err
		}
	}
	// compare checks an export of the engine against DuckDB's, and removes DuckDB's.
	compare := func(what, engineRows, duckRows, keys string, m *measurement) error {
		defer os.Remove(duckRows)
		n, err := compareRows(engineRows, duckRows, keys)
		if err != nil {
			return fmt.Errorf("%d people, %s: %w", people, what, err)
		}
		if err := checkNamespaces(m, keys); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  %s: the engine's rows and DuckDB's are the same: %d profiles\n", what, n)
		return nil
	}

	// Through the private identity graph, with event lists; DuckDB from its tables only. Each
	// export is measured in three ways: building the graph, as the first export after an
	// ingestion does; reading the graph that export kept, and keeping the event bodies, as the
	// second does; and reading both, as the exports after it do. The three run in that order
	// shortRuns times over (the first drops what the ones before kept), and each row is the run of
	// median time (medianRun). DuckDB's export, a minute or two at 1M, runs once.
	for _, x := range pdgExports {
		engineRows := filepath.Join(work, x.key+"-engine.json")
		runs := map[string][]*measurement{}
		keptBodies := map[bool]bool{} // whether the second export of each round kept the bodies
		for range shortRuns {
			for _, w := range pdgWays {
				key := x.key + w.suffix
				args := pdgExportArgs(engine, p, x.fields, x.eventFields, w.graph)
				rows := filepath.Join(work, key+"-rows.json")
				if key == x.key {
					rows = engineRows
				}
				if opts.peer != "" {
					args = append(args, "-rows", rows)
				}
				if err := run(key, "export: pdg, "+x.label+w.label, "", storeFiles(engine), args...); err != nil {
					return nil, nil, err
				}
				runs[key] = append(runs[key], got[key])
				if opts.peer != "" && rows != engineRows {
					err := sameRows(engineRows, rows)
					_ = os.Remove(rows)
					if err != nil {
						return nil, nil, fmt.Errorf("%d people, pdg, %s: %w", people, x.label+w.label, err)
					}
				}
			}
			// The export that builds the graph keeps no event bodies; the one after keeps them,
			// and the one after that reads them. Where the disk has no room for them, the third
			// row is another export of the graph kept without them, and says so.
			switch built, kept, read := got[x.key].EventBodies, got[x.key+"-kept"].EventBodies, got[x.key+"-bodies"].EventBodies; {
			case built != "not kept":
				return nil, nil, fmt.Errorf("%d people, pdg, %s: the export that built the graph: event bodies %s, want not kept", people, x.label, built)
			case kept == "kept" && read != "read":
				return nil, nil, fmt.Errorf("%d people, pdg, %s: the event bodies were kept, and the export after did not read them: %s", people, x.label, read)
			case kept != "kept":
				fmt.Fprintf(os.Stderr, "  pdg, %s: the second export kept no event bodies (%s); the third: %s\n", x.label, kept, read)
			}
			keptBodies[got[x.key+"-kept"].EventBodies == "kept"] = true
		}
		if len(keptBodies) > 1 {
			return nil, nil, fmt.Errorf("%d people, pdg, %s: the second export kept the event bodies in some rounds and not in others", people, x.label)
		}
		for _, w := range pdgWays {
			got[x.key+w.suffix] = medianRun(runs[x.key+w.suffix])
		}
		if !keptBodies[true] {
			got[x.key+"-bodies"].What = "export: pdg, " + x.label + ", graph kept, event bodies not kept"
		}
		if opts.peer == "" {
			continue
		}
		out, keys := filepath.Join(work, x.key+"-duckdb.json"), filepath.Join(work, x.key+"-keys.json")
		k := "duck-" + x.key + "-tables"
		if err := run(k, "DuckDB: export: pdg, "+x.label+", from loaded tables", opts.peer, duckFiles(), "export", "-db", duckDB, "-policy", "pdg",
			"-fields", x.fields, "-events", "-event-fields", x.eventFields, "-out", out, "-keys", keys, "-people", p); err != nil {
			return nil, nil, err
		}
		got[k].Bytes = got[x.key].Bytes
		err := compare("pdg, "+x.label, engineRows, out, keys, got[x.key])
		_ = os.Remove(engineRows)
		if err != nil {
			return nil, nil, err
		}
	}

	// Profile fragments only, identity graph none; DuckDB from the files and from its tables.
	profileBytes := got["json-profiles"].Bytes
	keys := filepath.Join(work, "none-keys.json")
	exports := peerExports
	if opts.only == "pdg" {
		exports = nil
	}
	for _, x := range exports {
		engineRows := filepath.Join(work, x.key+"-engine.json")
		args := noneExportArgs(engine, p, x.fields)
		if opts.peer != "" {
			args = append(args, "-rows", engineRows)
		}
		if err := runMedian(x.key, "export: none, "+x.label, "", storeFiles(engine), args...); err != nil {
			return nil, nil, err
		}
		got[x.key].Bytes = profileBytes
		if opts.peer == "" {
			continue
		}
		for _, from := range []struct{ key, what, flag, arg string }{
			{"files", "from files", "-data", data},
			{"tables", "from loaded tables", "-db", duckDB},
		} {
			out := filepath.Join(work, x.key+"-duckdb-"+from.key+".json")
			args := []string{"export", from.flag, from.arg, "-fields", x.fields, "-out", out, "-people", p}
			if _, err := os.Stat(keys); err != nil {
				args = append(args, "-keys", keys)
			}
			k := "duck-" + x.key + "-" + from.key
			inputs := duckFiles()
			if from.key == "files" {
				inputs = []string{data}
			}
			if err := runMedian(k, fmt.Sprintf("DuckDB: export: none, %s, %s", x.label, from.what), opts.peer, inputs, args...); err != nil {
				return nil, nil, err
			}
			got[k].Bytes = profileBytes
			if err := compare(fmt.Sprintf("none, %s, DuckDB %s", x.label, from.what), engineRows, out, keys, got[x.key]); err != nil {
				return nil, nil, err
			}
		}
		_ = os.Remove(engineRows)
	}

	var rows []row
	all, prof := got["ingest"].Records, got["json-profiles"].Records
	add := func(key string, floorKey string, records int64, peerOf string) {
		m, ok := got[key]
		if !ok {
			return
		}
		r := row{m: m, records: records}
		if floorKey != "" {
			r.floor = m.Seconds / got[floorKey].Seconds
		}
		if peerOf != "" {
			r.peerOf = got[peerOf]
		}
		rows = append(rows, r)
	}
	add("io", "", all, "")
	add("json", "", all, "")
	add("json-profiles", "", prof, "")
	add("ingest", "", all, "")
	add("duck-load", "", all, "ingest")
	add("export", "json", all, "")
	add("export-kept", "json", all, "")
	add("export-bodies", "json", all, "")
	add("duck-export-tables", "", all, "export")
	add("export-whole", "json", all, "")
	add("export-whole-kept", "json", all, "")
	add("export-whole-bodies", "json", all, "")
	add("duck-export-whole-tables", "", all, "export-whole")
	for _, x := range peerExports {
		add(x.key, "json-profiles", prof, "")
		add("duck-"+x.key+"-files", "", prof, x.key)
		add("duck-"+x.key+"-tables", "", prof, x.key)
	}
	return got, rows, nil
}

// checkNamespaces compares the engine's count of exported profiles by namespace with the
// primary identities DuckDB found.
func checkNamespaces(m *measurement, keys string) error {
	f, err := os.Open(keys)
	if err != nil {
		return err
	}
	defer f.Close()
	counts := map[string]int64{}
	l := newLines(f)
	for {
		line, ok := l.next()
		if !ok {
			break
		}
		var k rowKey
		if err := json.Unmarshal(line, &k); err != nil {
			return err
		}
		counts[k.NS]++
	}
	if l.err != nil {
		return l.err
	}
	if fmt.Sprint(counts) != fmt.Sprint(m.ByNamespace) {
		return fmt.Errorf("%s: the engine exported profiles by namespace %v, DuckDB found %v", m.What, m.ByNamespace, counts)
	}
	return nil
}

// shortRuns is how many times runMedian runs a step.
const shortRuns = 3

// medianRun is the run of runs with the median time, with the highest peak RSS of them all and
// the times of all of them (Runs), fastest first.
func medianRun(runs []*measurement) *measurement {
	runs = slices.Clone(runs)
	slices.SortStableFunc(runs, func(a, b *measurement) int { return cmp.Compare(a.Seconds, b.Seconds) })
	m := *runs[len(runs)/2]
	m.Runs = nil
	for _, r := range runs {
		m.PeakRSS = max(m.PeakRSS, r.PeakRSS)
		m.Runs = append(m.Runs, r.Seconds)
	}
	return &m
}

// printMedians lists the rows that are the median of several runs, with the time of each run.
func printMedians(w io.Writer, rows []row) {
	first := true
	for _, r := range rows {
		if len(r.m.Runs) < 2 {
			continue
		}
		if first {
			fmt.Fprintf(w, "\nmedians of %d runs (the time of each, fastest first):\n", len(r.m.Runs))
			first = false
		}
		fmt.Fprintf(w, "  %s, %d people: %s s\n", r.m.What, r.m.People, runTimes(r.m))
	}
}

// runTimes lists the times of m's runs (see medianRun), fastest first.
func runTimes(m *measurement) string {
	times := make([]string, len(m.Runs))
	for i, t := range m.Runs {
		times[i] = fmt.Sprintf("%.2f", t)
	}
	return strings.Join(times, ", ")
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "what\tpeople\twall s\trecords/s\tMB/s\tpeak RSS MiB\tto JSON floor\tengine/DuckDB time\tengine/DuckDB RSS\t")
	for _, r := range rows {
		m := r.m
		floor, vsTime, vsRSS := "", "", ""
		if r.floor > 0 {
			floor = fmt.Sprintf("%.2fx", r.floor)
		}
		if e := r.peerOf; e != nil {
			vsTime = fmt.Sprintf("%.2f", e.Seconds/m.Seconds)
			if m.PeakRSS > 0 {
				vsRSS = fmt.Sprintf("%.3f", float64(e.PeakRSS)/float64(m.PeakRSS))
			}
		}
		mbs := ""
		if m.Bytes > 0 {
			mbs = fmt.Sprintf("%.0f", float64(m.Bytes)/(1<<20)/m.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.0f\t%s\t%.0f\t%s\t%s\t%s\t\n", m.What, m.People, m.Seconds,
			float64(r.records)/m.Seconds, mbs, float64(m.PeakRSS)/(1<<20), floor, vsTime, vsRSS)
	}
	_ = tw.Flush()
}

// printPDGTargets prints, for a run of the exports through the private identity graph alone,
// their memory at each size and how their time and memory grow.
func printPDGTargets(sizes []int, bySize map[int]map[string]*measurement) {
	const mib = 1 << 20
	fmt.Println("targets of the exports through the private identity graph:")
	for _, people := range sizes {
		e, w := bySize[people]["export"], bySize[people]["export-whole"]
		fmt.Printf("  %d people: within 256 MiB: fields %.0f MiB, whole profiles %.0f MiB: %s\n", people,
			float64(e.PeakRSS)/mib, float64(w.PeakRSS)/mib, met(max(e.PeakRSS, w.PeakRSS) <= 256*mib))
	}
	for i := 1; i < len(sizes); i++ {
		small, big := bySize[sizes[i-1]], bySize[sizes[i]]
		scale := float64(sizes[i]) / float64(sizes[i-1])
		for _, key := range growthExports {
			if small[key] == nil || big[key] == nil {
				continue // a row this run did not measure
			}
			fmt.Printf("  %s, %d -> %d people (%.0fx): time %.2fx, peak RSS %.2fx\n", big[key].What, sizes[i-1], sizes[i], scale,
				big[key].Seconds/small[key].Seconds, float64(big[key].PeakRSS)/float64(small[key].PeakRSS))
		}
	}
}

// printTargets prints the target lines: from the table's rows at the largest size, and growth from
// the growth rounds, when there are two sizes or more.
func printTargets(sizes []int, bySize, growth map[int]map[string]*measurement, peer bool) {
	largest := sizes[len(sizes)-1]
	big := bySize[largest]
	const mib = 1 << 20
	fmt.Printf("targets at %d people:\n", largest)
	e, w := big["export"], big["export-whole"]
	fmt.Printf("  export with projection and eventList <= 20 s, RSS <= 512 MiB: %.2f s, %.0f MiB: %s\n",
		e.Seconds, float64(e.PeakRSS)/mib, met(e.Seconds <= 20 && e.PeakRSS <= 512*mib))
	fmt.Printf("  export of whole profiles <= 30 s, RSS <= 512 MiB: %.2f s, %.0f MiB: %s\n",
		w.Seconds, float64(w.PeakRSS)/mib, met(w.Seconds <= 30 && w.PeakRSS <= 512*mib))
	fmt.Printf("  pdg export within 256 MiB: %.0f MiB, whole profiles %.0f MiB: %s\n",
		float64(e.PeakRSS)/mib, float64(w.PeakRSS)/mib, met(max(e.PeakRSS, w.PeakRSS) <= 256*mib))
	floorOK := true
	var ratios []string
	for _, k := range []struct{ export, floor string }{{"export", "json"}, {"export-whole", "json"}, {"none4", "json-profiles"}, {"none2", "json-profiles"}} {
		r := big[k.export].Seconds / big[k.floor].Seconds
		floorOK = floorOK && r <= 1.5
		ratios = append(ratios, fmt.Sprintf("%s %.2fx", big[k.export].What, r))
	}
	fmt.Printf("  exports <= 1.5x the JSON floor of their input: %s: %s\n", strings.Join(ratios, ", "), met(floorOK))
	for _, k := range []struct{ fields, whole, what string }{
		{"export-kept", "export-whole-kept", "the identity graph an earlier export kept, keeping the event bodies"},
		{"export-bodies", "export-whole-bodies", "the identity graph and the event bodies earlier exports kept"},
	} {
		if ek, wk := big[k.fields], big[k.whole]; ek != nil && wk != nil {
			f, fw := ek.Seconds/big["json"].Seconds, wk.Seconds/big["json"].Seconds
			fmt.Printf("  ... through %s: %.2fx, %.2fx: %s\n", k.what, f, fw, met(f <= 1.5 && fw <= 1.5))
		}
	}
	in := big["ingest"]
	rate := float64(in.Records) / in.Seconds
	fmt.Printf("  ingestion >= 150000 records/s: %.0f records/s: %s\n", rate, met(rate >= 150000))
	if peer {
		load := big["duck-load"]
		duckRate := float64(load.Records) / load.Seconds
		fmt.Printf("  ingestion at least DuckDB's load rate: %.0f records/s, DuckDB %.0f: %s\n", rate, duckRate, met(rate >= duckRate))
		for _, key := range growthExports {
			eng, duck := big[key], big["duck-"+strings.TrimSuffix(strings.TrimSuffix(key, "-kept"), "-bodies")+"-tables"]
			t, m := eng.Seconds/duck.Seconds, float64(eng.PeakRSS)/float64(duck.PeakRSS)
			fmt.Printf("  %s <= 1/3 of DuckDB's time from loaded tables, < 1/10 of its peak RSS: %.2f s / %.2f s = %.2f, %.0f / %.0f MiB = %.3f: %s\n",
				eng.What, eng.Seconds, duck.Seconds, t, float64(eng.PeakRSS)/mib, float64(duck.PeakRSS)/mib, m, met(t <= 1.0/3 && m < 0.1))
		}
	}
	if growth != nil {
		scale := float64(largest) / float64(sizes[0])
		fmt.Println(" ", growthTarget(growth[sizes[0]], growth[largest], scale))
		fmt.Printf("    (the table's rows, where each size's steps ran together: %s)\n", growthTimes(bySize[sizes[0]], big))
	}
}

// growthExports are the exports whose growth from the smallest size to the largest is a target:
// every one of them, so that one export's growth cannot stand for another's.
var growthExports = []string{"export", "export-kept", "export-bodies", "export-whole", "export-whole-kept", "export-whole-bodies", "none4", "none2"}

// growthTarget says how each export's time grows from small to big (scale times the people),
// against the target of at most 1.05 x scale, and how the first export's peak RSS grows: met only
// if every export's time, and that memory, are within it.
func growthTarget(small, big map[string]*measurement, scale float64) string {
	ok := true
	for _, key := range growthExports {
		if s, b := small[key], big[key]; s != nil && b != nil {
			ok = ok && b.Seconds/s.Seconds <= scale*1.05
		}
	}
	e := big["export"]
	memGrowth := float64(e.PeakRSS) / float64(small["export"].PeakRSS)
	ok = ok && memGrowth <= 1.5
	return fmt.Sprintf("growth %.0fx people: export time (<= %.1fx) %s; peak RSS of %s %.2fx (flat): %s", scale, scale*1.05,
		growthTimes(small, big), e.What, memGrowth, met(ok))
}

// growthTimes lists how each export's time grows from small to big, leaving out those one of
// them did not measure.
func growthTimes(small, big map[string]*measurement) string {
	var times []string
	for _, key := range growthExports {
		if s, b := small[key], big[key]; s != nil && b != nil {
			times = append(times, fmt.Sprintf("%s %.2fx", b.What, b.Seconds/s.Seconds))
		}
	}
	return strings.Join(times, ", ")
}
