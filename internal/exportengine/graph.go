package exportengine

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// maxGraphIdentities is AEP's guardrail: identity graphs with more identities are excluded from
// exports.
const maxGraphIdentities = 50

// identityGraph is a union-find over identities: every record links all of its identities, and a
// profile is a connected component.
type identityGraph struct {
	nodes  map[identity]int32
	ids    []identity
	parent []int32
}

func newIdentityGraph() *identityGraph {
	return &identityGraph{nodes: map[identity]int32{}}
}

func (g *identityGraph) node(id identity) int32 {
	if n, ok := g.nodes[id]; ok {
		return n
	}
	n := int32(len(g.ids))
	g.nodes[id] = n
	g.ids = append(g.ids, id)
	g.parent = append(g.parent, n)
	return n
}

func (g *identityGraph) find(n int32) int32 {
	for g.parent[n] != n {
		g.parent[n] = g.parent[g.parent[n]] // path halving
		n = g.parent[n]
	}
	return n
}

func (g *identityGraph) union(a, b int32) {
	ra, rb := g.find(a), g.find(b)
	if ra == rb {
		return
	}
	// The smaller index becomes the root, which keeps the result independent of union order.
	if rb < ra {
		ra, rb = rb, ra
	}
	g.parent[rb] = ra
}

// recordLoc locates a live record of the store for the stitched pass.
type recordLoc struct {
	group     int32 // the component's node, then its rank in row order
	batch     int32
	seq       uint64
	timestamp int64
	off       uint64
	size      uint32
	kind      recordKind
}

// produceStitched emits the profiles of the private identity graph: connected components of
// identities, in the order of each component's smallest identity. It reads the identities of
// every record first to build the graph, then the bodies, component by component.
func (e *Engine) produceStitched(ctx context.Context, snap *storeSnapshot, spec *exportSpec,
	emit func(identity, []*storedRecord) error, excluded *int64) error {
	g := newIdentityGraph()
	var locs []recordLoc
	for bi, b := range snap.batches {
		for run := range b.seg.runs {
			it := b.seg.iterateRunMeta(run)
			for it.advance() {
				r := &it.cur
				if b.isSuperseded(r.idx) {
					continue
				}
				first := g.node(r.identities[0])
				for _, id := range r.identities[1:] {
					g.union(first, g.node(id))
				}
				locs = append(locs, recordLoc{group: first, batch: int32(bi), seq: r.seq, timestamp: r.timestamp,
					off: r.bodyOff, size: r.bodyLen, kind: r.kind})
			}
			if it.err != nil {
				return fmt.Errorf("batch %s: %w", b.id, it.err)
			}
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
	}

	// Each component's size and smallest identity; components are ranked by that identity.
	n := len(g.ids)
	size := make([]int32, n)
	smallest := make([]int32, n)
	for i := range smallest {
		smallest[i] = -1
	}
	for i := range n {
		r := g.find(int32(i))
		size[r]++
		if s := smallest[r]; s < 0 || g.ids[i].compare(g.ids[s]) < 0 {
			smallest[r] = int32(i)
		}
	}
	var roots []int32
	for i := range n {
		if g.parent[i] == int32(i) {
			roots = append(roots, int32(i))
		}
	}
	slices.SortFunc(roots, func(a, b int32) int { return g.ids[smallest[a]].compare(g.ids[smallest[b]]) })
	rank := make([]int32, n)
	for i, r := range roots {
		rank[r] = int32(i)
	}
	for i := range locs {
		locs[i].group = rank[g.find(locs[i].group)]
	}
	slices.SortStableFunc(locs, func(a, b recordLoc) int { return cmp.Compare(a.group, b.group) })

	var recs []*storedRecord
	var pool []storedRecord
	for start := 0; start < len(locs); {
		end := start + 1
		for end < len(locs) && locs[end].group == locs[start].group {
			end++
		}
		root := roots[locs[start].group]
		group := locs[start:end]
		start = end
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if size[root] > maxGraphIdentities {
			if wouldExport(spec, snap, group) {
				*excluded++
			}
			continue
		}
		recs = recs[:0]
		pool = slices.Grow(pool[:0], len(group))[:len(group)]
		for i, l := range group {
			b := snap.batches[l.batch]
			r := &pool[i]
			r.kind, r.seq, r.timestamp, r.batch, r.eventID = l.kind, l.seq, l.timestamp, b, ""
			r.body = slices.Grow(r.body[:0], int(l.size))[:l.size]
			if _, err := b.seg.f.ReadAt(r.body, int64(l.off)); err != nil {
				return fmt.Errorf("batch %s: %w", b.id, corrupt(err))
			}
			recs = append(recs, r)
		}
		if err := emit(g.ids[smallest[root]], recs); err != nil {
			return err
		}
	}
	return nil
}

// wouldExport reports whether a component would have been a profile of the export: it has a
// fragment that counts under the merge policy, or events when empty profiles are exported.
func wouldExport(spec *exportSpec, snap *storeSnapshot, group []recordLoc) bool {
	for _, l := range group {
		b := snap.batches[l.batch]
		if l.kind == kindEvent {
			if spec.emptyProfiles {
				return true
			}
			continue
		}
		if spec.policy.attributeMerge != aepwire.AttributeMergeDataSetPrecedence || slices.Contains(spec.policy.order, b.datasetID) {
			return true
		}
	}
	return false
}
