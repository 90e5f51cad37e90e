package exportengine

import (
	"bufio"
	"bytes"
	"cmp"
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// A segment holds the profile-store records of one batch, in a file beside the batch's files.
//
// Records are written in runs, each sorted by primary identity then sequence, so that an export
// can merge the runs of all segments into one stream in identity order while holding only a
// buffer per run. Each run has a meta region (kind, sequence, identities, event id and time, body
// length of each record) and a body region (the records' JSON), so that a pass over identities
// alone reads no JSON. Events whose _id a later record of the same batch reuses are tombstoned;
// the event index (the SHA-256 of each live event's _id, sorted) lets an export find the events
// that later batches of the dataset supersede without reading them.
//
// Layout: magic, runs (meta region, body region) ..., tombstone bitmap, event index, run table,
// trailer. Integers in the tables are little-endian.

var (
	segmentMagic   = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', '0', '2'}
	segmentTrailer = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', 'E', 'N'}
)

const (
	// maxRecordBytes bounds what one record adds to the run buffer (a profile record of 100 KB
	// and its metadata), so that a buffer of runBytes+maxRecordBytes never grows.
	maxRecordBytes = 128 << 10
	segmentFile    = "profile.seg"
	// defaultRunBytes bounds the memory a batch's ingestion holds before it sorts and writes a run.
	defaultRunBytes = 64 << 20
	runTableEntry   = 4*8 + 8
	eventIndexEntry = sha256.Size/2 + 4
	trailerSize     = 8*8 + 8
)

type eventHash [sha256.Size / 2]byte

func hashEventID(id string) eventHash {
	sum := sha256.Sum256([]byte(id))
	var h eventHash
	copy(h[:], sum[:])
	return h
}

type runInfo struct {
	metaOff, metaLen, bodyOff, bodyLen uint64
	count                              uint64
}

type segmentStats struct {
	records, fragments, events, tombstoned uint64
}

// segmentWriter builds a segment. Records are added in batch order; Close sorts and writes.
// A full run is sorted and written in the background while the next one fills, so a writer holds
// two run buffers.
type segmentWriter struct {
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
	stats      segmentStats
	afterRun   func() // called after each run is in the file
}

// runBuffer holds the records of one run until it is written.
type runBuffer struct {
	pending []pendingRecord
	buf     []byte // meta and body bytes of the pending records
	base    uint32 // the segment index of the run's first record
}

type pendingRecord struct {
	primary   record.Identity
	seq       uint64
	eventID   string
	metaStart int
	bodyStart int
	bodyEnd   int
	isEvent   bool
}

type eventEntry struct {
	hash eventHash
	seq  uint64
	idx  uint32
}

func compareEvents(a, b eventEntry) int {
	if c := bytes.Compare(a.hash[:], b.hash[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// newSegmentWriter starts a segment in dir. inputBytes, the size of the batch's files, bounds
// the run buffers of a small batch.
func newSegmentWriter(dir string, runBytes int, inputBytes int64, afterRun func()) (*segmentWriter, error) {
	path := filepath.Join(dir, segmentFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	sw := &segmentWriter{path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), runBytes: runBytes, afterRun: afterRun}
	if sw.runBytes <= 0 {
		sw.runBytes = defaultRunBytes
	}
	// Run buffers are reused from run to run; growing one by appending would copy it many times.
	// Records take more room in a run than in the files (their metadata), never twice as much.
	sw.bufSize = int(min(int64(sw.runBytes), 2*inputBytes+4096)) + maxRecordBytes
	sw.cur = &runBuffer{buf: make([]byte, 0, sw.bufSize)}
	if err := sw.write(segmentMagic[:]); err != nil {
		sw.abort()
		return nil, err
	}
	return sw, nil
}

func (sw *segmentWriter) write(b []byte) error {
	n, err := sw.w.Write(b)
	sw.off += uint64(n)
	return err
}

// add appends a record; its body is copied. Its metadata is length-prefixed, so that readers can
// take it whole and parse it in place.
func (sw *segmentWriter) add(r *record.Record) error {
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
	sw.meta = m
	rb := sw.cur
	start := len(rb.buf)
	rb.buf = binary.AppendUvarint(rb.buf, uint64(len(m)))
	rb.buf = append(rb.buf, m...)
	bodyStart := len(rb.buf)
	rb.buf = append(rb.buf, r.Body...)
	rb.pending = append(rb.pending, pendingRecord{
		primary: r.Primary(), seq: r.Seq, eventID: r.EventID, isEvent: r.Kind == record.Event,
		metaStart: start, bodyStart: bodyStart, bodyEnd: len(rb.buf),
	})
	sw.stats.records++
	if r.Kind == record.Event {
		sw.stats.events++
	} else {
		sw.stats.fragments++
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

// flushRun hands the current run to be written in the background, once the previous one is.
func (sw *segmentWriter) flushRun() error {
	if err := sw.waitFlush(); err != nil {
		return err
	}
	if len(sw.cur.pending) == 0 {
		return nil
	}
	rb := sw.cur
	rb.base = uint32(sw.stats.records) - uint32(len(rb.pending))
	if sw.spare == nil {
		sw.spare = &runBuffer{buf: make([]byte, 0, sw.bufSize)}
	}
	sw.cur, sw.spare = sw.spare, rb
	sw.flushing = make(chan error, 1)
	go func() { sw.flushing <- sw.writeRun(rb) }()
	return nil
}

func (sw *segmentWriter) waitFlush() error {
	if sw.flushing == nil {
		return nil
	}
	err := <-sw.flushing
	sw.flushing = nil
	return err
}

// writeRun sorts a run and writes it. Only one runs at a time, and nothing else writes meanwhile.
func (sw *segmentWriter) writeRun(rb *runBuffer) error {
	slices.SortFunc(rb.pending, func(a, b pendingRecord) int {
		if c := a.primary.Compare(b.primary); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	run := runInfo{metaOff: sw.off, count: uint64(len(rb.pending))}
	var events []eventEntry
	for i, p := range rb.pending {
		if err := sw.write(rb.buf[p.metaStart:p.bodyStart]); err != nil {
			return err
		}
		if p.isEvent {
			events = append(events, eventEntry{hash: hashEventID(p.eventID), seq: p.seq, idx: rb.base + uint32(i)})
		}
	}
	run.metaLen = sw.off - run.metaOff
	run.bodyOff = sw.off
	for _, p := range rb.pending {
		if err := sw.write(rb.buf[p.bodyStart:p.bodyEnd]); err != nil {
			return err
		}
	}
	run.bodyLen = sw.off - run.bodyOff
	slices.SortFunc(events, compareEvents)
	sw.runs = append(sw.runs, run)
	sw.runEvents = append(sw.runEvents, events)
	clear(rb.pending) // drop the event ids and identities they hold
	rb.pending = rb.pending[:0]
	rb.buf = rb.buf[:0]
	if sw.afterRun != nil {
		if err := sw.w.Flush(); err != nil {
			return err
		}
		sw.afterRun()
	}
	return nil
}

// mergeEvents calls fn with the events of all runs in hash-then-sequence order.
func (sw *segmentWriter) mergeEvents(fn func(e eventEntry) error) error {
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

// close writes the tables, syncs the file and moves it into place. It returns the segment's stats.
func (sw *segmentWriter) close() (segmentStats, error) {
	err := sw.flushRun()
	if err == nil {
		err = sw.waitFlush()
	}
	if err != nil {
		sw.abort()
		return segmentStats{}, err
	}
	sw.cur, sw.spare = nil, nil
	// Within a batch, the later of two events with one _id wins; the earlier is tombstoned. The
	// runs' events are merged twice: to find the tombstones, then to write the live ones' index.
	tomb := make([]byte, (sw.stats.records+7)/8)
	var prev eventEntry
	var live uint64
	first := true
	_ = sw.mergeEvents(func(e eventEntry) error {
		if !first && prev.hash == e.hash {
			tomb[prev.idx/8] |= 1 << (prev.idx % 8)
			sw.stats.tombstoned++
		} else {
			live++
		}
		prev, first = e, false
		return nil
	})
	tombOff := sw.off
	err = sw.write(tomb)
	evOff := sw.off
	if err == nil {
		entry := make([]byte, eventIndexEntry)
		err = sw.mergeEvents(func(e eventEntry) error {
			if tomb[e.idx/8]&(1<<(e.idx%8)) != 0 {
				return nil
			}
			copy(entry, e.hash[:])
			binary.LittleEndian.PutUint32(entry[len(e.hash):], e.idx)
			return sw.write(entry)
		})
	}
	runsOff := sw.off
	for _, r := range sw.runs {
		if err != nil {
			break
		}
		err = sw.write(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(
			binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, r.metaOff), r.metaLen), r.bodyOff), r.bodyLen), r.count))
	}
	if err == nil {
		var t []byte
		for _, v := range []uint64{uint64(len(sw.runs)), runsOff, sw.stats.records, tombOff, evOff, live, sw.stats.fragments, sw.stats.events} {
			t = binary.LittleEndian.AppendUint64(t, v)
		}
		err = sw.write(append(t, segmentTrailer[:]...))
	}
	if err == nil {
		err = sw.w.Flush()
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
		return segmentStats{}, fmt.Errorf("writing profile segment: %w", err)
	}
	return sw.stats, syncDir(filepath.Dir(sw.path))
}

func (sw *segmentWriter) abort() {
	_ = sw.waitFlush()
	_ = sw.f.Close()
	_ = os.Remove(sw.tmp)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// segment is an open segment file.
type segment struct {
	f         *os.File
	size      int64
	runs      []runInfo
	total     uint64
	tomb      []byte
	evOff     uint64
	evCount   uint64
	fragments uint64
	events    uint64
}

var errCorruptSegment = errors.New("corrupt profile segment")

func openSegment(path string) (*segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	s, err := readSegmentTables(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

func readSegmentTables(f *os.File) (*segment, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size < int64(len(segmentMagic))+trailerSize {
		return nil, errCorruptSegment
	}
	t := make([]byte, trailerSize)
	if _, err := f.ReadAt(t, size-trailerSize); err != nil {
		return nil, err
	}
	if !bytes.Equal(t[trailerSize-8:], segmentTrailer[:]) {
		return nil, errCorruptSegment
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(t[i*8:]) }
	nRuns, runsOff := u(0), u(1)
	s := &segment{f: f, size: size, total: u(2), evOff: u(4), evCount: u(5), fragments: u(6), events: u(7)}
	tombOff := u(3)
	if runsOff+nRuns*runTableEntry != uint64(size-trailerSize) || tombOff > s.evOff || s.evOff > runsOff {
		return nil, errCorruptSegment
	}
	s.tomb = make([]byte, s.evOff-tombOff)
	if _, err := f.ReadAt(s.tomb, int64(tombOff)); err != nil {
		return nil, err
	}
	table := make([]byte, nRuns*runTableEntry)
	if _, err := f.ReadAt(table, int64(runsOff)); err != nil {
		return nil, err
	}
	for i := range nRuns {
		e := table[i*runTableEntry:]
		s.runs = append(s.runs, runInfo{
			metaOff: binary.LittleEndian.Uint64(e), metaLen: binary.LittleEndian.Uint64(e[8:]),
			bodyOff: binary.LittleEndian.Uint64(e[16:]), bodyLen: binary.LittleEndian.Uint64(e[24:]),
			count: binary.LittleEndian.Uint64(e[32:]),
		})
	}
	return s, nil
}

func (s *segment) close() error { return s.f.Close() }

// readAt reads a span of the segment: bodies, for an export that reads them by place.
func (s *segment) readAt(b []byte, off uint64) error {
	if off+uint64(len(b)) > uint64(s.size) {
		return errCorruptSegment
	}
	if _, err := s.f.ReadAt(b, int64(off)); err != nil {
		return corrupt(err)
	}
	return nil
}

func (s *segment) tombstoned(idx uint32) bool { return s.tomb[idx/8]&(1<<(idx%8)) != 0 }

// idRef is an identity read from a segment: views into the reader's buffer, valid until it moves.
type idRef struct {
	ns, id []byte
}

func (a idRef) compare(b idRef) int {
	if c := bytes.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	return bytes.Compare(a.id, b.id)
}

// segRecord is a record read back from a segment. Its identities and body are views
// into the iterator's buffers, valid until it moves.
type segRecord struct {
	kind      record.Kind
	seq       uint64
	ids       []idRef // the primary identity first
	timestamp int64
	body      []byte
	idx       uint32 // position in the segment
	bodyOff   uint64 // where the body starts in the file
	bodyLen   uint32
}

func (r *segRecord) primary() idRef { return r.ids[0] }

// runIterator reads one run of a segment in order, skipping tombstoned records.
type runIterator struct {
	seg     *segment
	meta    *bufio.Reader
	body    *bufio.Reader // nil when only metadata is read
	bodyOff uint64
	next    uint32
	end     uint32
	cur     segRecord
	scratch []byte
	err     error
}

const (
	iteratorBuffer = 64 << 10
	maxMetaBytes   = 1 << 20
)

func (s *segment) iterateRun(run int) *runIterator {
	it := s.iterateRunMeta(run)
	r := s.runs[run]
	it.body = bufio.NewReaderSize(io.NewSectionReader(s.f, int64(r.bodyOff), int64(r.bodyLen)), iteratorBuffer)
	return it
}

// iterateRunMeta reads only the records' metadata: their bodies are left unread (cur.body is
// empty), with their offsets in cur.bodyOff.
func (s *segment) iterateRunMeta(run int) *runIterator {
	r := s.runs[run]
	var first uint64
	for _, prev := range s.runs[:run] {
		first += prev.count
	}
	return &runIterator{
		seg:     s,
		meta:    bufio.NewReaderSize(io.NewSectionReader(s.f, int64(r.metaOff), int64(r.metaLen)), iteratorBuffer),
		bodyOff: r.bodyOff,
		next:    uint32(first),
		end:     uint32(first + r.count),
	}
}

// advance moves to the next live record; it returns false at the end or on an error (see err).
func (it *runIterator) advance() bool {
	for it.next < it.end {
		idx := it.next
		it.next++
		if err := it.read(idx); err != nil {
			it.err = err
			return false
		}
		if !it.seg.tombstoned(idx) {
			return true
		}
	}
	return false
}

func (it *runIterator) read(idx uint32) error {
	n, err := binary.ReadUvarint(it.meta)
	if err != nil || n == 0 || n > maxMetaBytes {
		return corrupt(err)
	}
	if cap(it.scratch) < int(n) {
		it.scratch = make([]byte, n, max(n, 256))
	}
	m := it.scratch[:n]
	if _, err := io.ReadFull(it.meta, m); err != nil {
		return corrupt(err)
	}
	r := &it.cur
	r.idx = idx
	p := metaParser{b: m}
	r.kind = record.Kind(p.byte())
	r.seq = p.uvarint()
	count := p.uvarint()
	if count == 0 || count > 1<<16 {
		return errCorruptSegment
	}
	r.ids = r.ids[:0]
	for range count {
		r.ids = append(r.ids, idRef{ns: p.bytes(), id: p.bytes()})
	}
	r.timestamp = 0
	if r.kind == record.Event {
		p.bytes() // the event id: exports read it from the body when they need it
		r.timestamp = p.varint()
	}
	bodyLen := p.uvarint()
	if p.bad || bodyLen > 1<<30 {
		return errCorruptSegment
	}
	r.bodyOff, r.bodyLen = it.bodyOff, uint32(bodyLen)
	it.bodyOff += bodyLen
	if it.body == nil {
		r.body = r.body[:0]
		return nil
	}
	if cap(r.body) < int(bodyLen) {
		r.body = make([]byte, bodyLen)
	}
	r.body = r.body[:bodyLen]
	if _, err := io.ReadFull(it.body, r.body); err != nil {
		return corrupt(err)
	}
	return nil
}

// metaParser reads a record's metadata in place; bad is set on any malformed value.
type metaParser struct {
	b   []byte
	bad bool
}

func (p *metaParser) byte() byte {
	if len(p.b) == 0 {
		p.bad = true
		return 0
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c
}

func (p *metaParser) uvarint() uint64 {
	v, n := binary.Uvarint(p.b)
	if n <= 0 {
		p.bad = true
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *metaParser) varint() int64 {
	v, n := binary.Varint(p.b)
	if n <= 0 {
		p.bad = true
		return 0
	}
	p.b = p.b[n:]
	return v
}

func (p *metaParser) bytes() []byte {
	n := p.uvarint()
	if n > uint64(len(p.b)) {
		p.bad = true
		return nil
	}
	v := p.b[:n:n]
	p.b = p.b[n:]
	return v
}

func corrupt(err error) error {
	if err == nil {
		return errCorruptSegment
	}
	return fmt.Errorf("%w: %w", errCorruptSegment, err)
}

// eventIndex reads the segment's event index: the hashes of its live events' _ids, sorted, with
// each event's position.
func (s *segment) eventIndex(fn func(h eventHash, idx uint32) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, int64(s.evOff), int64(s.evCount*eventIndexEntry)), iteratorBuffer)
	entry := make([]byte, eventIndexEntry)
	for range s.evCount {
		if _, err := io.ReadFull(r, entry); err != nil {
			return corrupt(err)
		}
		var h eventHash
		copy(h[:], entry)
		if err := fn(h, binary.LittleEndian.Uint32(entry[len(h):])); err != nil {
			return err
		}
	}
	return nil
}
