package exportengine

import (
	"context"
	"fmt"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/graph"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
)

// maxGraphIdentities is AEP's guardrail: identity graphs with more identities are excluded from
// exports.
const maxGraphIdentities = 50

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
	comps  *graph.Components
	starts []uint32 // where each component starts in order, by rank; one more at the end
}

// stitch reads the identities of every live record and groups the records into components.
func stitch(ctx context.Context, snap *storeSnapshot) (*stitched, error) {
	var total uint64
	for _, b := range snap.batches {
		total += b.seg.Stats().Records
	}
	st := &stitched{locs: make([]recordLoc, 0, total)}
	g := graph.New()
	for bi, b := range snap.batches {
		for run := range b.seg.Runs() {
			it := b.seg.RunMeta(run)
			for it.Next() {
				r := it.Record()
				if b.isSuperseded(r.Index) {
					continue
				}
				first := g.Node(r.IDs[0].NS, r.IDs[0].ID)
				for _, id := range r.IDs[1:] {
					g.Union(first, g.Node(id.NS, id.ID))
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
	ranks, comps := g.Components()
	g = nil // its memory goes before the records are sorted
	st.comps = comps
	for i := range st.locs {
		st.locs[i].group = ranks[st.locs[i].group]
	}

	// A counting sort of the records by rank, stable so that a component's records stay in ingest order.
	st.starts = make([]uint32, comps.Len()+1)
	for _, l := range st.locs {
		st.starts[l.group+1]++
	}
	for i := 1; i < len(st.starts); i++ {
		st.starts[i] += st.starts[i-1]
	}
	next := slices.Clone(st.starts[:comps.Len()])
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
	emit func(record.Identity, []recordLoc) error, excluded *int64) error {
	st, err := stitch(ctx, snap)
	if err != nil {
		return err
	}
	group := make([]recordLoc, 0, 64)
	for rank := range st.comps.Len() {
		if rank%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
		group = group[:0]
		for _, i := range st.order[st.starts[rank]:st.starts[rank+1]] {
			group = append(group, st.locs[i])
		}
		if st.comps.Size(rank) > maxGraphIdentities {
			if wouldExport(spec, snap, group) {
				*excluded++
			}
			continue
		}
		ns, id := st.comps.Key(rank)
		if err := emit(record.Identity{NS: ns, ID: id}, group); err != nil {
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
