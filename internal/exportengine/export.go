package exportengine

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/internal/durable"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/merge"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// An export streams profiles through read → merge → filter → project → write: a producer reads
// the profile store in row order and cuts it into chunks of profiles; workers (one a core) merge,
// filter, project and encode the chunks in parallel; the writer puts the encoded chunks back in
// order and appends them to the output files. The channels between them are short, so memory
// stays bounded whatever the number of profiles.

const (
	// A chunk ends at chunkProfiles profiles or chunkBytes of their records, shared out among
	// the batches a row may go to (see chunkLimits).
	chunkProfiles = 256
	chunkBytes    = 1 << 20
	// outBufferBytes is what an output batch buffers of a part file, shared out among the batches
	// of a job as chunks are, and at least minOutBuffer each.
	outBufferBytes = 1 << 20
	minOutBuffer   = 64 << 10
	// partMaxBytes is where the writer starts a new part file of a batch.
	partMaxBytes = 128 << 20
	// stitchScratchDir, beside an output batch's files, holds the identity graph being built.
	stitchScratchDir = "stitch"
)

// profileUnit is what the producer knows of one profile: the namespace of its row identity (what
// the job's metrics count it under) and its records.
type profileUnit struct {
	ns     string
	frags  []*storedRecord
	events []*storedRecord
}

// exportChunk is a run of consecutive profiles, and then their encoded rows.
type exportChunk struct {
	seq   int
	units []profileUnit
	recs  []storedRecord
	ptrs  []*storedRecord // the units' frags and events are spans of it
	buf   []byte          // bodies of recs

	// A chunk is full at maxProfiles profiles or maxBytes of records (see chunkLimits).
	maxProfiles, maxBytes int

	// A stitched export sends its profiles' record locations instead (pending, and each
	// profile's key and span of locs); a worker reads the bodies.
	snap        *storeSnapshot
	locs        []recordLoc
	pending     []pendingUnit
	pendingSize int
	byPlace     []int32 // indexes of locs in file order
	bodyAt      []int   // where each of locs has its body in buf
	// An export in primary identity order sends its records located (in recs, without bodies,
	// each in a piece of pieces, and each profile a span of recs in located); a worker reads the
	// pieces, and the writer checks them.
	pieces     []bodyPiece
	recPiece   []int32 // the piece of each of recs
	located    []pendingUnit
	pieceBytes int
	scratch    []byte // what a worker reads only to check it passes through here
	// Filled by a worker: the rows for each output batch, and counters.
	out      [][]byte
	rows     []int64
	profiles int64
	events   int64
	byNS     []nsCount
}

// nsCount counts the profiles of a chunk whose primary identity is in a namespace.
type nsCount struct {
	ns string
	n  int64
}

// countNamespace counts a profile of namespace ns. A store has few namespaces, and the names a
// chunk is given are shared, so a look down the list beats hashing the name every profile.
func (c *exportChunk) countNamespace(ns string) {
	for i := range c.byNS {
		if c.byNS[i].ns == ns {
			c.byNS[i].n++
			return
		}
	}
	c.byNS = append(c.byNS, nsCount{ns: ns, n: 1})
}

type pendingUnit struct {
	ns         string
	start, end int
}

// reset empties a chunk for reuse, keeping its buffers. Chunks are recycled so that an export
// allocates a bounded set of them however many profiles it writes.
func (c *exportChunk) reset(seq int, snap *storeSnapshot) {
	c.seq, c.snap = seq, snap
	clear(c.units)
	c.units = c.units[:0]
	clear(c.ptrs)
	c.recs, c.ptrs, c.buf = c.recs[:0], c.ptrs[:0], c.buf[:0]
	c.locs, c.pending, c.pendingSize = c.locs[:0], c.pending[:0], 0
	clear(c.pieces)
	c.pieces, c.recPiece, c.located, c.pieceBytes = c.pieces[:0], c.recPiece[:0], c.located[:0], 0
	for b := range c.out {
		c.out[b] = c.out[b][:0]
	}
	clear(c.rows)
	c.profiles, c.events = 0, 0
	c.byNS = c.byNS[:0]
}

// chunkLimits are the limits of an export's chunks, where a profile's row may be written to
// rowCopies output batches (the segments of a batch per segment). A chunk's rows for a job of
// 100 segments could otherwise be a hundred times its records, in every chunk in flight; with the
// limits shared out, they are at most about what one batch's would be.
func chunkLimits(rowCopies int) (maxProfiles, maxBytes int) {
	rowCopies = max(rowCopies, 1)
	return max(chunkProfiles/rowCopies, 1), chunkBytes / rowCopies
}

func (c *exportChunk) full() bool {
	return len(c.units)+len(c.pending)+len(c.located) >= c.maxProfiles || len(c.buf)+c.pendingSize+c.pieceBytes >= c.maxBytes
}

func (c *exportChunk) empty() bool {
	return len(c.units) == 0 && len(c.pending) == 0 && len(c.located) == 0 && len(c.pieces) == 0
}

// addLocated adds a profile of located records (see storeSnapshot.byPrimary): each record's body
// joins its run's piece in the chunk, and a run's last record takes the rest of the run's bodies.
func (c *exportChunk) addLocated(ns string, recs []*storedRecord) {
	start := len(c.recs)
	for _, r := range recs {
		before := r.run.handed
		var piece int
		c.pieces, piece = r.run.handOut(c.pieces, c.seq, r.off, r.off+uint64(r.size)+uint64(r.startsSize))
		c.recs = append(c.recs, *r)
		c.recPiece = append(c.recPiece, int32(piece))
		if r.last {
			c.pieces, _ = r.run.handOut(c.pieces, c.seq, r.run.end, r.run.end)
		}
		c.pieceBytes += int(r.run.handed - before) // what is read only to be checked is work of the chunk too
	}
	c.located = append(c.located, pendingUnit{ns: ns, start: start, end: len(c.recs)})
}

// loadPieces reads the pieces of a chunk of located records, one read a piece, and makes its
// profiles. It checksums each piece for the writer, which checks them in order.
func (c *exportChunk) loadPieces() error {
	if len(c.pieces) == 0 {
		return nil
	}
	size := 0
	for i := range c.pieces {
		if p := &c.pieces[i]; p.at >= 0 {
			p.at = size
			size += int(p.to - p.from)
		}
	}
	c.buf = slices.Grow(c.buf[:0], size)[:size]
	for i := range c.pieces {
		p := &c.pieces[i]
		seg := p.run.batch.seg
		if p.at >= 0 {
			b := c.buf[p.at : p.at+int(p.to-p.from)]
			if err := seg.ReadAt(b, p.from); err != nil {
				return fmt.Errorf("batch %s: %w", p.run.batch.id, err)
			}
			p.crc = segment.Checksum(b)
			continue
		}
		p.crc = 0
		for off := p.from; off < p.to; {
			n := min(p.to-off, maxRead)
			c.scratch = slices.Grow(c.scratch[:0], int(n))[:n]
			if err := seg.ReadAt(c.scratch, off); err != nil {
				return fmt.Errorf("batch %s: %w", p.run.batch.id, err)
			}
			p.crc = segment.ChecksumUpdate(p.crc, c.scratch)
			off += n
		}
	}
	for i := range c.recs {
		r := &c.recs[i]
		r.body, r.starts = nil, nil
		if k := c.recPiece[i]; k >= 0 {
			p := &c.pieces[k]
			at := p.at + int(r.off-p.from)
			end := at + int(r.size)
			r.body = c.buf[at:end:end]
			r.starts = c.buf[end : end+int(r.startsSize) : end+int(r.startsSize)]
		}
	}
	for _, u := range c.located {
		c.addUnitOf(u.ns, c.recs[u.start:u.end])
	}
	return nil
}

// checkPieces feeds a chunk's pieces to their runs' checks, in the order the chunks were made.
func (c *exportChunk) checkPieces() error {
	for i := range c.pieces {
		p := &c.pieces[i]
		if err := p.run.check.Add(p.to-p.from, p.crc); err != nil {
			return fmt.Errorf("batch %s: %w", p.run.batch.id, err)
		}
	}
	return nil
}

func (c *exportChunk) addPending(ns string, locs []recordLoc) {
	start := len(c.locs)
	c.locs = append(c.locs, locs...)
	for i := range locs {
		c.pendingSize += int(locs[i].size())
	}
	c.pending = append(c.pending, pendingUnit{ns: ns, start: start, end: len(c.locs)})
}

// load reads the bodies of a stitched chunk's records, and makes its profiles. The records are
// read in file order, and records close together in one read, so that a chunk costs few system
// calls however its profiles' records are spread across the store. Events whose bodies were kept
// with the graph (keptEvents) are read from there, and checked: one that does not check out is
// read from its batch.
func (c *exportChunk) load() error {
	if len(c.pending) == 0 {
		return nil
	}
	n := len(c.locs)
	c.byPlace = c.byPlace[:0]
	for i := range n {
		c.byPlace = append(c.byPlace, int32(i))
	}
	slices.SortFunc(c.byPlace, func(a, b int32) int {
		sa, oa, _ := c.locs[a].source()
		sb, ob, _ := c.locs[b].source()
		if sa != sb {
			return cmp.Compare(sa, sb)
		}
		return cmp.Compare(oa, ob)
	})
	c.bodyAt = slices.Grow(c.bodyAt[:0], n)[:n]
	c.buf = c.buf[:0]
	for i := 0; i < n; {
		src, start, size := c.locs[c.byPlace[i]].source()
		end := start + size
		j := i + 1
		for ; j < n; j++ {
			s, off, size := c.locs[c.byPlace[j]].source()
			if s != src || off > end+readGap || off+size-start > maxRead {
				break
			}
			end = max(end, off+size)
		}
		at := len(c.buf)
		c.buf = slices.Grow(c.buf, int(end-start))[:at+int(end-start)]
		if src == fromKeptEvents {
			if !c.snap.keptEvents.readAt(c.buf[at:], start) {
				c.buf, at = c.buf[:at], -1 // each is read from its batch (checkKeptEvents)
			}
		} else {
			b := c.snap.batches[src]
			if err := b.seg.ReadAt(c.buf[at:], start); err != nil {
				return fmt.Errorf("batch %s: %w", b.id, err)
			}
		}
		for _, k := range c.byPlace[i:j] {
			c.bodyAt[k] = -1
			if at >= 0 {
				_, off, _ := c.locs[k].source()
				c.bodyAt[k] = at + int(off-start)
			}
		}
		i = j
	}
	if err := c.checkKeptEvents(); err != nil {
		return err
	}
	if cap(c.recs) < n {
		c.recs = make([]storedRecord, 0, n) // pointers into it are taken: it must not grow
	}
	c.recs = c.recs[:0]
	for i := range c.locs {
		l := &c.locs[i]
		at := c.bodyAt[i]
		c.recs = append(c.recs, l.record(c.snap.batches[l.batch], c.buf[at:at+int(l.size()):at+int(l.size())]))
	}
	for _, p := range c.pending {
		c.addUnitOf(p.ns, c.recs[p.start:p.end])
	}
	c.pending = c.pending[:0] // locs stay, each with its record in recs, for the writer (eventsKeeper)
	return nil
}

// checkKeptEvents checks the bodies load read from the kept event bodies against their
// checksums, and reads those that fail, or that could not be read there, from their batches.
func (c *exportChunk) checkKeptEvents() error {
	k := c.snap.keptEvents
	if k == nil {
		return nil
	}
	var read, fellBack int64
	for i := range c.locs {
		l := &c.locs[i]
		if l.kept == 0 {
			continue
		}
		if at := c.bodyAt[i]; at >= 0 {
			body := c.buf[at : at+int(l.size())]
			if keptEventSum(l, body) == binary.BigEndian.Uint32(c.buf[at+len(body):]) {
				read++
				continue
			}
		}
		fellBack++
		at := len(c.buf)
		c.buf = slices.Grow(c.buf, int(l.size()))[:at+int(l.size())]
		b := c.snap.batches[l.batch]
		if err := b.seg.ReadAt(c.buf[at:], l.off()); err != nil {
			return fmt.Errorf("batch %s: %w", b.id, err)
		}
		c.bodyAt[i] = at
	}
	k.read.Add(read)
	k.fellBack.Add(fellBack)
	return nil
}

// Records of a chunk less than readGap apart in a file are read together, up to maxRead at once.
const (
	readGap = 4 << 10
	maxRead = 1 << 20
)

// addUnitOf adds a profile of records that the chunk holds: its fragments, then its events, in
// the order given.
func (c *exportChunk) addUnitOf(ns string, recs []storedRecord) {
	start := len(c.ptrs)
	for i := range recs {
		if recs[i].kind != record.Event {
			c.ptrs = append(c.ptrs, &recs[i])
		}
	}
	mid := len(c.ptrs)
	for i := range recs {
		if recs[i].kind == record.Event {
			c.ptrs = append(c.ptrs, &recs[i])
		}
	}
	c.units = append(c.units, profileUnit{ns: ns, frags: c.ptrs[start:mid:mid], events: c.ptrs[mid:len(c.ptrs):len(c.ptrs)]})
}

// exportResult is what an export wrote, before it is committed.
type exportResult struct {
	batches                          []*outBatch
	profiles, events, excluded, size int64
	byNamespace                      map[string]int64 // at most aepwire.MaxMetricNamespaces
	otherNamespaces                  int64            // rows of the namespaces past those
	exportStart, exportEnd           int64
}

// countNamespace counts n rows of namespace ns. Chunks come in row order, and rows in the order
// of their identity, namespace first: the namespaces counted one by one are the smallest.
func (res *exportResult) countNamespace(ns string, n int64) {
	if _, ok := res.byNamespace[ns]; ok || len(res.byNamespace) < aepwire.MaxMetricNamespaces {
		res.byNamespace[ns] += n
	} else {
		res.otherNamespaces += n
	}
}

// namespaceCounts is the job's exportedProfileByNamespaceCounter.
func (res *exportResult) namespaceCounts() map[string]int64 {
	if res.otherNamespaces == 0 {
		return res.byNamespace
	}
	counts := make(map[string]int64, len(res.byNamespace)+1)
	for ns, n := range res.byNamespace {
		counts[ns] = n
	}
	counts[aepwire.OtherNamespaces] += res.otherNamespaces
	return counts
}

func (e *Engine) runExport(ctx context.Context, j *jobRow, spec *exportSpec, progress *jobs.Progress) (_ *exportResult, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	res := &exportResult{byNamespace: map[string]int64{}, exportStart: e.nowMs()}
	snap, err := e.openSnapshot(ctx, j.sandbox)
	if err != nil {
		return nil, fmt.Errorf("reading the profile store: %w", err)
	}
	defer snap.close()
	for _, id := range j.batchIDs {
		ob, err := newOutBatch(filepath.Join(e.batchDir(id), batchFileDir), id, e.writtenBack, len(j.batchIDs))
		if err != nil {
			return nil, err
		}
		res.batches = append(res.batches, ob)
	}
	defer func() {
		for _, ob := range res.batches {
			if cerr := ob.close(); err == nil && cerr != nil {
				err = cerr
			}
		}
	}()

	chunks := make(chan *exportChunk, e.workers)
	encoded := make(chan *exportChunk, e.workers)
	// The chunks in flight, recycled: being filled, waiting for or in a worker, waiting to be
	// written in order. However far the workers get ahead of the writer, there are no more.
	free := make(chan *exportChunk, 2*e.workers+2)
	rowCopies := 1
	if spec.perBatch {
		rowCopies = len(res.batches)
	}
	maxProfiles, maxBytes := chunkLimits(rowCopies)
	for range cap(free) {
		free <- &exportChunk{maxProfiles: maxProfiles, maxBytes: maxBytes}
	}
	reads := spec.reads()
	spec.setStops(snap, reads)
	var excluded int64
	// Scratch files of the identity graph, and the event bodies kept with it, go with the job's
	// output, which a failed attempt's clean-up removes; an attempt cut short by a crash left
	// them for the next to remove.
	scratch := filepath.Join(e.batchDir(j.batchIDs[0]), stitchScratchDir)
	if err := os.RemoveAll(eventsScratch(scratch)); err != nil {
		return nil, err
	}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		defer close(chunks)
		if err := e.produce(ctx, snap, spec, scratch, progress, free, chunks, &excluded); err != nil {
			cancel(err)
		}
	}()
	var wg sync.WaitGroup
	plainSel := plainSelector(spec) // read only, as spec's selectors are: the workers share it
	for range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &exportWorker{spec: spec, nBatches: len(res.batches), reads: reads, plainSel: plainSel, copiesAsIs: plainSel.CopiesAsIs()}
			for c := range chunks {
				if err := w.encode(c); err != nil {
					cancel(err)
					return
				}
				select {
				case encoded <- c:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(encoded) }()

	// Write the chunks in order.
	pending := map[int]*exportChunk{}
	next := 0
	for c := range encoded {
		if ctx.Err() != nil {
			continue // drain
		}
		pending[c.seq] = c
		for c := pending[next]; c != nil; c = pending[next] {
			delete(pending, next)
			next++
			if err := c.checkPieces(); err != nil {
				cancel(err)
				break
			}
			for b, rows := range c.out {
				if len(rows) == 0 {
					continue
				}
				if err := res.batches[b].write(rows, c.rows[b]); err != nil {
					cancel(err)
					break
				}
			}
			res.profiles += c.profiles
			res.events += c.events
			for _, k := range c.byNS {
				res.countNamespace(k.ns, k.n)
			}
			progress.Profiles.Store(res.profiles)
			progress.Events.Store(res.events)
			if k := snap.keepEvents; k != nil {
				k.take(ctx, c, free) // its goroutine gives the chunk back once it has kept its events
			} else {
				free <- c
			}
		}
	}
	// The producer may still be ending (a failed or cancelled export): the event bodies are put
	// in place only if the export succeeds.
	<-produced
	if k := snap.keepEvents; k != nil {
		k.taken()
	}
	if err := context.Cause(ctx); err != nil {
		if k := snap.keepEvents; k != nil {
			k.abort()
		}
		return nil, err
	}
	e.keptEventsDone(ctx, snap)
	for _, ob := range res.batches {
		if err := ob.close(); err != nil {
			return nil, err
		}
		res.size += ob.size
	}
	res.excluded = excluded
	res.exportEnd = e.nowMs()
	return res, nil
}

// produce reads the profile store in row order, cut into chunks. An export through the identity
// graph that waits for another export of the store lends its job's slot meanwhile (progress).
func (e *Engine) produce(ctx context.Context, snap *storeSnapshot, spec *exportSpec, scratch string, progress *jobs.Progress,
	free <-chan *exportChunk, out chan<- *exportChunk, excluded *int64) error {
	seq := 0
	var c *exportChunk
	take := func() error {
		select {
		case c = <-free:
			c.reset(seq, snap)
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	if err := take(); err != nil {
		return err
	}
	send := func() error {
		if c.empty() {
			return nil
		}
		if h := e.hooks.BeforeExportChunk; h != nil {
			h(ctx, c.seq)
		}
		if ctx.Err() != nil { // a cancelled export sends no more, even where out has room
			return context.Cause(ctx)
		}
		select {
		case out <- c:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		seq++
		return take()
	}
	var err error
	if spec.policy.identityGraph == aepwire.IdentityGraphPDG {
		err = e.produceStitched(ctx, snap, spec, scratch, progress, func(ns string, locs []recordLoc) error {
			c.addPending(ns, locs)
			if c.full() {
				return send()
			}
			return nil
		}, excluded)
	} else {
		// An event counts in a profile of its primary identity only in its event list, or as what
		// makes an empty profile a profile: without either, event batches are not read at all.
		needEvents := spec.withEvents || spec.emptyProfiles
		err = snap.byPrimary(func(b *snapBatch) bool { return needEvents || b.kind != record.Event }, func(ns string, _ []byte, recs []*storedRecord) error {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			c.addLocated(ns, recs)
			if c.full() {
				return send()
			}
			return nil
		})
	}
	if err != nil {
		return err
	}
	return send()
}

// exportWorker encodes chunks. Each worker has its own merger and parsers.
type exportWorker struct {
	spec     *exportSpec
	nBatches int
	reads    *fields.Selector // what the merger reads of each fragment; nil: everything
	// plainSel, when set, projects a profile of one fragment from the fragment's bytes (see
	// plainSelector).
	plainSel *fields.Selector
	// copiesAsIs: plainSel's row of a fragment of a batch as is (snapBatch.asIs) is a copy of it.
	copiesAsIs bool
	m          merge.Merger
	evParser   fastjson.Parser
	row        []byte
	frags      []merge.Fragment
	from       []*snapBatch // the batch of each of frags
	pruned     []byte       // the current profile's fragments, pruned to reads
	ends       []int        // where each of them ends in pruned
	evPruned   []byte
	events     []*storedRecord
	qualify    []int
}

// reads is what a run must read of each fragment: what its rows and its segment filter need.
// Parsing and merging only that, rather than whole fragments, is most of what a projection saves.
func (spec *exportSpec) reads() *fields.Selector {
	r := merge.Reads(spec.profileFields)
	if len(spec.segments) > 0 {
		r = r.With("segmentMembership")
	}
	return r
}

// setStops sets, for each batch of the snapshot, how far an export reads each of its records
// (see fields.Selector.CountAmong): a plain row until it has met the names of its fields that
// the batch's records have, and a fragment pruned for the merger until it has met those of what
// the merger reads. A batch whose records' names are not known is read whole.
func (spec *exportSpec) setStops(snap *storeSnapshot, reads *fields.Selector) {
	for _, b := range snap.batches {
		b.plainStop, b.readsStop = -1, -1
		if b.namesKnown() {
			b.plainStop = spec.profileFields.CountAmong(b.topNames)
			b.readsStop = reads.CountAmong(b.topNames)
		}
	}
}

// prune cuts each fragment down to what the merger needs to read of it. A fragment that cannot
// be pruned is read whole, and the merger says what is wrong with it. from are the fragments'
// batches, which say how far each is read (see exportSpec.setStops).
func (w *exportWorker) prune(frags []merge.Fragment, from []*snapBatch) {
	if w.reads == nil {
		return
	}
	w.pruned, w.ends = w.pruned[:0], w.ends[:0]
	for i := range frags {
		start := len(w.pruned)
		var ok bool
		if w.pruned, ok = w.reads.AppendPrunedUntil(w.pruned, frags[i].Body, from[i].readsStop); !ok {
			w.pruned = append(w.pruned[:start], frags[i].Body...)
		}
		w.ends = append(w.ends, len(w.pruned))
	}
	start := 0
	for i := range frags {
		frags[i].Body = w.pruned[start:w.ends[i]:w.ends[i]]
		start = w.ends[i]
	}
}

// plainSelector is the selector of plain rows (merge.PlainSelector) for an export without
// segments (nil for one with), without the profile's own eventList where the rows have events:
// the row's eventList takes its place, as the long way deletes the profile's.
func plainSelector(spec *exportSpec) *fields.Selector {
	if len(spec.segments) > 0 {
		return nil
	}
	sel := merge.PlainSelector(spec.profileFields)
	if spec.withEvents {
		sel = sel.WithoutMember("eventList")
	}
	return sel
}

func (w *exportWorker) encode(c *exportChunk) error {
	if err := c.load(); err != nil {
		return err
	}
	if err := c.loadPieces(); err != nil {
		return err
	}
	if len(c.out) != w.nBatches {
		c.out = make([][]byte, w.nBatches)
		c.rows = make([]int64, w.nBatches)
	}
	for i := range c.units {
		if err := w.encodeProfile(c, &c.units[i]); err != nil {
			return err
		}
	}
	return nil
}

// rank reports whether a fragment counts under the merge policy, and its precedence: its
// dataset's place in a dataSetPrecedence order.
func (w *exportWorker) rank(f *storedRecord) (int, bool) {
	p := &w.spec.policy
	if p.attributeMerge != aepwire.AttributeMergeDataSetPrecedence {
		return 0, true
	}
	i := slices.Index(p.order, f.batch.datasetID)
	return i, i >= 0
}

func (w *exportWorker) encodeProfile(c *exportChunk, u *profileUnit) error {
	spec := w.spec
	frags, from := w.frags[:0], w.from[:0]
	var updated int64
	var starts []byte // the last fragment's: the one's, when there is one
	for _, f := range u.frags {
		if precedence, ok := w.rank(f); ok {
			frags = append(frags, merge.Fragment{Body: f.body, Source: f.batch.id,
				Rank: merge.Rank{Precedence: precedence, Batch: f.batch.order, Seq: f.seq}})
			from = append(from, f.batch)
			updated = max(updated, f.batch.ingestTime)
			starts = f.starts
		}
	}
	w.frags, w.from = frags, from
	if len(frags) == 0 && (!spec.emptyProfiles || len(u.events) == 0) {
		return nil // not a profile
	}
	if spec.profileFrom.set && (len(frags) == 0 || !spec.keepsProfile(updated)) {
		return nil
	}
	w.qualify = w.qualify[:0]
	// The row: the projected profile, then its events. A profile of one plain fragment is
	// projected from its bytes, or is a copy of them when whole and as is; any other is merged
	// first.
	var row []byte
	plain := false
	switch {
	case len(frags) != 1 || w.plainSel == nil:
	case from[0].asIs && w.copiesAsIs:
		row, plain = append(w.row[:0], frags[0].Body...), true
	default:
		row, plain = w.plainSel.AppendPlainRowAt(w.row[:0], frags[0].Body, starts, from[0].plainStop, from[0].uniqueNames)
	}
	if !plain {
		var profile *fastjson.Value
		if len(frags) > 0 {
			w.prune(frags, from)
			var err error
			if profile, err = w.m.Merge(frags); err != nil {
				return err
			}
		} else {
			profile = w.m.Empty()
		}
		for i, seg := range spec.segments {
			if spec.qualifies(profile, seg) {
				w.qualify = append(w.qualify, i)
			}
		}
		if len(spec.segments) > 0 && len(w.qualify) == 0 {
			return nil
		}
		if spec.withEvents {
			if o, err := profile.Object(); err == nil {
				o.Del("eventList") // the row's own eventList takes the name
			}
		}
		row = spec.profileFields.AppendRow(w.row[:0], profile)
	}
	var nEvents int64
	if spec.withEvents {
		row = row[:len(row)-1] // reopen the object
		if len(row) > 1 {
			row = append(row, ',')
		}
		row = append(row, `"eventList":[`...)
		w.events = w.events[:0]
		for _, ev := range u.events {
			if !spec.keepsEvent(ev.batch.ingestTime) {
				continue
			}
			w.events = append(w.events, ev)
		}
		slices.SortFunc(w.events, w.compareEvents)
		for i, ev := range w.events {
			if i > 0 {
				row = append(row, ',')
			}
			if spec.eventFields == nil {
				row = append(row, ev.body...)
				continue
			}
			if plain, ok := spec.eventFields.AppendPlainDocumentRow(row, ev.body); ok {
				row = plain // most events: projected from their bytes, without parsing them
				continue
			}
			body := ev.body
			if pruned, ok := spec.eventFields.AppendPruned(w.evPruned[:0], body); ok {
				w.evPruned, body = pruned, pruned
			}
			v, err := w.evParser.ParseBytes(body)
			if err != nil {
				return fmt.Errorf("event of batch %s: %w", ev.batch.id, err)
			}
			row = spec.eventFields.AppendRow(row, v)
		}
		row = append(row, "]}"...)
		nEvents = int64(len(w.events))
	}
	row = append(row, '\n')
	w.row = row
	w.add(c, u, row, nEvents)
	return nil
}

// add adds a profile's row to the chunk's output batches: the one batch, or under a batch per
// segment, the batches of the segments it qualifies for.
func (w *exportWorker) add(c *exportChunk, u *profileUnit, row []byte, nEvents int64) {
	targets := []int{0}
	if w.spec.perBatch {
		targets = w.qualify
	}
	for _, b := range targets {
		c.out[b] = append(c.out[b], row...)
		c.rows[b]++
		c.profiles++
		c.events += nEvents
		c.countNamespace(u.ns)
	}
}

// compareEvents orders a profile's events: by timestamp, then _id, then dataset.
func (w *exportWorker) compareEvents(a, b *storedRecord) int {
	if c := cmp.Compare(a.timestamp, b.timestamp); c != 0 {
		return c
	}
	if c := cmp.Compare(w.eventID(a), w.eventID(b)); c != 0 {
		return c
	}
	return cmp.Compare(a.batch.datasetID, b.batch.datasetID)
}

// eventID is an event's _id, read from its body when the record does not carry it.
func (w *exportWorker) eventID(r *storedRecord) string {
	if r.eventID == "" {
		var p fastjson.Parser
		if v, err := p.ParseBytes(r.body); err == nil {
			r.eventID = string(v.GetStringBytes("_id"))
		}
	}
	return r.eventID
}

// qualifies reports whether a merged profile's membership of seg has one of its statuses and,
// when a qualification window is set, was last qualified inside it (bounds inclusive).
func (spec *exportSpec) qualifies(profile *fastjson.Value, seg segmentSpec) bool {
	m := profile.Get("segmentMembership", seg.ns, seg.id)
	if m == nil || m.Type() != fastjson.TypeObject {
		return false
	}
	status := m.Get("status")
	if status == nil || status.Type() != fastjson.TypeString || !slices.Contains(seg.statuses, string(status.GetStringBytes())) {
		return false
	}
	if !spec.qualStart.set && !spec.qualEnd.set {
		return true
	}
	t, ok := merge.QualificationTime(m)
	return ok && spec.inQualificationWindow(t)
}

// outBatch writes the part files of one output batch.
type outBatch struct {
	id, dir string
	partMax int64 // where a new part file starts: partMaxBytes, or less in tests
	bufSize int   // what w buffers
	files   []fileStat
	size    int64
	rows    int64
	f       *os.File
	w       *bufio.Writer
	wb      *durable.Writeback
	// dropped is how much of the current part file was dropped from the page cache, once its
	// Writeback had handed it to the kernel to write back.
	dropped int64
	// writtenBack waits for a range of a part file to be written back and drops it from the page
	// cache (dropWrittenBack).
	writtenBack func(f *os.File, off, n int64) error
	// closing are the part files being closed behind the writer, and closeErr the first error
	// of closing one.
	closing  sync.WaitGroup
	closeMu  sync.Mutex
	closeErr error
}

// writebackEvery is how much of a part file is written before its writeback starts.
const writebackEvery = 8 << 20

// newOutBatch starts a batch's output in dir, which it empties first. batches is how many the
// job writes, which share the buffers' memory out. writtenBack is dropWrittenBack, or what a
// test puts in its place.
func newOutBatch(dir, id string, writtenBack func(f *os.File, off, n int64) error, batches int) (*outBatch, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return nil, err
	}
	return &outBatch{id: id, dir: dir, partMax: partMaxBytes, writtenBack: writtenBack,
		bufSize: max(outBufferBytes/max(batches, 1), minOutBuffer)}, nil
}

func (ob *outBatch) write(rows []byte, n int64) error {
	if ob.f == nil || ob.files[len(ob.files)-1].size >= ob.partMax {
		if err := ob.flush(); err != nil {
			return err
		}
		name := fmt.Sprintf("part-%05d.json", len(ob.files))
		f, err := os.OpenFile(filepath.Join(ob.dir, name), os.O_RDWR|os.O_CREATE|os.O_TRUNC, privateFile)
		if err != nil {
			return err
		}
		ob.f, ob.w, ob.wb, ob.dropped = f, bufio.NewWriterSize(f, ob.bufSize), durable.NewWriteback(f), 0
		ob.files = append(ob.files, fileStat{name: name})
	}
	if _, err := ob.w.Write(rows); err != nil {
		return err
	}
	cur := &ob.files[len(ob.files)-1]
	cur.size += int64(len(rows))
	cur.records += n
	if written, handed := cur.size-int64(ob.w.Buffered()), ob.wb.Handed(); written-handed >= writebackEvery {
		// What was handed to writeback the time before is on disk by now, as a rule (what is not
		// is waited for), and its pages are dropped, so that output written once does not push
		// the profile store out of the page cache, and the next rows reuse them. The commit's
		// fsync then waits for little (see durable.Writeback).
		if err := ob.writtenBack(ob.f, ob.dropped, handed-ob.dropped); err != nil {
			return err
		}
		ob.wb.Written(written)
		ob.dropped = handed
	}
	ob.size += int64(len(rows))
	ob.rows += n
	return nil
}

// flush finishes the current part file: its rows are written, and it is closed behind the
// writer, which goes on meanwhile. Closing waits for the file's background sync under way (see
// durable.Writeback), then for the rest of its rows to be written back, whose pages it drops as
// write does the rows before them. The commit syncs the file anyway. It returns the first error
// of writing or closing a part file so far.
func (ob *outBatch) flush() error {
	if ob.f == nil {
		return ob.closed()
	}
	err := ob.w.Flush()
	f, wb, dropped, size := ob.f, ob.wb, ob.dropped, ob.files[len(ob.files)-1].size
	ob.f, ob.w, ob.wb = nil, nil, nil
	ob.closing.Add(1)
	go func() {
		defer ob.closing.Done()
		err := wb.Stop()
		if err == nil {
			err = ob.writtenBack(f, dropped, size-dropped)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		ob.closeMu.Lock()
		defer ob.closeMu.Unlock()
		if ob.closeErr == nil {
			ob.closeErr = err
		}
	}()
	if err != nil {
		return err
	}
	return ob.closed()
}

// closed is the first error of closing a part file so far.
func (ob *outBatch) closed() error {
	ob.closeMu.Lock()
	defer ob.closeMu.Unlock()
	return ob.closeErr
}

// close finishes the current part file and waits until every part file is closed.
func (ob *outBatch) close() error {
	err := ob.flush()
	ob.closing.Wait()
	if err == nil {
		err = ob.closed()
	}
	return err
}

// commitExport makes an export's batches visible and ends the job SUCCEEDED, in one transaction:
// until then no reader sees any of its output. For a job cancelled at the last moment it commits
// nothing and returns jobs.ErrCancelledAtCommit; its runner ends the job, as it does on any error.
func (e *Engine) commitExport(ctx context.Context, j *jobRow, res *exportResult) error {
	writeStart := e.nowMs()
	for _, ob := range res.batches {
		for _, f := range ob.files {
			if err := durable.SyncFile(filepath.Join(ob.dir, f.name)); err != nil {
				return err
			}
		}
		if err := durable.SyncDir(ob.dir); err != nil {
			return err
		}
	}
	return e.writeJobs(ctx, func(tx *sql.Tx) error {
		cur, err := e.getJobRow(ctx, tx, j.id)
		if err != nil {
			return err
		}
		if cur.cancelRequested || cur.state != jobs.Processing {
			return jobs.ErrCancelledAtCommit
		}
		dest := cur.req.Destination.DatasetID
		if _, err := e.getDataset(ctx, tx, cur.sandbox, dest); aepwire.IsNotFound(err) {
			return requestGoneError(fmt.Sprintf("the destination dataset %s was deleted while the job ran, and its "+
				"output with it; create a new job on an existing dataset%s", dest, applyAgain))
		} else if err != nil {
			return err
		}
		now := max(e.nowMs(), cur.started)
		for _, ob := range res.batches {
			ingestTime, err := e.nextIngestTime(ctx, tx)
			if err != nil {
				return err
			}
			now = max(now, ingestTime) // a batch is not completed before it is ingested
			if _, err := tx.ExecContext(ctx, `INSERT INTO batches (sandbox, id, dataset_id, origin, status, format, created_ms,
				updated_ms, started_ms, completed_ms, ingest_time_ms, record_count, size_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				cur.sandbox, ob.id, dest, originExport, aepwire.BatchSuccess, formatJSON, cur.started, now, cur.started, now, ingestTime,
				ob.rows, ob.size); err != nil {
				return err
			}
			for _, f := range ob.files {
				if _, err := tx.ExecContext(ctx, `INSERT INTO batch_files (batch_id, name, size_bytes, records, sha256)
					VALUES (?, ?, ?, ?, '')`, ob.id, f.name, f.size, f.records); err != nil {
					return err
				}
			}
		}
		profiles, events, excluded, size := res.profiles, res.events, res.excluded, res.size
		cur.metrics = aepwire.ExportMetrics{
			TotalTime:                         &aepwire.FeedbackMetrics{StartTimeInMs: cur.creation},
			ProfileExportTime:                 span(res.exportStart, res.exportEnd),
			ACPDatasetWriteTime:               span(writeStart, now),
			TotalExportedProfileCounter:       &profiles,
			ExportedProfileByNamespaceCounter: res.namespaceCounts(),
			ExportedEventCounter:              &events,
			ExcludedProfileCount:              &excluded,
			BytesWritten:                      &size,
		}
		cur.gatewayIDs["pushJob"] = newUUID()
		return e.transition(ctx, tx, cur, jobs.Succeeded, jobs.ByRunner, nil, now)
	})
}

func span(start, end int64) *aepwire.FeedbackMetrics {
	return &aepwire.FeedbackMetrics{StartTimeInMs: start, EndTimeInMs: end, TotalTimeInMs: end - start}
}
