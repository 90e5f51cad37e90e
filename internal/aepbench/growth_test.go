package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The growth rounds run each round at the small size and then at the big one, shortRuns times,
// before the next round; each export's row at a size is its run of median time.
func TestGrowthRoundsAlternateTheSizes(t *testing.T) {
	rounds := growthSteps()
	var order []string
	calls := map[string]int{}
	got, err := growthRounds(rounds, 10, 100, func(people int, s growthStep) (*measurement, error) {
		args := strings.Join(s.args("ENGINE", fmt.Sprint(people)), " ")
		if !strings.Contains(args, "-engine ENGINE -people "+fmt.Sprint(people)) {
			t.Errorf("%s at %d people: args %q", s.key, people, args)
		}
		order = append(order, fmt.Sprintf("%s@%d", s.key, people))
		id := fmt.Sprintf("%s@%d", s.key, people)
		calls[id]++
		// The second run is the slowest, the third the fastest: the median is the first.
		seconds := map[int]float64{1: 2, 2: 3, 3: 1}[calls[id]] * float64(people)
		return &measurement{Seconds: seconds, PeakRSS: int64(calls[id])}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, round := range rounds {
		for range shortRuns {
			for _, people := range []int{10, 100} {
				for _, s := range round {
					want = append(want, fmt.Sprintf("%s@%d", s.key, people))
				}
			}
		}
	}
	if !slices.Equal(order, want) {
		t.Fatalf("the steps ran in the order\n%v\nwant\n%v", order, want)
	}
	if len(rounds) != 4 || len(rounds[0]) != 3 || rounds[0][1].key != "export-kept" || !strings.Contains(strings.Join(rounds[0][2].args("E", "1"), " "), "-graph kept") {
		t.Fatalf("rounds: %+v; want the two pdg exports in three ways each, then the two none exports", rounds)
	}
	for _, key := range growthExports {
		for _, people := range []int{10, 100} {
			m := got[people][key]
			if m == nil || m.Seconds != 2*float64(people) || m.PeakRSS != 3 || m.People != people || m.What == "" || !slices.Equal(m.Runs, []float64{float64(people), 2 * float64(people), 3 * float64(people)}) {
				t.Errorf("%s at %d people: %+v; want the median run, 2 s a person, the highest peak, its label and every run's time", key, people, m)
			}
		}
	}
	if g := growthTarget(got[10], got[100], 10); !strings.HasSuffix(g, ": met") || !strings.Contains(g, "export: none, 2 fields 10.00x") {
		t.Errorf("growth line: %q", g)
	}

	stop := errors.New("step failed")
	if _, err := growthRounds(rounds, 10, 100, func(int, growthStep) (*measurement, error) { return nil, stop }); !errors.Is(err, stop) {
		t.Errorf("a failing step: %v, want its error", err)
	}
}
