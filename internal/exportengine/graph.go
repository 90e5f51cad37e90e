package exportengine

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
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

func (g *identityGraph) hash(ref segment.IDRef) uint64 {
	var h maphash.Hash
	h.SetSeed(g.seed)
	_, _ = h.Write(ref.NS)
	_ = h.WriteByte(0)
	_, _ = h.Write(ref.ID)
	return h.Sum64()
}

func keyEquals(k []byte, ref segment.IDRef) bool {
	return len(k) == len(ref.NS)+1+len(ref.ID) && bytes.Equal(k[:len(ref.NS)], ref.NS) && k[len(ref.NS)] == 0 &&
		bytes.Equal(k[len(ref.NS)+1:], ref.ID)
}

// node returns the node of an identity, adding it when it is new.
func (g *identityGraph) node(ref segment.IDRef) uint32 {
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

func (g *identityGraph) add(ref segment.IDRef) uint32 {
	size := len(ref.NS) + 1 + len(ref.ID)
	need := binary.MaxVarintLen64 + size
	if len(g.blocks) == 0 || len(g.blocks[len(g.blocks)-1])+need > arenaBlockSize {
		g.blocks = append(g.blocks, make([]byte, 0, max(arenaBlockSize, need)))
	}
	b := &g.blocks[len(g.blocks)-1]
	pos := uint32(len(g.blocks)-1)<<arenaBlockBits | uint32(len(*b))
	*b = binary.AppendUvarint(*b, uint64(size))
	*b = append(append(append(*b, ref.NS...), 0), ref.ID...)
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
		for i := g.hash(segment.IDRef{NS: k[:sep], ID: k[sep+1:]}) & mask; ; i = (i + 1) & mask {
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

// compareKeys orders two nodes' identities: namespace, then id, in byte order. The zero byte
// between them sorts a namespace before any longer one it prefixes.
func (g *identityGraph) compareKeys(a, b uint32) int { return bytes.Compare(g.key(a), g.key(b)) }

// recordLoc locates a live record of the store for the stitched pass: 24 bytes, pointer-free.
type recordLoc struct {
	offSizeKind uint64 // the body's offset (40 bits), its size (22 bits) and the record's kind (2 bits)
	order       int64  // a fragment's sequence in its batch; an event's timestamp
	group       uint32 // the record's first identity's node, then its component's rank
	batch       uint32
}

const (
	locSizeBits = 22
	locOffBits  = 40
)

func newRecordLoc(r *segment.Record, batch int) (recordLoc, bool) {
	if r.BodyOff >= 1<<locOffBits || r.BodyLen >= 1<<locSizeBits {
		return recordLoc{}, false
	}
	l := recordLoc{offSizeKind: r.BodyOff | uint64(r.BodyLen)<<locOffBits | uint64(r.Kind)<<(locOffBits+locSizeBits),
		batch: uint32(batch), order: int64(r.Seq)}
	if r.Kind == record.Event {
		l.order = r.Timestamp
	}
	return l, true
}

func (l *recordLoc) off() uint64  { return l.offSizeKind & (1<<locOffBits - 1) }
func (l *recordLoc) size() uint32 { return uint32(l.offSizeKind>>locOffBits) & (1<<locSizeBits - 1) }
func (l *recordLoc) kind() record.Kind {
	return record.Kind(l.offSizeKind >> (locOffBits + locSizeBits))
}

// record is the stored record a location stands for, with its body.
func (l *recordLoc) record(b *snapBatch, body []byte) storedRecord {
	r := storedRecord{kind: l.kind(), body: body, batch: b}
	if r.kind == record.Event {
		r.timestamp = l.order
	} else {
		r.seq = uint64(l.order)
	}
	return r
}

// stitched is the profile store grouped into the components of the private identity graph, in the
// order of each component's smallest identity.
type stitched struct {
	locs   []recordLoc // every live record, in ingest order
	order  []uint32    // indexes of locs, by component rank
	keys   keyList     // each component's smallest identity, by rank
	size   []uint32    // each component's number of identities, by rank
	starts []uint32    // where each component starts in order, by rank; one more at the end
}

// stitch reads the identities of every live record and groups the records into components.
func stitch(ctx context.Context, snap *storeSnapshot) (*stitched, error) {
	var total uint64
	for _, b := range snap.batches {
		total += b.seg.Stats().Records
	}
	st := &stitched{locs: make([]recordLoc, 0, total)}
	g := newIdentityGraph()
	for bi, b := range snap.batches {
		for run := range b.seg.Runs() {
			it := b.seg.RunMeta(run)
			for it.Next() {
				r := it.Record()
				if b.isSuperseded(r.Index) {
					continue
				}
				first := g.node(r.IDs[0])
				for _, id := range r.IDs[1:] {
					g.union(first, g.node(id))
				}
				l, ok := newRecordLoc(r, bi)
				if !ok {
					return nil, fmt.Errorf("batch %s: a record of %d bytes at %d is past what an export can place", b.id, r.BodyLen, r.BodyOff)
				}
				l.group = first
				st.locs = append(st.locs, l)
			}
			if err := it.Err(); err != nil {
				return nil, fmt.Errorf("batch %s: %w", b.id, err)
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
	st.keys.ends = make([]int, 0, len(roots))
	st.size = make([]uint32, len(roots))
	for i, r := range roots {
		st.size[i] = count[r]
		rank[r] = uint32(i)
		st.keys.add(g.key(smallest[r]))
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

// keyList holds identities as their arena keys (namespace, a zero byte, id), end to end: a
// string pair for each would cost twice the memory.
type keyList struct {
	bytes []byte
	ends  []int
	ns    map[string]string // namespaces, interned
}

func (k *keyList) add(key []byte) {
	k.bytes = append(k.bytes, key...)
	k.ends = append(k.ends, len(k.bytes))
}

func (k *keyList) len() int { return len(k.ends) }

func (k *keyList) identity(i int) record.Identity {
	start := 0
	if i > 0 {
		start = k.ends[i-1]
	}
	key := k.bytes[start:k.ends[i]]
	sep := bytes.IndexByte(key, 0)
	if k.ns == nil {
		k.ns = map[string]string{}
	}
	ns, ok := k.ns[string(key[:sep])]
	if !ok {
		ns = string(key[:sep])
		k.ns[ns] = ns
	}
	return record.Identity{NS: ns, ID: string(key[sep+1:])}
}

// produceStitched emits the profiles of the private identity graph, in the order of each
// component's smallest identity. It sends the records' locations: the workers read the bodies.
func (e *Engine) produceStitched(ctx context.Context, snap *storeSnapshot, spec *exportSpec,
	emit func(record.Identity, []recordLoc) error, excluded *int64) error {
	st, err := stitch(ctx, snap)
	if err != nil {
		return err
	}
	group := make([]recordLoc, 0, 64)
	for rank := range st.keys.len() {
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
		if err := emit(st.keys.identity(rank), group); err != nil {
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
		if l.kind() == record.Event {
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
