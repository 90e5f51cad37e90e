package exportengine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// maxGraphIdentities is AEP's guardrail: identity graphs with more identities are excluded from
// exports.
const maxGraphIdentities = 50

// identityGraph is a union-find over the identities of the profile store: every record links all
// of its identities, and a profile is a connected component. Identities are interned into an
// arena of blocks (so that growing it never copies it), found through an open-addressing table;
// everything is pointer-free, so the garbage collector never walks it.
type identityGraph struct {
	seed   maphash.Seed
	slots  []uint32 // node+1; 0 is empty. Its length is a power of two.
	pos    []uint32 // node → where its bytes are in the arena
	parent []uint32
	blocks [][]byte
}

const (
	arenaBlockBits = 24 // 16 MiB blocks
	arenaBlockSize = 1 << arenaBlockBits
)

func newIdentityGraph() *identityGraph {
	return &identityGraph{seed: maphash.MakeSeed(), slots: make([]uint32, 1<<16)}
}

// key is an identity's bytes in the arena: namespace, a zero byte, id; length-prefixed there.
func (g *identityGraph) key(n uint32) []byte {
	p := g.pos[n]
	block := g.blocks[p>>arenaBlockBits]
	off := int(p & (arenaBlockSize - 1))
	l, k := binary.Uvarint(block[off:])
	return block[off+k : off+k+int(l)]
}

func (g *identityGraph) hash(ref idRef) uint64 {
	var h maphash.Hash
	h.SetSeed(g.seed)
	_, _ = h.Write(ref.ns)
	_ = h.WriteByte(0)
	_, _ = h.Write(ref.id)
	return h.Sum64()
}

func keyEquals(k []byte, ref idRef) bool {
	return len(k) == len(ref.ns)+1+len(ref.id) && bytes.Equal(k[:len(ref.ns)], ref.ns) && k[len(ref.ns)] == 0 &&
		bytes.Equal(k[len(ref.ns)+1:], ref.id)
}

// node returns the node of an identity, adding it when it is new.
func (g *identityGraph) node(ref idRef) uint32 {
	mask := uint64(len(g.slots) - 1)
	for i := g.hash(ref) & mask; ; i = (i + 1) & mask {
		s := g.slots[i]
		if s == 0 {
			n := g.add(ref)
			g.slots[i] = n + 1
			if uint64(len(g.pos))*2 > uint64(len(g.slots)) {
				g.grow()
			}
			return n
		}
		if keyEquals(g.key(s-1), ref) {
			return s - 1
		}
	}
}

func (g *identityGraph) add(ref idRef) uint32 {
	size := len(ref.ns) + 1 + len(ref.id)
	need := binary.MaxVarintLen64 + size
	if len(g.blocks) == 0 || len(g.blocks[len(g.blocks)-1])+need > arenaBlockSize {
		g.blocks = append(g.blocks, make([]byte, 0, max(arenaBlockSize, need)))
	}
	b := &g.blocks[len(g.blocks)-1]
	pos := uint32(len(g.blocks)-1)<<arenaBlockBits | uint32(len(*b))
	*b = binary.AppendUvarint(*b, uint64(size))
	*b = append(append(append(*b, ref.ns...), 0), ref.id...)
	n := uint32(len(g.pos))
	g.pos = append(g.pos, pos)
	g.parent = append(g.parent, n)
	return n
}

// grow doubles the table, placing every node again.
func (g *identityGraph) grow() {
	slots := make([]uint32, len(g.slots)*2)
	mask := uint64(len(slots) - 1)
	for n := range g.pos {
		k := g.key(uint32(n))
		sep := bytes.IndexByte(k, 0)
		for i := g.hash(idRef{ns: k[:sep], id: k[sep+1:]}) & mask; ; i = (i + 1) & mask {
			if slots[i] == 0 {
				slots[i] = uint32(n) + 1
				break
			}
		}
	}
	g.slots = slots
}

func (g *identityGraph) find(n uint32) uint32 {
	for g.parent[n] != n {
		g.parent[n] = g.parent[g.parent[n]] // path halving
		n = g.parent[n]
	}
	return n
}

func (g *identityGraph) union(a, b uint32) {
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

// identity is a node's identity as strings.
func (g *identityGraph) identity(n uint32) identity {
	k := g.key(n)
	sep := bytes.IndexByte(k, 0)
	return identity{ns: string(k[:sep]), id: string(k[sep+1:])}
}

// compareKeys orders two nodes' identities: namespace, then id, in byte order. The zero byte
// between them sorts a namespace before any longer one it prefixes.
func (g *identityGraph) compareKeys(a, b uint32) int { return bytes.Compare(g.key(a), g.key(b)) }

// recordLoc locates a live record of the store for the stitched pass: 32 bytes, pointer-free.
type recordLoc struct {
	off       uint64
	timestamp int64
	group     uint32 // the record's first identity's node, then its component's rank
	seq       uint32
	sizeKind  uint32 // the body's size (at most 1 GiB), and the record's kind in the top two bits
	batch     uint32
}

func (l *recordLoc) size() uint32     { return l.sizeKind & (1<<30 - 1) }
func (l *recordLoc) kind() recordKind { return recordKind(l.sizeKind >> 30) }

// stitched is the profile store grouped into the components of the private identity graph, in the
// order of each component's smallest identity.
type stitched struct {
	locs   []recordLoc // every live record, in ingest order
	order  []uint32    // indexes of locs, by component rank
	keys   []identity  // each component's smallest identity, by rank
	size   []uint32    // each component's number of identities, by rank
	starts []uint32    // where each component starts in order, by rank; one more at the end
}

// stitch reads the identities of every live record and groups the records into components.
func stitch(ctx context.Context, snap *storeSnapshot) (*stitched, error) {
	var total uint64
	for _, b := range snap.batches {
		total += b.seg.total
	}
	st := &stitched{locs: make([]recordLoc, 0, total)}
	g := newIdentityGraph()
	for bi, b := range snap.batches {
		for run := range b.seg.runs {
			it := b.seg.iterateRunMeta(run)
			for it.advance() {
				r := &it.cur
				if b.isSuperseded(r.idx) {
					continue
				}
				first := g.node(r.ids[0])
				for _, id := range r.ids[1:] {
					g.union(first, g.node(id))
				}
				st.locs = append(st.locs, recordLoc{group: first, batch: uint32(bi), seq: uint32(r.seq), timestamp: r.timestamp,
					off: r.bodyOff, sizeKind: r.bodyLen | uint32(r.kind)<<30})
			}
			if it.err != nil {
				return nil, fmt.Errorf("batch %s: %w", b.id, it.err)
			}
			if err := ctx.Err(); err != nil {
				return nil, context.Cause(ctx)
			}
		}
	}
	g.slots = nil // interning is over

	// Each component's size and smallest identity; components are ranked by that identity.
	n := uint32(len(g.pos))
	smallest := make([]uint32, n)
	for i := range n {
		smallest[i] = i
	}
	count := make([]uint32, n)
	for i := range n {
		r := g.find(i)
		count[r]++
		if g.compareKeys(i, smallest[r]) < 0 {
			smallest[r] = i
		}
	}
	var roots []uint32
	for i := range n {
		if g.parent[i] == i {
			roots = append(roots, i)
		}
	}
	slices.SortFunc(roots, func(a, b uint32) int { return g.compareKeys(smallest[a], smallest[b]) })
	rank := count // reused: a node's rank, for roots
	st.keys = make([]identity, len(roots))
	st.size = make([]uint32, len(roots))
	for i, r := range roots {
		st.size[i] = count[r]
		rank[r] = uint32(i)
		st.keys[i] = g.identity(smallest[r])
	}
	for i := range st.locs {
		st.locs[i].group = rank[g.find(st.locs[i].group)]
	}
	smallest, g = nil, nil

	// A counting sort of the records by rank, stable so that a component's records stay in ingest order.
	st.starts = make([]uint32, len(roots)+1)
	for _, l := range st.locs {
		st.starts[l.group+1]++
	}
	for i := 1; i < len(st.starts); i++ {
		st.starts[i] += st.starts[i-1]
	}
	next := slices.Clone(st.starts[:len(roots)])
	st.order = make([]uint32, len(st.locs))
	for i, l := range st.locs {
		st.order[next[l.group]] = uint32(i)
		next[l.group]++
	}
	return st, nil
}

// produceStitched emits the profiles of the private identity graph, in the order of each
// component's smallest identity. It sends the records' locations: the workers read the bodies.
func (e *Engine) produceStitched(ctx context.Context, snap *storeSnapshot, spec *exportSpec,
	emit func(identity, []recordLoc) error, excluded *int64) error {
	st, err := stitch(ctx, snap)
	if err != nil {
		return err
	}
	for _, b := range snap.batches {
		if err := b.seg.mapBodies(); err != nil {
			return fmt.Errorf("batch %s: %w", b.id, err)
		}
	}
	// The workers read bodies at random across the mappings; every so often their pages are let
	// go, so that the resident set stays small whatever the size of the store.
	var sent int64
	group := make([]recordLoc, 0, 64)
	for rank := range st.keys {
		if rank%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
		group = group[:0]
		for _, i := range st.order[st.starts[rank]:st.starts[rank+1]] {
			group = append(group, st.locs[i])
		}
		if st.size[rank] > maxGraphIdentities {
			if wouldExport(spec, snap, group) {
				*excluded++
			}
			continue
		}
		if err := emit(st.keys[rank], group); err != nil {
			return err
		}
		for _, l := range group {
			sent += int64(l.size())
		}
		if sent >= releaseEvery {
			sent = 0
			for _, b := range snap.batches {
				releaseMapped(b.seg.mapped)
			}
		}
	}
	return nil
}

// releaseEvery is how many bytes of bodies a stitched export reads between releases of the
// mappings' pages.
const releaseEvery = 64 << 20

// wouldExport reports whether a component would have been a profile of the export: it has a
// fragment that counts under the merge policy, or events when empty profiles are exported.
func wouldExport(spec *exportSpec, snap *storeSnapshot, group []recordLoc) bool {
	for _, l := range group {
		b := snap.batches[l.batch]
		if l.kind() == kindEvent {
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
