package exportengine

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/extsort"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/graph"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// maxGraphIdentities is AEP's guardrail: identity graphs with more identities are excluded from
// exports.
const maxGraphIdentities = 50

// recordLoc locates a live record of the store for the stitched pass: pointer-free, and written
// to the external sort as recordLocSize bytes.
type recordLoc struct {
	offSizeKind uint64 // the body's offset (40 bits), its size (22 bits) and the record's kind (2 bits)
	order       int64  // a fragment's sequence in its batch; an event's timestamp
	batch       uint32
	// kept is where an event's body is in the event bodies kept with the graph, plus one; 0
	// when it is read from its batch. It is not written to the sort.
	kept uint64
}

const (
	locSizeBits   = 22
	locOffBits    = 40
	recordLocSize = 20
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

func (l *recordLoc) append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, l.offSizeKind)
	b = binary.BigEndian.AppendUint64(b, uint64(l.order))
	return binary.BigEndian.AppendUint32(b, l.batch)
}

func decodeRecordLoc(b []byte) recordLoc {
	return recordLoc{offSizeKind: binary.BigEndian.Uint64(b), order: int64(binary.BigEndian.Uint64(b[8:])),
		batch: binary.BigEndian.Uint32(b[16:])}
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

// produceStitched emits the profiles of the private identity graph, in the order of each
// component's smallest identity, each with the namespace of that identity (its row identity) and
// its records in ingest order. It sends the records' locations: the workers read the bodies.
//
// Its memory does not hold the store: the identity graph is built out of core (package graph),
// and the records' places are grouped by component through an external sort, both in files
// under scratch. Live records are numbered in the order eachLive visits them, twice: once to
// give the graph their identities, once to place them in their components.
//
// What it emits it also keeps, in the sandbox's kept graph (keptGraphPath), named by the store
// (graphKey); an export of a store whose graph is kept reads the components from there instead
// (emitKept).
func (e *Engine) produceStitched(ctx context.Context, snap *storeSnapshot, spec *exportSpec, scratch string, progress *jobs.Progress,
	emit func(ns string, locs []recordLoc) error, excluded *int64) (err error) {
	if err := os.RemoveAll(scratch); err != nil { // what an interrupted attempt left
		return err
	}
	if err := os.MkdirAll(scratch, privateDir); err != nil {
		return err
	}
	defer func() {
		if rerr := os.RemoveAll(scratch); err == nil {
			err = rerr
		}
	}()
	var total uint64
	for _, b := range snap.batches {
		total += b.seg.Stats().Records
	}
	if total >= math.MaxUint32 {
		return fmt.Errorf("the profile store holds %d records, more than an export through the identity graph can number", total)
	}
	keepPath, key := e.keptGraphPath(snap.sandbox), snap.graphKey()
	// A place is valid if it names a batch of the store and a kind of record; reading it checks
	// the rest against the batch's segment.
	validLoc := func(v []byte) bool {
		l := decodeRecordLoc(v)
		return int(l.batch) < len(snap.batches) && l.kind() <= record.Event
	}
	// fromKept emits the profiles of a kept graph that checked out.
	fromKept := func(kept *graph.KeptReader) error {
		defer kept.Close()
		if h := e.hooks.GraphDone; h != nil {
			h(true, nil)
		}
		return emitKept(ctx, snap, spec, kept, emit, excluded)
	}
	// An export of a store takes its turn (startGraphBuild) before it looks for the store's kept
	// graph: while another export of this engine builds the graph, or keeps its event bodies,
	// this one waits, then reads what that one kept (or builds it, if that one could not keep
	// it). So a graph and its bodies are made once, and never read half made. While it waits,
	// another job may run in its job's slot (jobs.Progress.Wait).
	var built func()
	for held := false; built == nil; {
		var building <-chan struct{}
		if building, built = e.startGraphBuild(key); built == nil {
			if h := e.hooks.WaitForGraph; h != nil {
				h()
			}
			if err := progress.Wait(ctx, building); err != nil {
				return err
			}
			continue
		}
		if held {
			break
		}
		// With the graph's event bodies kept (their header names this store), the turn goes at
		// once: the graph, whose check reads the whole file, is read outside it, beside other
		// exports reading it. A graph that does not check out is made anew in the next turn,
		// which this export holds.
		ev, err := openKeptEvents(e.keptEventsPath(snap.sandbox), key)
		if err != nil {
			break
		}
		built()
		if kept, err := graph.OpenKept(keepPath, key, recordLocSize, validLoc); err == nil {
			snap.keptEvents = ev
			return fromKept(kept)
		}
		ev.close()
		built, held = nil, true
	}
	// The waiters go at the latest when this ends; when keeping the graph fails, at once; when
	// this export keeps the event bodies of a kept graph, once the writer has kept them
	// (keptEventsDone).
	defer func() {
		if err == nil && snap.keepEvents != nil {
			return // the writer lets them go (keptEventsDone)
		}
		built()
	}()
	if kept, err := graph.OpenKept(keepPath, key, recordLocSize, validLoc); err == nil {
		// Without event bodies kept for this graph, the export reads each event from its batch,
		// and keeps the bodies for the next: the store's second export keeps them, not its first
		// (keptevents.go). The exports waiting go once it has.
		if ev, err := openKeptEvents(e.keptEventsPath(snap.sandbox), key); err == nil {
			snap.keptEvents = ev // kept after all (a graph that did not check out, then did)
			built()
		} else if k := e.startKeepingEvents(scratch, snap, key, built); k != nil {
			snap.keepEvents = k
		} else {
			built()
		}
		return fromKept(kept)
	}
	// Without a kept graph of this store (or with one that cannot be read: it is made anew),
	// the graph is built and kept for the exports after this one.

	// The sorts follow one another: each takes the buffers the one before has given back.
	mem := &extsort.Memory{}
	builder, err := graph.NewBuilder(scratch, int(total), e.sortRunBytes, mem)
	if err != nil {
		return err
	}
	var n uint32
	err = snap.eachLive(ctx, func(_ int, r *segment.Record) error {
		for _, id := range r.IDs {
			if err := builder.Add(n, id.NS, id.ID); err != nil {
				return err
			}
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	comps, err := builder.Build(ctx)
	if err != nil {
		return err
	}
	defer comps.Close()

	// Each record's place, keyed by its component and then its number: read back in key order,
	// the records come grouped by component, in rank order, and in ingest order within one.
	places := extsort.New(scratch, e.sortRunBytes, mem)
	defer places.Close()
	var placeKey, value []byte
	n = 0
	err = snap.eachLive(ctx, func(bi int, r *segment.Record) error {
		comp, ok, err := comps.Of(n)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("batch %s: a record without identities", snap.batches[bi].id)
		}
		l, ok := newRecordLoc(r, bi)
		if !ok {
			return fmt.Errorf("batch %s: a record of %d bytes at %d is past what an export can place", snap.batches[bi].id, r.BodyLen, r.BodyOff)
		}
		placeKey = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(placeKey[:0], comp), n)
		value = l.append(value[:0])
		n++
		return places.Add(placeKey, value)
	})
	if err != nil {
		return err
	}
	if err := comps.ReleaseRecords(); err != nil {
		return err
	}
	sorted, err := places.Sorted()
	if err != nil {
		return err
	}
	defer sorted.Close()
	mem.Drop() // the last sort: the profiles' chunks need the memory now

	// The graph is kept as it is emitted; what keeping it meets stops the keeping, not the export,
	// and lets the exports waiting for it go and build it. Its event bodies are not kept here:
	// the next export of this store keeps them, if there is one (see keptevents.go).
	keeper, keepErr := graph.CreateKept(scratch, key, recordLocSize)
	if keepErr != nil {
		built()
	}
	keep := func(ns []byte, identities int, values []byte) {
		if keeper == nil {
			return
		}
		if keepErr = keeper.Add(ns, identities, values); keepErr != nil {
			keeper.Abort()
			keeper = nil
			built()
		}
	}
	defer func() {
		if keeper != nil && err != nil {
			keeper.Abort()
		}
	}()

	var namespaces namespaceNames
	group := make([]recordLoc, 0, 64)
	var values []byte
	var comp uint32
	flush := func() error {
		if len(group) == 0 {
			return nil
		}
		nsBytes, _, err := comps.Key(comp)
		if err != nil {
			return err
		}
		keep(nsBytes, comps.Size(comp), values)
		return emitComponent(spec, snap, &namespaces, nsBytes, comps.Size(comp), group, emit, excluded)
	}
	for i := 0; sorted.Next(); i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
		if c := binary.BigEndian.Uint32(sorted.Key()); c != comp || len(group) == 0 {
			if err := flush(); err != nil {
				return err
			}
			comp, group, values = c, group[:0], values[:0]
		}
		group = append(group, decodeRecordLoc(sorted.Value()))
		values = append(values, sorted.Value()...)
	}
	if err := sorted.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if keeper != nil {
		keepErr = keepIfCurrent(keepPath, func() error { return e.snapshotCurrent(ctx, snap) },
			func() error { return keeper.Commit(keepPath) }, keeper.Abort)
		keeper = nil
		if keepErr == nil {
			e.dropStaleEvents(snap.sandbox, key)
		}
	}
	if h := e.hooks.GraphDone; h != nil {
		h(false, keepErr)
	}
	return nil
}

// emitComponent emits a component's profile, unless it has more identities than AEP's guardrail
// allows: then it counts it as excluded if it would have been a profile of the export.
func emitComponent(spec *exportSpec, snap *storeSnapshot, namespaces *namespaceNames, ns []byte, identities int,
	group []recordLoc, emit func(ns string, locs []recordLoc) error, excluded *int64) error {
	if !emitted(identities) {
		if wouldExport(spec, snap, group) {
			*excluded++
		}
		return nil
	}
	return emit(namespaces.name(ns), group)
}

// emitted reports whether a component of so many identities is within AEP's guardrail.
func emitted(identities int) bool { return identities <= maxGraphIdentities }

// emitKept emits the profiles of a kept graph, as produceStitched emits those it builds.
func emitKept(ctx context.Context, snap *storeSnapshot, spec *exportSpec, kept *graph.KeptReader,
	emit func(ns string, locs []recordLoc) error, excluded *int64) error {
	var namespaces namespaceNames
	group := make([]recordLoc, 0, 64)
	for i := 0; kept.Next(); i++ {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
		group = group[:0]
		for v := kept.Values(); len(v) > 0; v = v[recordLocSize:] {
			group = append(group, decodeRecordLoc(v)) // each checked by OpenKept, and as it is read (validLoc)
		}
		if ev := snap.keptEvents; ev != nil && emitted(kept.Identities()) {
			ev.place(group)
		}
		if err := emitComponent(spec, snap, &namespaces, kept.Namespace(), kept.Identities(), group, emit, excluded); err != nil {
			return err
		}
	}
	return kept.Err()
}

// graphBuild is an identity graph an export is looking for, building, or keeping the event
// bodies of.
type graphBuild struct {
	done chan struct{} // closed when the export has kept the graph, or its event bodies, or failed to
}

// startGraphBuild records that the caller looks for the identity graph of the store key, and
// builds it if it is not kept, or keeps its event bodies if the graph is kept without them; it
// returns built, to call (once or more) when the caller has kept what it keeps, or failed to, or
// found both kept. When another export of this engine holds the store's turn, it returns the
// channel closed when that one is done, and a nil built.
func (e *Engine) startGraphBuild(key graph.Key) (building <-chan struct{}, built func()) {
	e.graphBuilds.Lock()
	defer e.graphBuilds.Unlock()
	if b := e.graphBuilds.m[key]; b != nil {
		return b.done, nil
	}
	if e.graphBuilds.m == nil {
		e.graphBuilds.m = map[graph.Key]*graphBuild{}
	}
	b := &graphBuild{done: make(chan struct{})}
	e.graphBuilds.m[key] = b
	var once sync.Once
	return nil, func() {
		once.Do(func() {
			e.graphBuilds.Lock()
			defer e.graphBuilds.Unlock()
			delete(e.graphBuilds.m, key)
			close(b.done)
		})
	}
}

// keptGraphsDir, in the data directory, holds the identity graph an export kept, one a sandbox.
const keptGraphsDir = "graphs"

func (e *Engine) keptGraphPath(sandbox string) string {
	return filepath.Join(e.dir, keptGraphsDir, sandbox+".graph")
}

// DropKeptGraph removes the identity graph the exports of the sandbox ctx names keep, and the
// event bodies kept with it, so that the next export through the graph builds it (as the first
// export after an ingestion does).
func (e *Engine) DropKeptGraph(ctx context.Context) error {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return err
	}
	return e.dropKept(sb)
}

// dropKept removes what exports keep of a sandbox's store: when a batch of it is deleted, so
// that its records do not stay in the copy of the event bodies.
func (e *Engine) dropKept(sb string) error {
	for _, p := range []string{e.keptGraphPath(sb), e.keptEventsPath(sb)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// dropStaleEvents removes the event bodies kept beside a sandbox's graph unless they are those of
// the store key, whose graph was just kept: the bodies of another store are read by no export of
// this one, and would hold the room that keeping this store's needs (eventsRoom) until its second
// export. What cannot be removed stays, as a cache does: the next export that keeps the bodies
// replaces them.
func (e *Engine) dropStaleEvents(sandbox string, key graph.Key) {
	path := e.keptEventsPath(sandbox)
	ev, err := openKeptEvents(path, key)
	switch {
	case err == nil:
		ev.close()
	case !errors.Is(err, os.ErrNotExist):
		_ = os.Remove(path)
	}
}

// errStoreChanged is why an export keeps nothing of a store that changed while it read it.
var errStoreChanged = errors.New("the profile store changed while the export read it: nothing of it is kept")

// snapshotCurrent reports whether the store a snapshot was taken of is still the sandbox's: the
// same batches (a committed batch's records do not change).
func (e *Engine) snapshotCurrent(ctx context.Context, snap *storeSnapshot) error {
	ids, err := store.QueryStrings(ctx, e.store.DB(), `SELECT id FROM batches
		WHERE sandbox = ? AND profile_kind <> 0 AND status = 'success' ORDER BY id`, snap.sandbox)
	if err != nil {
		return err
	}
	had := make([]string, 0, len(snap.batches))
	for _, b := range snap.batches {
		had = append(had, b.id)
	}
	slices.Sort(had)
	if !slices.Equal(ids, had) {
		return errStoreChanged
	}
	return nil
}

// graphKey names the records of the store and how a kept graph describes them: the layout of a
// record's place and how a graph ranks and counts (keptGraphVersion), the sandbox, and its batches
// in order, each with its segment's counts. A committed batch's records do not change, and which
// of them are live follows from the batches there are.
func (s *storeSnapshot) graphKey() graph.Key {
	h := sha256.New()
	var n [8]byte
	word := func(v uint64) {
		binary.BigEndian.PutUint64(n[:], v)
		h.Write(n[:])
	}
	h.Write([]byte(keptGraphVersion))
	for _, v := range []uint64{recordLocSize, locOffBits, locSizeBits} {
		word(v)
	}
	h.Write([]byte(s.sandbox))
	for _, b := range s.batches {
		h.Write([]byte{0})
		h.Write([]byte(b.id))
		word(uint64(b.ingestTime))
		st := b.seg.Stats()
		for _, v := range []uint64{st.Records, st.Fragments, st.Events, st.Tombstoned, uint64(b.seg.Runs())} {
			word(v)
		}
	}
	var k graph.Key
	h.Sum(k[:0])
	return k
}

// keptGraphVersion changes whenever what a kept graph means does: how a record's place is packed
// (recordLoc), which records are live (eachLive, markSuperseded), how components are ranked and
// named and their identities counted (package graph).
const keptGraphVersion = "exportengine kept graph 1\x00"

// eachLive visits the metadata of every live record of the store: batch by batch in ingest
// order, run by run, in the same order every time.
func (s *storeSnapshot) eachLive(ctx context.Context, visit func(batch int, r *segment.Record) error) error {
	for bi, b := range s.batches {
		for run := range b.seg.Runs() {
			it := b.seg.RunMeta(run)
			for it.Next() {
				r := it.Record()
				if b.isSuperseded(r.Index) {
					continue
				}
				if err := visit(bi, r); err != nil {
					return err
				}
			}
			if err := it.Err(); err != nil {
				return fmt.Errorf("batch %s: %w", b.id, err)
			}
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
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
