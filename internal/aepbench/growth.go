package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strconv"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
)

// pdgExports are the exports through the private identity graph, each measured three ways
// (pdgWays).
var pdgExports = []struct{ key, label, fields, eventFields string }{
	{"export", "fields, eventList", benchFields, benchEventFields},
	{"export-whole", "whole profiles, eventList", "", ""},
}

// pdgWays are the three ways a pdg export is measured, in the order they run: building the graph,
// as the first export after an ingestion does; reading the graph that export kept, and keeping
// the event bodies, as the second does; and reading both, as the exports after it do.
var pdgWays = []struct{ suffix, label, graph string }{
	{"", "", "built"},
	{"-kept", ", graph kept", "kept"},
	{"-bodies", ", graph and event bodies kept", "kept"},
}

func pdgExportArgs(engine, people, fields, eventFields, graph string) []string {
	return []string{"export", "-engine", engine, "-people", people, "-fields", fields, "-event-fields", eventFields, "-graph", graph}
}

func noneExportArgs(engine, people, fields string) []string {
	return []string{"export", "-engine", engine, "-people", people, "-policy", aepwire.MergePolicyDefaultNone, "-fields", fields, "-events=false"}
}

// engineDir is where the driver keeps the engine's store of a size.
func engineDir(dataDir string, people int) string {
	return filepath.Join(dataDir, fmt.Sprintf("engine-%d", people))
}

// storeFiles are what an export of the store in engine reads: its segments and kept graphs.
func storeFiles(engine string) []string {
	segs, _ := filepath.Glob(filepath.Join(engine, "batches", "*", segment.FileName))
	return append(segs, filepath.Join(engine, "graphs"))
}

// growthStep is one export of a growth round: key names its row, args run it at a size.
type growthStep struct {
	key, what string
	args      func(engine, people string) []string
}

// growthSteps are the exports whose growth is a target (growthExports), as rounds: the steps of a
// round run in order at one size, then at the next. A pdg export's three ways make one round,
// since the second and third read what the first kept.
func growthSteps() [][]growthStep {
	var rounds [][]growthStep
	for _, x := range pdgExports {
		var round []growthStep
		for _, w := range pdgWays {
			round = append(round, growthStep{x.key + w.suffix, "export: pdg, " + x.label + w.label, func(engine, people string) []string {
				return pdgExportArgs(engine, people, x.fields, x.eventFields, w.graph)
			}})
		}
		rounds = append(rounds, round)
	}
	for _, x := range peerExports {
		rounds = append(rounds, []growthStep{{x.key, "export: none, " + x.label, func(engine, people string) []string {
			return noneExportArgs(engine, people, x.fields)
		}}})
	}
	return rounds
}

// growthRounds measures each export's growth from small to big people with the two sizes' runs
// in turn: shortRuns times, a round at small and then the same round at big, so that both sizes
// meet the VM at the same moments. The table's rows measure one size's steps together, minutes
// from the other size's, and on a shared VM the moment moves a step's time by more than the
// target's margin (BENCHMARKS.md, runs 37 and 38). run measures one step at a size; it returns
// the run of median time of each export at each size (medianRun).
func growthRounds(rounds [][]growthStep, small, big int, run func(people int, s growthStep) (*measurement, error)) (map[int]map[string]*measurement, error) {
	runs := map[int]map[string][]*measurement{small: {}, big: {}}
	for _, round := range rounds {
		for range shortRuns {
			for _, people := range []int{small, big} {
				for _, s := range round {
					m, err := run(people, s)
					if err != nil {
						return nil, err
					}
					m.What, m.People = s.what, people
					runs[people][s.key] = append(runs[people][s.key], m)
				}
			}
		}
	}
	got := map[int]map[string]*measurement{}
	for people, byKey := range runs {
		got[people] = map[string]*measurement{}
		for key, ms := range byKey {
			got[people][key] = medianRun(ms)
		}
	}
	return got, nil
}

// measureGrowth runs growthRounds on the stores measureSize left in opts.dataDir.
func measureGrowth(ctx context.Context, opts driverOptions, small, big int) (map[int]map[string]*measurement, error) {
	return growthRounds(growthSteps(), small, big, func(people int, s growthStep) (*measurement, error) {
		engine := engineDir(opts.dataDir, people)
		if err := warm(storeFiles(engine)); err != nil {
			return nil, err
		}
		return child(ctx, s.args(engine, strconv.Itoa(people))...)
	})
}

// printGrowthRuns lists the runs of each export in the growth rounds, at both sizes.
func printGrowthRuns(w io.Writer, small, big int, got map[int]map[string]*measurement) {
	fmt.Fprintf(w, "\ngrowth rounds (each export at %d people, then at %d, %d times; the time of each run, fastest first):\n", small, big, shortRuns)
	for _, key := range growthExports {
		s, b := got[small][key], got[big][key]
		if s == nil || b == nil {
			continue
		}
		fmt.Fprintf(w, "  %s: %s s; %s s: %.2fx\n", b.What, runTimes(s), runTimes(b), b.Seconds/s.Seconds)
	}
}
