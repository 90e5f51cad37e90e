package graph

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

type id struct{ ns, id string }

// Run sizes the tests build with: everything in memory, and runs so small that every few
// identities spill to a file of their own.
var runSizes = []int{RunSize, 512}

// build gives each record (a group of identities) to a builder and returns the components.
func build(t *testing.T, records [][]id, runSize int) *Components {
	t.Helper()
	_, c := buildWith(t, records, runSize)
	return c
}

// buildWith is build, and the builder too.
func buildWith(t *testing.T, records [][]id, runSize int) (*Builder, *Components) {
	t.Helper()
	var adds []add
	for r, grp := range records {
		for _, x := range grp {
			adds = append(adds, add{uint32(r), x})
		}
	}
	return buildAdds(t, len(records), adds, runSize)
}

// add is an identity of a record, as a builder is given it.
type add struct {
	record uint32
	x      id
}

// buildAdds gives a builder of so many records the adds, in their order, and returns it and the
// components, which the test closes when it ends.
func buildAdds(t *testing.T, records int, adds []add, runSize int) (*Builder, *Components) {
	t.Helper()
	b, err := NewBuilder(t.TempDir(), records, runSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range adds {
		if err := b.Add(a.record, []byte(a.x.ns), []byte(a.x.id)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := b.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return b, c
}

// components lists the components of the records in rank order, each as "size ns:id" with its
// smallest identity, and gives each record's component as an index of that list.
func components(t *testing.T, records [][]id, runSize int) (list []string, of []int) {
	t.Helper()
	return describe(t, build(t, records, runSize), records)
}

// describe is components of a graph built of records.
func describe(t *testing.T, c *Components, records [][]id) (list []string, of []int) {
	t.Helper()
	var comps, byRecord []uint32
	for r := range records {
		comp, ok, err := c.Of(uint32(r))
		if err != nil {
			t.Fatal(err)
		}
		if ok != (len(records[r]) > 0) {
			t.Fatalf("record %d with %d identities: Of says %v", r, len(records[r]), ok)
		}
		byRecord = append(byRecord, comp)
		if ok {
			comps = append(comps, comp)
		}
	}
	if err := c.ReleaseRecords(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(comps)
	comps = slices.Compact(comps)
	for _, comp := range comps {
		ns, key, err := c.Key(comp)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, fmt.Sprintf("%d %s:%s", c.Size(comp), ns, key))
	}
	for _, comp := range byRecord {
		i, _ := slices.BinarySearch(comps, comp)
		of = append(of, i)
	}
	return list, of
}

func TestComponents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records [][]id
		want    []string
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
		{"a record without identities is in no component", [][]id{{}, {{"Email", "a"}}}, []string{"1 Email:a"}},
		{"sizes count identities, not records", [][]id{
			{{"ECID", "1"}, {"ECID", "2"}, {"ECID", "3"}},
			{{"ECID", "3"}, {"ECID", "1"}},
		}, []string{"3 ECID:1"}},
	} {
		for _, size := range runSizes {
			t.Run(fmt.Sprintf("%s/runs of %d", tc.name, size), func(t *testing.T) {
				if got, _ := components(t, tc.records, size); !slices.Equal(got, tc.want) {
					t.Errorf("components %v, want %v", got, tc.want)
				}
			})
		}
	}
}

// Components and ranks follow the identities whatever the order the records and their identities
// come in, and every record is given its person's component.
func TestRanksDoNotDependOnOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var records [][]id
	person := map[id]int{}   // each identity's person
	smallest := map[int]id{} // each person's smallest identity
	for p := range 2000 {
		email, ecid := id{"Email", fmt.Sprintf("%04d@x", p)}, id{"ECID", fmt.Sprintf("e%04d", p)}
		records = append(records, []id{email, ecid})
		person[email], person[ecid], smallest[p] = p, p, ecid
		if p%3 == 0 {
			crm := id{"CRMID", fmt.Sprintf("c%04d", p)}
			records = append(records, []id{ecid, crm})
			person[crm], smallest[p] = p, crm
		}
	}
	want, _ := components(t, records, RunSize)
	if len(want) != 2000 {
		t.Fatalf("%d components, want one a person", len(want))
	}
	for round := range 3 {
		rng.Shuffle(len(records), func(i, j int) { records[i], records[j] = records[j], records[i] })
		for _, g := range records {
			rng.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		}
		got, of := components(t, records, runSizes[round%2])
		if !slices.Equal(got, want) {
			t.Fatal("another order of records gives other components")
		}
		for r, grp := range records {
			w := smallest[person[grp[0]]]
			if wantKey := fmt.Sprintf(" %s:%s", w.ns, w.id); got[of[r]][1:] != wantKey {
				t.Fatalf("record %v is in component %q, want the one of %s", grp, got[of[r]], wantKey)
			}
		}
	}
}

// The builder finds the components a plain union-find over maps finds, on random graphs spilled
// into many runs.
func TestComponentsMatchAPlainUnionFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for round := range 4 {
		pool := 50 + rng.IntN(3000)
		records := make([][]id, 1+rng.IntN(5000))
		for r := range records {
			for range rng.IntN(4) {
				records[r] = append(records[r], id{[]string{"ECID", "Email", "CRMID", "E"}[rng.IntN(4)], fmt.Sprint(rng.IntN(pool))})
			}
			// Half the records share identities with the record before, as a person's events do:
			// they are linked to it.
			if r > 0 && rng.IntN(2) == 0 {
				for _, x := range records[r-1] {
					if rng.IntN(2) == 0 {
						records[r] = append(records[r], x)
					}
				}
				rng.Shuffle(len(records[r]), func(i, j int) { records[r][i], records[r][j] = records[r][j], records[r][i] })
			}
		}
		parent := map[id]id{}
		var find func(x id) id
		find = func(x id) id {
			if p, ok := parent[x]; ok && p != x {
				r := find(p)
				parent[x] = r
				return r
			}
			parent[x] = x
			return x
		}
		for _, grp := range records {
			for _, x := range grp {
				a, b := find(grp[0]), find(x)
				if a != b {
					parent[b] = a
				}
			}
		}
		members := map[id][]id{}
		for x := range parent {
			r := find(x)
			members[r] = append(members[r], x)
		}
		var want []string
		for _, m := range members {
			smallest := slices.MinFunc(m, func(a, b id) int {
				return cmpKeys(a, b)
			})
			want = append(want, fmt.Sprintf("%d %s:%s", min(len(m), 255), smallest.ns, smallest.id))
		}
		slices.SortFunc(want, func(a, b string) int { return cmpKeys(keyOf(a), keyOf(b)) })

		got, of := components(t, records, 512<<round)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: components differ from the plain union-find's:\n got %v\nwant %v", round, got, want)
		}
		for r, grp := range records {
			if len(grp) == 0 {
				continue
			}
			root := find(grp[0])
			if sm := slices.MinFunc(members[root], cmpKeys); got[of[r]] != fmt.Sprintf("%d %s:%s", min(len(members[root]), 255), sm.ns, sm.id) {
				t.Fatalf("round %d: record %d is in %q", round, r, got[of[r]])
			}
		}
	}
}

// A record that shares an identity with the record before it is linked to it: the identities they
// share go to the sort once, and the record is still in its person's component, whether or not
// it has identities of its own left.
func TestLinkedRecordsSortSharedIdentitiesOnce(t *testing.T) {
	var records [][]id
	for p := range 500 {
		ecid, email := id{"ECID", fmt.Sprintf("e%03d", p)}, id{"Email", fmt.Sprintf("%03d@x", p)}
		// A person's events: the first names the browser alone, the second signs in, the third
		// names the browser again; every second person signs in on a second browser, in a fourth
		// that shares nothing with the third.
		records = append(records, []id{ecid}, []id{email, ecid}, []id{ecid})
		if p%2 == 1 {
			records = append(records, []id{email, {"ECID", fmt.Sprintf("f%03d", p)}})
		}
	}
	for _, size := range runSizes {
		b, c := buildWith(t, records, size)
		// Each person's ECID and email once; the fourth record shares nothing with the third, so
		// both its identities are sorted. Unlinked, it would be 4 a person and 2 more every second.
		if want := 500*2 + 250*2; b.sorted != want {
			t.Errorf("runs of %d: %d identities sorted, want %d", size, b.sorted, want)
		}
		var byRecord []uint32
		for r := range records {
			comp, ok, err := c.Of(uint32(r))
			if err != nil || !ok {
				t.Fatalf("record %d: %v, %v", r, ok, err)
			}
			byRecord = append(byRecord, comp)
		}
		r := 0
		for p := range 500 {
			n := 3 + p%2
			for i := 1; i < n; i++ {
				if byRecord[r+i] != byRecord[r] {
					t.Fatalf("runs of %d: person %d's record %d is in component %d, its first in %d", size, p, i, byRecord[r+i], byRecord[r])
				}
			}
			if p > 0 && byRecord[r] == byRecord[r-1] {
				t.Fatalf("runs of %d: person %d shares a component with the person before", size, p)
			}
			wantSize := 2 + p%2
			if got := c.Size(byRecord[r]); got != wantSize {
				t.Fatalf("runs of %d: person %d's component has %d identities, want %d", size, p, got, wantSize)
			}
			r += n
		}
	}
}

// Identities of records that come interleaved, or records out of order, are linked only where a
// record comes right after the one before it and shares an identity; the components are the same.
func TestInterleavedRecordsAreLinkedRightly(t *testing.T) {
	adds := []add{
		{0, id{"ECID", "1"}}, {1, id{"ECID", "2"}}, {0, id{"Email", "a"}}, // record 0 comes twice
		{1, id{"Email", "a"}},                      // linked to record 0's second part
		{3, id{"ECID", "3"}}, {2, id{"ECID", "3"}}, // 2 after 3: not linked, shares by the sort
		{4, id{"ECID", "4"}}, {5, id{"ECID", "4"}}, {5, id{"ECID", "5"}},
		{7, id{"ECID", "5"}}, // not right after record 5: sorted, and joins by it
		{6, id{"ECID", "6"}},
	}
	want := []string{"3 ECID:1", "3 ECID:1", "1 ECID:3", "1 ECID:3", "2 ECID:4", "2 ECID:4", "1 ECID:6", "2 ECID:4", ""}
	records := make([][]id, len(want)) // record 8 has no identities
	for _, a := range adds {
		records[a.record] = append(records[a.record], a.x)
	}
	_, c := buildAdds(t, len(records), adds, 512)
	list, of := describe(t, c, records)
	for r, w := range want {
		got := ""
		if len(records[r]) > 0 {
			got = list[of[r]]
		}
		if got != w {
			t.Errorf("record %d: %q, want %q", r, got, w)
		}
	}
}

// A record with more identities than linking compares (maxLinkChecks) is not linked, though it
// shares one with the record before: all its identities are sorted, and it joins by the sort.
func TestARecordTooLargeToLinkIsSorted(t *testing.T) {
	var big0, big1 []id
	for i := range 17 { // 17 × 17 pairs to compare, past maxLinkChecks
		big0 = append(big0, id{"E", fmt.Sprint("a", i)})
		big1 = append(big1, id{"E", fmt.Sprint("b", i)})
	}
	big1[16] = big0[0] // the one identity they share
	for _, size := range runSizes {
		b, c := buildWith(t, [][]id{big0, big1}, size)
		if b.isLinked(1) || b.sorted != 34 {
			t.Errorf("runs of %d: linked %v, %d identities sorted; want not linked, 34", size, b.isLinked(1), b.sorted)
		}
		if list, of := describe(t, c, [][]id{big0, big1}); !slices.Equal(list, []string{"33 E:a0"}) || of[0] != of[1] {
			t.Errorf("runs of %d: components %v, records in %v; want one of 33 identities", size, list, of)
		}
	}
}

// Components are the same whatever the order the identities are added in: records whole and in
// order (where most that share are linked), each record's identities split into groups with
// neighbouring groups swapped, and records in reverse order (where none is linked).
func TestComponentsDoNotDependOnTheOrderOfAdds(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for round := range 10 {
		size := runSizes[round%2]
		records := make([][]id, 1+rng.IntN(300))
		for r := range records {
			for range rng.IntN(4) {
				records[r] = append(records[r], id{[]string{"ECID", "Email"}[rng.IntN(2)], fmt.Sprint(rng.IntN(300))})
			}
			if r > 0 && rng.IntN(2) == 0 {
				records[r] = append(records[r], records[r-1]...)
			}
		}
		want, wantOf := components(t, records, size)
		var groups [][]add
		for r, grp := range records {
			for len(grp) > 0 {
				n := 1 + rng.IntN(len(grp))
				var g []add
				for _, x := range grp[:n] {
					g = append(g, add{uint32(r), x})
				}
				groups, grp = append(groups, g), grp[n:]
			}
		}
		split := slices.Clone(groups)
		for i := 0; i+1 < len(split); i += 2 {
			if rng.IntN(2) == 0 {
				split[i], split[i+1] = split[i+1], split[i]
			}
		}
		reversed := slices.Clone(groups)
		slices.Reverse(reversed)
		for name, order := range map[string][][]add{"split and swapped": split, "reversed": reversed} {
			_, c := buildAdds(t, len(records), slices.Concat(order...), size)
			if got, gotOf := describe(t, c, records); !slices.Equal(got, want) || !slices.Equal(gotOf, wantOf) {
				t.Fatalf("round %d, %s: components %v of records %v, want %v of %v", round, name, got, gotOf, want, wantOf)
			}
		}
	}
}

func cmpKeys(a, b id) int {
	return slices.Compare([]byte(a.ns+"\x00"+a.id), []byte(b.ns+"\x00"+b.id))
}

// keyOf reads an identity back from "size ns:id".
func keyOf(s string) id {
	var size int
	var rest string
	_, _ = fmt.Sscanf(s, "%d %s", &size, &rest)
	for i := range rest {
		if rest[i] == ':' {
			return id{rest[:i], rest[i+1:]}
		}
	}
	return id{}
}

// Build leaves its identities' and records' files in the directory until the components are
// closed, and nothing after; the files are private.
func TestFilesAreRemoved(t *testing.T) {
	dir := t.TempDir()
	b, err := NewBuilder(dir, 1000, 512, nil)
	if err != nil {
		t.Fatal(err)
	}
	for r := range 1000 {
		if err := b.Add(uint32(r), []byte("ECID"), fmt.Appendf(nil, "%d", r%300)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := b.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("after Build the directory holds %d files, want the identities' and the records' files", len(entries))
	}
	for _, e := range entries {
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v; want mode 0600", e.Name(), info.Mode(), err)
		}
	}
	if _, _, err := c.Of(1); err == nil {
		t.Fatal("Of took record 1 before record 0")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("after Close the directory holds %d files", len(entries))
	}
}

// A cancelled context stops a build, and the build says why.
func TestBuildStopsWhenCancelled(t *testing.T) {
	b, err := NewBuilder(t.TempDir(), 10, RunSize, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(0, []byte("ECID"), []byte("1")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopped")
	cancel(stop)
	if _, err := b.Build(ctx); !errors.Is(err, stop) {
		t.Fatalf("Build of a cancelled context: %v, want %v", err, stop)
	}
}
