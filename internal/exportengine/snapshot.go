package exportengine

import (
	"bytes"
	"cmp"
	"container/heap"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// storeSnapshot is a consistent view of the profile store: the committed batches that feed it,
// with their segments open. Batches committed later are not in it, and batches deleted meanwhile
// stay readable through the open files.
type storeSnapshot struct {
	sandbox string
	batches []*snapBatch // in ingest order
	// An export through a kept graph reads events from the bodies kept with it, when there are
	// (keptEvents); one that reads the graph kept without them keeps them (keepEvents).
	keptEvents *keptEvents
	keepEvents *eventsKeeper
}

type snapBatch struct {
	id, datasetID string
	kind          record.Kind
	ingestTime    int64
	order         int // position in ingest order: a higher order is a later batch
	seg           *segment.Segment
	// superseded marks the events that an event with the same _id in a later batch of the same
	// dataset replaces; nil when there are none.
	superseded []byte
	// topNames are the top-level names of the batch's records, sorted, or nil when they are not
	// known (see record.Names): an export reads each record only until it has met those of the
	// names it selects (fields.Selector.CountAmong).
	topNames []string
	// uniqueNames: no member object of the batch's records has a name twice (see
	// record.Names.Unique): a plain row reads a member object only until it has met the names it
	// selects in it (fields.Selector.AppendPlainRowAt).
	uniqueNames bool
	// asIs: each of the batch's fragments, merged alone, is its own whole row (see
	// record.Names.AsIs): a whole row of one is a copy of it (fields.Selector.CopiesAsIs).
	asIs bool
	// What the export reads of each record until it stops (see exportSpec.setStops): of the
	// fields of a plain row, and of what the merger reads; -1 reads a record whole. A snapshot is
	// one export's own, and these are set before its workers start.
	plainStop, readsStop int
}

func (b *snapBatch) namesKnown() bool { return b.topNames != nil }

func (b *snapBatch) isSuperseded(idx uint32) bool {
	return b.superseded != nil && b.superseded[idx/8]&(1<<(idx%8)) != 0
}

// openSnapshot opens the profile store of sandbox sb as it is now.
func (e *Engine) openSnapshot(ctx context.Context, sb string) (*storeSnapshot, error) {
	// A batch deleted between the query and the opening of its file is retried from a new
	// query; after a few tries something else is wrong.
	for attempt := 0; ; attempt++ {
		snap, err := e.tryOpenSnapshot(ctx, sb)
		if err == nil || !errors.Is(err, os.ErrNotExist) || attempt == 4 {
			return snap, err
		}
	}
}

func (e *Engine) tryOpenSnapshot(ctx context.Context, sb string) (*storeSnapshot, error) {
	snap := &storeSnapshot{sandbox: sb}
	var err error
	snap.batches, err = store.All(ctx, e.store.DB(), func(row store.Scanner) (*snapBatch, error) {
		b := &snapBatch{}
		var names sql.NullString
		var unique, asIs sql.NullInt64
		if err := row.Scan(&b.id, &b.datasetID, &b.kind, &b.ingestTime, &names, &unique, &asIs); err != nil {
			return nil, err
		}
		// Names that do not read back as a sorted list are not known: the records are read whole.
		if names.Valid && (json.Unmarshal([]byte(names.String), &b.topNames) != nil || !slices.IsSorted(b.topNames)) {
			b.topNames = nil
		}
		b.uniqueNames = b.topNames != nil && unique.Valid && unique.Int64 == 1
		b.asIs = b.topNames != nil && asIs.Valid && asIs.Int64 == 1
		return b, nil
	}, `SELECT id, dataset_id, profile_kind, ingest_time_ms, top_names, unique_names, as_is FROM batches
		WHERE sandbox = ? AND profile_kind <> 0 AND status = 'success' ORDER BY ingest_time_ms`, sb)
	for i, b := range snap.batches {
		b.order = i
	}
	if err != nil {
		return nil, err
	}
	for _, b := range snap.batches {
		if b.seg, err = segment.Open(filepath.Join(e.batchDir(b.id), segment.FileName)); err != nil {
			snap.close()
			return nil, err
		}
	}
	if err := snap.markSuperseded(); err != nil {
		snap.close()
		return nil, err
	}
	return snap, nil
}

func (s *storeSnapshot) close() {
	if s.keptEvents != nil {
		s.keptEvents.close()
	}
	for _, b := range s.batches {
		if b.seg != nil {
			_ = b.seg.Close()
		}
	}
}

// markSuperseded finds, for each event dataset, the events whose _id a later batch reuses: the
// later event wins, and the earlier one is gone entirely.
func (s *storeSnapshot) markSuperseded() error {
	type entry struct {
		hash  segment.EventHash
		batch *snapBatch
		idx   uint32
	}
	byDataset := map[string][]*snapBatch{}
	for _, b := range s.batches {
		if b.kind == record.Event && b.seg.Stats().Events > b.seg.Stats().Tombstoned {
			byDataset[b.datasetID] = append(byDataset[b.datasetID], b)
		}
	}
	for _, batches := range byDataset {
		if len(batches) < 2 {
			continue
		}
		var entries []entry
		for _, b := range batches {
			err := b.seg.EventIndex(func(h segment.EventHash, idx uint32) error {
				entries = append(entries, entry{h, b, idx})
				return nil
			})
			if err != nil {
				return err
			}
		}
		slices.SortFunc(entries, func(a, b entry) int {
			if c := bytes.Compare(a.hash[:], b.hash[:]); c != 0 {
				return c
			}
			return cmp.Compare(a.batch.order, b.batch.order)
		})
		for i := 0; i+1 < len(entries); i++ {
			if entries[i].hash != entries[i+1].hash {
				continue
			}
			b := entries[i].batch
			if b.superseded == nil {
				b.superseded = make([]byte, (b.seg.Stats().Records+7)/8)
			}
			b.superseded[entries[i].idx/8] |= 1 << (entries[i].idx % 8)
		}
	}
	return nil
}

// storedRecord is a record of the profile store, as an export uses it, with its batch.
type storedRecord struct {
	kind      record.Kind
	seq       uint64
	timestamp int64
	// eventID is read from the body when it is needed (see exportWorker.eventID).
	eventID string
	body    []byte
	// starts are where a fragment's top-level members start in body (segment.Record.Members),
	// empty when its segment does not say.
	starts []byte
	batch  *snapBatch
	// Where byPrimary found the record, whose body it does not read: its run, and its body's
	// place there, and the size of the member starts after it. last marks the run's last live
	// record.
	run        *runBodies
	off        uint64
	size       uint32
	startsSize uint32
	last       bool
}

// runBodies follows the body region of one run of a segment through an export that reads the
// bodies apart from the metadata: the export hands the region out in consecutive pieces, from
// where the last one ended, so that checking the pieces in order checks the region whole.
type runBodies struct {
	batch *snapBatch
	// handed is where the next piece starts: what the producer handed out so far.
	handed, end uint64
	// The latest piece: which chunk has it (its sequence), and where in the chunk's pieces.
	chunk, piece int
	// check is fed the pieces in order, by the export's writer only.
	check *segment.BodyCheck
}

// cursor walks one run of one batch's segment.
type cursor struct {
	it     *segment.Iterator
	batch  *snapBatch
	bodies *runBodies
	key    [2]uint64 // of the current record's primary id (segment.IDKey)
}

func (c *cursor) advance() (bool, error) {
	for c.it.Next() {
		if r := c.it.Record(); !c.batch.isSuperseded(r.Index) {
			c.key = segment.IDKey(r.Primary().ID)
			return true, nil
		}
	}
	return false, c.it.Err()
}

// comparePrimary is a.Compare(b), where ka and kb are the keys of their ids (segment.IDKey): the
// ids are compared in full only where the keys tie.
func comparePrimary(ka, kb [2]uint64, a, b segment.IDRef) int {
	if c := bytes.Compare(a.NS, b.NS); c != 0 {
		return c
	}
	if c := segment.CompareIDKeys(ka, kb); c != 0 {
		return c
	}
	return bytes.Compare(a.ID, b.ID)
}

type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i].it.Record(), h[j].it.Record()
	if c := comparePrimary(h[i].key, h[j].key, a.Primary(), b.Primary()); c != 0 {
		return c < 0
	}
	if h[i].batch.order != h[j].batch.order {
		return h[i].batch.order < h[j].batch.order
	}
	return a.Seq < b.Seq
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }

// down0 restores the heap after its first cursor moved on: heap.Fix(h, 0) without the calls
// through an interface, since the merge does it once a record.
func (h cursorHeap) down0() {
	i, n := 0, len(h)
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if j+1 < n && h.Less(j+1, j) {
			j++
		}
		if !h.Less(j, i) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}
func (h *cursorHeap) Push(x any) {
	c, _ := x.(*cursor)
	*h = append(*h, c)
}
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// namespaceNames makes the names of identity namespaces once: an export's profiles come from a
// few namespaces, and each profile's key would otherwise copy its namespace's name.
type namespaceNames []string

func (n *namespaceNames) name(b []byte) string {
	for _, ns := range *n {
		if ns == string(b) {
			return ns
		}
	}
	ns := string(b)
	if len(*n) < 16 {
		*n = append(*n, ns)
	}
	return ns
}

// byPrimary calls fn with the records that share each primary identity, and its namespace and
// id, in identity order (namespace, then id, in byte order), each group in ingest order, from the
// batches that read accepts (nil: all). It merges the sorted runs of those segments, reading their
// metadata only: the records passed to fn are located (storedRecord.run, off, size), their bodies
// not read, and they and id are only valid during the call. Whoever reads the bodies checks them
// (runBodies); the bodies of a run with no live record it checks itself.
func (s *storeSnapshot) byPrimary(read func(*snapBatch) bool, fn func(ns string, id []byte, recs []*storedRecord) error) error {
	h := cursorHeap{}
	var runs []*runBodies
	for _, b := range s.batches {
		if read != nil && !read(b) {
			continue
		}
		for run := range b.seg.Runs() {
			start, end := b.seg.RunBodies(run)
			rb := &runBodies{batch: b, handed: start, end: end, chunk: -1, check: b.seg.CheckBodies(run)}
			c := &cursor{it: b.seg.RunMeta(run), batch: b, bodies: rb}
			ok, err := c.advance()
			if err == nil && !ok {
				err = b.seg.CheckRunBodies(run)
			}
			if err != nil {
				return fmt.Errorf("batch %s: %w", b.id, err)
			}
			if ok {
				h = append(h, c)
				runs = append(runs, rb)
			}
		}
	}
	heap.Init(&h)
	var group []*storedRecord
	var pool []*storedRecord
	var keyNS, keyID []byte
	var namespaces namespaceNames
	take := func(c *cursor) *storedRecord {
		var r *storedRecord
		if n := len(pool); n > 0 {
			r, pool = pool[n-1], pool[:n-1]
		} else {
			r = &storedRecord{}
		}
		cur := c.it.Record()
		*r = storedRecord{kind: cur.Kind, seq: cur.Seq, timestamp: cur.Timestamp, batch: c.batch,
			run: c.bodies, off: cur.BodyOff, size: cur.BodyLen, startsSize: cur.MembersLen}
		return r
	}
	for h.Len() > 0 {
		p := h[0].it.Record().Primary()
		keyNS, keyID = append(keyNS[:0], p.NS...), append(keyID[:0], p.ID...)
		key := segment.IDRef{NS: keyNS, ID: keyID}
		group = group[:0]
		for h.Len() > 0 && h[0].it.Record().Primary().Compare(key) == 0 {
			c := h[0]
			r := take(c)
			group = append(group, r)
			ok, err := c.advance()
			if err != nil {
				return fmt.Errorf("batch %s: %w", c.batch.id, err)
			}
			if ok {
				h.down0()
			} else {
				r.last = true
				heap.Pop(&h)
			}
		}
		if err := fn(namespaces.name(keyNS), keyID, group); err != nil {
			return err
		}
		pool = append(pool, group...)
	}
	for _, rb := range runs {
		if rb.handed != rb.end {
			return fmt.Errorf("batch %s: the export read %d of the bytes of a run's bodies up to %d, not all of them",
				rb.batch.id, rb.handed, rb.end)
		}
	}
	return nil
}

// bodyPiece is a piece of a run's body region that a chunk reads: the bodies of records of the
// chunk, with what lies between them, or bytes no record of the export needs, read only to be
// checked (then at is -1).
type bodyPiece struct {
	run      *runBodies
	from, to uint64
	at       int // where the piece is in the chunk's buffer
	crc      uint32
}

// handOut adds to chunk seq's pieces the bytes of rb from where the last piece ended to to, of
// which the chunk needs those from from on, and returns the piece that holds them (-1 when there
// are none). Bytes that lie more than readGap before from go into a piece of their own that is
// read only to be checked, so that a long stretch of records no export reads never sits in a
// chunk's buffer.
func (rb *runBodies) handOut(pieces []bodyPiece, seq int, from, to uint64) ([]bodyPiece, int) {
	if from > rb.handed+readGap {
		pieces = append(pieces, bodyPiece{run: rb, from: rb.handed, to: from, at: -1})
		rb.handed, rb.chunk = from, -1
	}
	if to == rb.handed {
		return pieces, -1
	}
	if rb.chunk == seq && pieces[rb.piece].at >= 0 {
		pieces[rb.piece].to = to
	} else {
		pieces = append(pieces, bodyPiece{run: rb, from: rb.handed, to: to})
		rb.chunk, rb.piece = seq, len(pieces)-1
	}
	rb.handed = to
	return pieces, rb.piece
}
