package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
)

type driverOptions struct {
	sizes           string
	dataDir         string
	eventsPerPerson float64
	terraform       string
	provider        string
	jobs            int
	jobPeople       int
}

// The export of the targets: a projection and an event list, through the private graph.
const (
	benchFields      = "identityMap,person.name,personalEmail.address,loyalty(tier,points),segmentMembership.ups"
	benchEventFields = "timestamp,eventType,web.webPageDetails.name,commerce.order"
)

type row struct {
	m       *measurement
	ratio   float64 // to the JSON floor of the same size; 0 when not compared
	records int64   // what records/s counts
}

func drive(ctx context.Context, opts driverOptions) error {
	sizes, err := parseSizes(opts.sizes)
	if err != nil {
		return err
	}
	fmt.Printf("machine: %s\n\n", machine())
	var rows []row
	bySize := map[int]map[string]*measurement{}
	for _, people := range sizes {
		data := filepath.Join(opts.dataDir, fmt.Sprintf("people-%d", people))
		engine := filepath.Join(opts.dataDir, fmt.Sprintf("engine-%d", people))
		p := strconv.Itoa(people)
		ev := strconv.FormatFloat(opts.eventsPerPerson, 'f', -1, 64)
		if _, err := child(ctx, "gen", "-data", data, "-people", p, "-events-per-person", ev); err != nil {
			return err
		}
		got := map[string]*measurement{}
		steps := []struct {
			key  string
			args []string
		}{
			{"io", []string{"floor-io", "-data", data, "-people", p}},
			{"json", []string{"floor-json", "-data", data, "-people", p}},
			{"ingest", []string{"ingest", "-data", data, "-engine", engine, "-people", p}},
			{"export", []string{"export", "-engine", engine, "-people", p, "-fields", benchFields, "-event-fields", benchEventFields}},
			{"export-whole", []string{"export", "-engine", engine, "-people", p}},
		}
		for _, s := range steps {
			m, err := child(ctx, s.args...)
			if err != nil {
				return err
			}
			switch s.key {
			case "export":
				m.What = "export: pdg, fields, eventList"
			case "export-whole":
				m.What = "export: pdg, whole profiles, eventList"
			}
			got[s.key] = m
			fmt.Fprintf(os.Stderr, "%-40s %9d people %8.2f s\n", m.What, people, m.Seconds)
		}
		bySize[people] = got
		json := got["json"].Seconds
		for _, k := range []string{"io", "json", "ingest", "export", "export-whole"} {
			r := row{m: got[k], records: got["ingest"].Records}
			if strings.HasPrefix(k, "export") {
				r.ratio = got[k].Seconds / json
			}
			rows = append(rows, r)
		}
		_ = os.RemoveAll(engine)
	}

	printTable(rows)
	var tfResults []string
	if opts.terraform != "" && opts.provider != "" {
		tfResults, err = terraformOverhead(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Println()
		for _, line := range tfResults {
			fmt.Println(line)
		}
	}
	fmt.Println()
	printTargets(sizes, bySize)
	return nil
}

func printTable(rows []row) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "what\tpeople\twall s\trecords/s\tMB/s\tpeak RSS MiB\tto JSON floor\t")
	for _, r := range rows {
		m := r.m
		ratio := ""
		if r.ratio > 0 {
			ratio = fmt.Sprintf("%.2fx", r.ratio)
		}
		fmt.Fprintf(w, "%s\t%d\t%.2f\t%.0f\t%.0f\t%.0f\t%s\t\n", m.What, m.People, m.Seconds,
			float64(r.records)/m.Seconds, float64(m.Bytes)/(1<<20)/m.Seconds, float64(m.PeakRSS)/(1<<20), ratio)
	}
	_ = w.Flush()
}

func printTargets(sizes []int, bySize map[int]map[string]*measurement) {
	largest := sizes[len(sizes)-1]
	big := bySize[largest]
	const mib = 1 << 20
	fmt.Printf("targets at %d people:\n", largest)
	e, w := big["export"], big["export-whole"]
	fmt.Printf("  export with projection and eventList <= 20 s, RSS <= 512 MiB: %.2f s, %.0f MiB: %s\n",
		e.Seconds, float64(e.PeakRSS)/mib, met(e.Seconds <= 20 && e.PeakRSS <= 512*mib))
	fmt.Printf("  export of whole profiles <= 30 s, RSS <= 512 MiB: %.2f s, %.0f MiB: %s\n",
		w.Seconds, float64(w.PeakRSS)/mib, met(w.Seconds <= 30 && w.PeakRSS <= 512*mib))
	ratio := e.Seconds / big["json"].Seconds
	fmt.Printf("  export <= 2.0x the JSON floor: %.2fx: %s\n", ratio, met(ratio <= 2))
	in := big["ingest"]
	rate := float64(in.Records) / in.Seconds
	fmt.Printf("  ingestion >= 150000 records/s: %.0f records/s: %s\n", rate, met(rate >= 150000))
	if len(sizes) > 1 {
		small := bySize[sizes[0]]
		growth := e.Seconds / small["export"].Seconds
		scale := float64(largest) / float64(sizes[0])
		memGrowth := float64(e.PeakRSS) / float64(small["export"].PeakRSS)
		fmt.Printf("  growth %dx people: export time %.2fx (<= %.1fx), peak RSS %.2fx (flat): %s\n", int(scale), growth,
			scale*1.1, memGrowth, met(growth <= scale*1.1 && memGrowth <= 1.5))
	}
}
