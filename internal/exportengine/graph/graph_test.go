package graph

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

type id struct{ ns, id string }

// components links each group's identities and returns the components, smallest identity first,
// each as "size ns:id".
func components(t *testing.T, groups [][]id) []string {
	t.Helper()
	g := New()
	for _, grp := range groups {
		first := g.Node([]byte(grp[0].ns), []byte(grp[0].id))
		for _, x := range grp[1:] {
			g.Union(first, g.Node([]byte(x.ns), []byte(x.id)))
		}
	}
	_, c := g.Components()
	var out []string
	for r := range c.Len() {
		ns, id := c.Key(r)
		out = append(out, fmt.Sprintf("%d %s:%s", c.Size(r), ns, id))
	}
	return out
}

func TestComponents(t *testing.T) {
	for _, tc := range []struct {
		name   string
		groups [][]id
		want   []string
	}{
		{"nothing", nil, nil},
		{"one identity", [][]id{{{"Email", "a"}}}, []string{"1 Email:a"}},
		{"the same identity twice is one node", [][]id{{{"Email", "a"}}, {{"Email", "a"}}}, []string{"1 Email:a"}},
		{"a chain across records", [][]id{
			{{"Email", "a"}, {"ECID", "1"}},
			{{"ECID", "1"}, {"CRMID", "c"}},
			{{"Email", "b"}},
		}, []string{"3 CRMID:c", "1 Email:b"}},
		{"matching is exact and case-sensitive", [][]id{{{"Email", "A"}}, {{"Email", "a"}}, {{"email", "a"}}},
			[]string{"1 Email:A", "1 Email:a", "1 email:a"}},
		// The zero byte between namespace and id sorts a namespace before a longer one it prefixes.
		{"namespace before id", [][]id{{{"ab", "0"}}, {{"a", "z"}}}, []string{"1 a:z", "1 ab:0"}},
		{"namespace and id are not concatenated", [][]id{{{"ab", "c"}}, {{"a", "bc"}}}, []string{"1 a:bc", "1 ab:c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := components(t, tc.groups); !slices.Equal(got, tc.want) {
				t.Errorf("components %v, want %v", got, tc.want)
			}
		})
	}
}

// Ranks follow the components' smallest identities whatever the order the links come in, and
// every node is given its component's rank.
func TestRanksDoNotDependOnOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var groups [][]id
	person := map[id]int{}   // each identity's person
	smallest := map[int]id{} // each person's smallest identity
	for p := range 2000 {
		email, ecid := id{"Email", fmt.Sprintf("%04d@x", p)}, id{"ECID", fmt.Sprintf("e%04d", p)}
		groups = append(groups, []id{email, ecid})
		person[email], person[ecid], smallest[p] = p, p, ecid
		if p%3 == 0 {
			crm := id{"CRMID", fmt.Sprintf("c%04d", p)}
			groups = append(groups, []id{ecid, crm})
			person[crm], smallest[p] = p, crm
		}
	}
	want := components(t, groups)
	if len(want) != 2000 {
		t.Fatalf("%d components, want one a person", len(want))
	}
	for range 3 {
		rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
		for _, g := range groups {
			rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		}
		if got := components(t, groups); !slices.Equal(got, want) {
			t.Fatal("another order of links gives other components")
		}
	}
	g := New()
	nodes := map[id]uint32{}
	for _, grp := range groups {
		first := g.Node([]byte(grp[0].ns), []byte(grp[0].id))
		nodes[grp[0]] = first
		for _, x := range grp[1:] {
			n := g.Node([]byte(x.ns), []byte(x.id))
			nodes[x] = n
			g.Union(first, n)
		}
	}
	if g.Len() != len(nodes) {
		t.Errorf("%d nodes for %d identities", g.Len(), len(nodes))
	}
	ranks, c := g.Components()
	for x, n := range nodes {
		ns, key := c.Key(int(ranks[n]))
		if want := smallest[person[x]]; (id{ns, key}) != want {
			t.Fatalf("identity %v has the rank of %s:%s, want that of %v", x, ns, key, want)
		}
	}
}

// The table grows past its first size, and keys survive it.
func TestGrowth(t *testing.T) {
	g := New()
	const n = 200_000
	for i := range n {
		g.Node([]byte("NS"), fmt.Appendf(nil, "%07d", i))
	}
	for i := range n {
		if got := g.Node([]byte("NS"), fmt.Appendf(nil, "%07d", i)); got != uint32(i) {
			t.Fatalf("identity %d is node %d", i, got)
		}
	}
	if g.Len() != n {
		t.Errorf("%d nodes, want %d", g.Len(), n)
	}
}
