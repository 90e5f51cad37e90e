package segment

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/internal/durable"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// Writer builds a segment. Records are added in batch order; Close sorts and writes. A full run
// is sorted and written in the background while the next one fills, so a writer holds two run
// buffers.
type Writer struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	off       uint64
	runBytes  int
	bufSize   int // of each run buffer

	cur, spare *runBuffer
	flushing   chan error // the background write of the previous run, when one is in flight
	meta       []byte     // scratch for one record's metadata
	runs       []runInfo
	runEvents  [][]eventEntry // each run's events, sorted by hash then sequence
	stats      Stats
	afterRun   func() // called after each run is in the file
	wb         *durable.Writeback
	starts     bool // the version written keeps member starts (version 4; tests write version 3)
}

// runBuffer holds the records of one run until it is written.
type runBuffer struct {
	pending []pendingRecord
	buf     []byte // meta and body bytes of the pending records
	base    uint32 // the segment index of the run's first record
	// Made by prepare, once the run is full: the order its records are written in, and its
	// events, sorted by hash then sequence.
	order  orderScratch
	keys   []runKey
	events []eventEntry
	// unsorted lists the run's events in write order for sortEvents, and is reused run to run.
	unsorted []eventEntry
}

type pendingRecord struct {
	primary record.Identity
	// idKey holds the first 16 bytes of the primary id, big-endian, padded with zeros: where two
	// keys differ, they order as the ids do, and most comparisons of a sort end there.
	idKey     [2]uint64
	seq       uint64
	eventHash EventHash // an event's, hashed as it is added, while the run before is written
	metaStart int
	bodyStart int
	bodyEnd   int
	isEvent   bool
}

type eventEntry struct {
	hash EventHash
	seq  uint64
	idx  uint32
}

// compareEvents orders events by hash, as bytes.Compare would, then sequence.
func compareEvents(a, b eventEntry) int {
	if a.hash != b.hash {
		ah, bh := binary.BigEndian.Uint64(a.hash[:8]), binary.BigEndian.Uint64(b.hash[:8])
		if ah == bh {
			ah, bh = binary.BigEndian.Uint64(a.hash[8:]), binary.BigEndian.Uint64(b.hash[8:])
		}
		return cmp.Compare(ah, bh)
	}
	return cmp.Compare(a.seq, b.seq)
}

// WriterOptions shape a Writer.
type WriterOptions struct {
	// RunBytes bounds the records a writer holds in memory before it sorts them and writes them
	// out as one run; zero means DefaultRunBytes.
	RunBytes int
	// InputBytes, the size of the batch's files, bounds the run buffers of a small batch.
	InputBytes int64
	// AfterRun, when set, is called after each run is in the file.
	AfterRun func()
}

// DefaultRunBytes bounds the memory a batch's ingestion holds before it sorts and writes a run.
const DefaultRunBytes = 64 << 20

// maxRecordBytes bounds what one record adds to the run buffer (a profile record of 100 KB and its
// metadata), so that a buffer of RunBytes+maxRecordBytes never grows.
const maxRecordBytes = 128 << 10

// Create starts the segment of the batch whose directory is dir. It is written to a temporary
// file, which Close moves into place.
func Create(dir string, opts WriterOptions) (*Writer, error) {
	return create(dir, opts, magicV4)
}

// create starts a segment of the version magic names: version 4, or version 3 for tests of what
// reads it.
func create(dir string, opts WriterOptions, magic [magicSize]byte) (*Writer, error) {
	path := filepath.Join(dir, FileName)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600) // profile data: private to its user
	if err != nil {
		return nil, err
	}
	sw := &Writer{path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), wb: durable.NewWriteback(f), runBytes: opts.RunBytes,
		afterRun: opts.AfterRun, starts: magic == magicV4}
	if sw.runBytes <= 0 {
		sw.runBytes = DefaultRunBytes
	}
	// Run buffers are reused from run to run; growing one by appending would copy it many times.
	// Records take more room in a run than in the files (their metadata), never twice as much.
	sw.bufSize = int(min(int64(sw.runBytes), 2*opts.InputBytes+4096)) + maxRecordBytes
	sw.cur = &runBuffer{buf: make([]byte, 0, sw.bufSize)}
	if err := sw.write(magic[:]); err != nil {
		sw.Abort()
		return nil, err
	}
	return sw, nil
}

func (sw *Writer) write(b []byte) error {
	n, err := sw.w.Write(b)
	sw.off += uint64(n)
	return err
}

// Add appends a record; its body and member starts are copied. Its metadata is length-prefixed,
// so that readers can take it whole and parse it in place.
func (sw *Writer) Add(r *record.Record) error {
	m := sw.meta[:0]
	m = append(m, byte(r.Kind))
	m = binary.AppendUvarint(m, r.Seq)
	m = binary.AppendUvarint(m, uint64(len(r.Identities)))
	for _, id := range r.Identities {
		m = appendString(m, id.NS)
		m = appendString(m, id.ID)
	}
	if r.Kind == record.Event {
		m = appendString(m, r.EventID)
		m = binary.AppendVarint(m, r.Timestamp)
	}
	m = binary.AppendUvarint(m, uint64(len(r.Body)))
	var starts []byte // a fragment's; more than maxStartsBytes is none that a record has: not kept
	if sw.starts {
		if r.Kind == record.Fragment && len(r.Members) <= maxStartsBytes {
			starts = r.Members
		}
		m = binary.AppendUvarint(m, uint64(len(starts)))
	}
	sw.meta = m
	rb := sw.cur
	start := len(rb.buf)
	rb.buf = binary.AppendUvarint(rb.buf, uint64(len(m)))
	rb.buf = append(rb.buf, m...)
	bodyStart := len(rb.buf)
	rb.buf = append(rb.buf, r.Body...)
	rb.buf = append(rb.buf, starts...)
	primary := r.Primary()
	p := pendingRecord{primary: primary, idKey: IDKey(primary.ID), seq: r.Seq, isEvent: r.Kind == record.Event,
		metaStart: start, bodyStart: bodyStart, bodyEnd: len(rb.buf)}
	if p.isEvent {
		p.eventHash = HashEventID(r.EventID)
	}
	rb.pending = append(rb.pending, p)
	sw.stats.Records++
	if r.Kind == record.Event {
		sw.stats.Events++
	} else {
		sw.stats.Fragments++
	}
	if len(rb.buf) >= sw.runBytes {
		return sw.flushRun()
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// flushRun orders the current run while the one before is written, then hands it to be written
// in the background once that one is.
func (sw *Writer) flushRun() error {
	rb := sw.cur
	if len(rb.pending) == 0 {
		return sw.waitFlush()
	}
	rb.base = uint32(sw.stats.Records) - uint32(len(rb.pending))
	rb.prepare()
	if err := sw.waitFlush(); err != nil {
		return err
	}
	if sw.spare == nil {
		sw.spare = &runBuffer{buf: make([]byte, 0, sw.bufSize)}
	}
	sw.cur, sw.spare = sw.spare, rb
	sw.flushing = make(chan error, 1)
	go func() { sw.flushing <- sw.writeRun(rb) }()
	return nil
}

func (sw *Writer) waitFlush() error {
	if sw.flushing == nil {
		return nil
	}
	err := <-sw.flushing
	sw.flushing = nil
	return err
}

// prepare orders a full run's records as they are written, and lists its events.
func (rb *runBuffer) prepare() {
	rb.keys = rb.order.order(rb.pending)
	events := rb.unsorted[:0]
	for i, k := range rb.keys {
		if p := &rb.pending[k.idx]; p.isEvent {
			events = append(events, eventEntry{hash: p.eventHash, seq: p.seq, idx: rb.base + uint32(i)})
		}
	}
	rb.unsorted = events
	rb.events = rb.order.sortEvents(events)
}

// writeRun writes a run that prepare ordered. Only one runs at a time, and nothing else writes
// meanwhile.
func (sw *Writer) writeRun(rb *runBuffer) error {
	run := runInfo{metaOff: sw.off, count: uint64(len(rb.pending))}
	for _, k := range rb.keys {
		p := &rb.pending[k.idx]
		meta := rb.buf[p.metaStart:p.bodyStart]
		if err := sw.write(meta); err != nil {
			return err
		}
		run.metaCRC = crc32.Update(run.metaCRC, castagnoli, meta)
	}
	run.metaLen = sw.off - run.metaOff
	run.bodyOff = sw.off
	for _, k := range rb.keys {
		p := &rb.pending[k.idx]
		body := rb.buf[p.bodyStart:p.bodyEnd]
		if err := sw.write(body); err != nil {
			return err
		}
		run.bodyCRC = crc32.Update(run.bodyCRC, castagnoli, body)
	}
	run.bodyLen = sw.off - run.bodyOff
	sw.runs = append(sw.runs, run)
	sw.runEvents = append(sw.runEvents, rb.events)
	clear(rb.pending) // drop the identities they hold
	rb.pending, rb.buf, rb.keys, rb.events = rb.pending[:0], rb.buf[:0], nil, nil
	// The run is written through, and its writeback started (see durable.Writeback): the fsync
	// at Close then finds little left to write, and the disk works while the next run is read.
	if err := sw.w.Flush(); err != nil {
		return err
	}
	sw.wb.Written(int64(sw.off))
	if sw.afterRun != nil {
		sw.afterRun()
	}
	return nil
}

// comparePending orders a run's records by primary identity, then sequence: the order a run is
// written in (see orderScratch.order).
func comparePending(a, b pendingRecord) int {
	if a.primary.NS != b.primary.NS {
		return strings.Compare(a.primary.NS, b.primary.NS)
	}
	if c := CompareIDKeys(a.idKey, b.idKey); c != 0 {
		return c
	}
	if c := strings.Compare(a.primary.ID, b.primary.ID); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// mergeEvents calls fn with the events of all runs in hash-then-sequence order.
func (sw *Writer) mergeEvents(fn func(e eventEntry) error) error {
	pos := make([]int, len(sw.runEvents))
	h := &eventMergeHeap{runs: sw.runEvents, pos: pos}
	for i, evs := range sw.runEvents {
		if len(evs) > 0 {
			h.order = append(h.order, i)
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		r := h.order[0]
		if err := fn(sw.runEvents[r][pos[r]]); err != nil {
			return err
		}
		if pos[r]++; pos[r] < len(sw.runEvents[r]) {
			heap.Fix(h, 0)
		} else {
			heap.Pop(h)
		}
	}
	return nil
}

type eventMergeHeap struct {
	runs  [][]eventEntry
	pos   []int
	order []int // runs with events left, as a heap by their next event
}

func (h *eventMergeHeap) Len() int { return len(h.order) }
func (h *eventMergeHeap) Less(i, j int) bool {
	a, b := h.order[i], h.order[j]
	return compareEvents(h.runs[a][h.pos[a]], h.runs[b][h.pos[b]]) < 0
}
func (h *eventMergeHeap) Swap(i, j int) { h.order[i], h.order[j] = h.order[j], h.order[i] }
func (h *eventMergeHeap) Push(x any) {
	if i, ok := x.(int); ok {
		h.order = append(h.order, i)
	}
}
func (h *eventMergeHeap) Pop() any {
	x := h.order[len(h.order)-1]
	h.order = h.order[:len(h.order)-1]
	return x
}

// Close writes the tables, syncs the file and moves it into place. It returns the segment's stats.
func (sw *Writer) Close() (Stats, error) {
	err := sw.flushRun()
	if err == nil {
		err = sw.waitFlush()
	}
	if err != nil {
		sw.Abort()
		return Stats{}, err
	}
	sw.cur, sw.spare = nil, nil
	// Within a batch, the later of two events with one _id wins; the earlier is tombstoned. The
	// runs' events are merged once, in hash-then-sequence order: an event is live when the next
	// has another hash, and its entry goes into the index then. The tombstones come before the
	// index in the file: their room is written first, and they are written into it once known.
	tomb := make([]byte, (sw.stats.Records+7)/8)
	tombOff := sw.off
	err = sw.write(tomb)
	evOff := sw.off
	var evCRC uint32
	var live uint64
	if err == nil {
		entry := make([]byte, eventIndexEntry)
		var prev eventEntry
		first := true
		index := func(e eventEntry) error {
			copy(entry, e.hash[:])
			binary.LittleEndian.PutUint32(entry[len(e.hash):], e.idx)
			evCRC = crc32.Update(evCRC, castagnoli, entry)
			live++
			return sw.write(entry)
		}
		err = sw.mergeEvents(func(e eventEntry) error {
			var err error
			switch {
			case first:
			case prev.hash == e.hash:
				tomb[prev.idx/8] |= 1 << (prev.idx % 8)
				sw.stats.Tombstoned++
			default:
				err = index(prev)
			}
			prev, first = e, false
			return err
		})
		if err == nil && !first {
			err = index(prev)
		}
	}
	if err == nil {
		err = sw.w.Flush()
	}
	if err == nil {
		_, err = sw.f.WriteAt(tomb, int64(tombOff))
	}
	// The tombstones, the run table and the trailer have one checksum; the event index its own.
	tablesCRC := crc32.Update(0, castagnoli, tomb)
	runsOff := sw.off
	for _, r := range sw.runs {
		if err != nil {
			break
		}
		entry := appendUint64s(nil, r.metaOff, r.metaLen, r.bodyOff, r.bodyLen, r.count, uint64(r.metaCRC)<<32|uint64(r.bodyCRC))
		tablesCRC = crc32.Update(tablesCRC, castagnoli, entry)
		err = sw.write(entry)
	}
	if err == nil {
		t := appendUint64s(nil, uint64(len(sw.runs)), runsOff, sw.stats.Records, tombOff, evOff, live, sw.stats.Fragments,
			sw.stats.Events, uint64(evCRC))
		tablesCRC = crc32.Update(tablesCRC, castagnoli, t)
		t = binary.LittleEndian.AppendUint64(t, uint64(tablesCRC))
		err = sw.write(append(t, trailer[:]...))
	}
	if err == nil {
		err = sw.w.Flush()
	}
	if werr := sw.wb.Stop(); err == nil {
		err = werr
	}
	if err == nil {
		err = sw.f.Sync()
	}
	if cerr := sw.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(sw.tmp, sw.path)
	}
	if err != nil {
		_ = os.Remove(sw.tmp)
		return Stats{}, fmt.Errorf("writing profile segment: %w", err)
	}
	return sw.stats, durable.SyncDir(filepath.Dir(sw.path))
}

func appendUint64s(b []byte, vs ...uint64) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	return b
}

// Abort stops writing and removes the temporary file.
func (sw *Writer) Abort() {
	_ = sw.waitFlush()
	_ = sw.wb.Stop()
	_ = sw.f.Close()
	_ = os.Remove(sw.tmp)
}
