package exportengine

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
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
	segmentMagic   = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', '0', '1'}
	segmentTrailer = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', 'E', 'N'}
)

const (
	segmentFile = "profile.seg"
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
type segmentWriter struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	off       uint64
	runBytes  int

	pending []pendingRecord
	buf     []byte // meta and body bytes of the pending records
	runs    []runInfo
	events  []eventEntry
	stats   segmentStats
}

type pendingRecord struct {
	primary   identity
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

func newSegmentWriter(dir string, runBytes int) (*segmentWriter, error) {
	path := filepath.Join(dir, segmentFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	sw := &segmentWriter{path: path, tmp: tmp, f: f, w: bufio.NewWriterSize(f, 1<<20), runBytes: runBytes}
	if sw.runBytes <= 0 {
		sw.runBytes = defaultRunBytes
	}
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

// add appends a record; its body is copied.
func (sw *segmentWriter) add(r *record) error {
	start := len(sw.buf)
	sw.buf = append(sw.buf, byte(r.kind))
	sw.buf = binary.AppendUvarint(sw.buf, r.seq)
	sw.buf = binary.AppendUvarint(sw.buf, uint64(len(r.identities)))
	for _, id := range r.identities {
		sw.buf = appendString(sw.buf, id.ns)
		sw.buf = appendString(sw.buf, id.id)
	}
	if r.kind == kindEvent {
		sw.buf = appendString(sw.buf, r.eventID)
		sw.buf = binary.AppendVarint(sw.buf, r.timestamp)
	}
	sw.buf = binary.AppendUvarint(sw.buf, uint64(len(r.body)))
	bodyStart := len(sw.buf)
	sw.buf = append(sw.buf, r.body...)
	sw.pending = append(sw.pending, pendingRecord{
		primary: r.primary(), seq: r.seq, eventID: r.eventID, isEvent: r.kind == kindEvent,
		metaStart: start, bodyStart: bodyStart, bodyEnd: len(sw.buf),
	})
	sw.stats.records++
	if r.kind == kindEvent {
		sw.stats.events++
	} else {
		sw.stats.fragments++
	}
	if len(sw.buf) >= sw.runBytes {
		return sw.flushRun()
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func (sw *segmentWriter) flushRun() error {
	if len(sw.pending) == 0 {
		return nil
	}
	slices.SortFunc(sw.pending, func(a, b pendingRecord) int {
		if c := a.primary.compare(b.primary); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	run := runInfo{metaOff: sw.off, count: uint64(len(sw.pending))}
	base := uint32(sw.stats.records) - uint32(len(sw.pending))
	for i, p := range sw.pending {
		if err := sw.write(sw.buf[p.metaStart:p.bodyStart]); err != nil {
			return err
		}
		if p.isEvent {
			sw.events = append(sw.events, eventEntry{hash: hashEventID(p.eventID), seq: p.seq, idx: base + uint32(i)})
		}
	}
	run.metaLen = sw.off - run.metaOff
	run.bodyOff = sw.off
	for _, p := range sw.pending {
		if err := sw.write(sw.buf[p.bodyStart:p.bodyEnd]); err != nil {
			return err
		}
	}
	run.bodyLen = sw.off - run.bodyOff
	sw.runs = append(sw.runs, run)
	sw.pending = sw.pending[:0]
	sw.buf = sw.buf[:0]
	if testHookRunWritten != nil {
		if err := sw.w.Flush(); err != nil {
			return err
		}
		testHookRunWritten()
	}
	return nil
}

// testHookRunWritten, when set by a test, runs after each run is written.
var testHookRunWritten func()

// close writes the tables, syncs the file and moves it into place. It returns the segment's stats.
func (sw *segmentWriter) close() (segmentStats, error) {
	if err := sw.flushRun(); err != nil {
		sw.abort()
		return segmentStats{}, err
	}
	// Within a batch, the later of two events with one _id wins; the earlier is tombstoned.
	slices.SortFunc(sw.events, func(a, b eventEntry) int {
		if c := bytes.Compare(a.hash[:], b.hash[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	tomb := make([]byte, (sw.stats.records+7)/8)
	live := sw.events[:0]
	for i, e := range sw.events {
		if i+1 < len(sw.events) && sw.events[i+1].hash == e.hash {
			tomb[e.idx/8] |= 1 << (e.idx % 8)
			sw.stats.tombstoned++
			continue
		}
		live = append(live, e)
	}
	tombOff := sw.off
	err := sw.write(tomb)
	evOff := sw.off
	entry := make([]byte, eventIndexEntry)
	for _, e := range live {
		if err != nil {
			break
		}
		copy(entry, e.hash[:])
		binary.LittleEndian.PutUint32(entry[len(e.hash):], e.idx)
		err = sw.write(entry)
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
		for _, v := range []uint64{uint64(len(sw.runs)), runsOff, sw.stats.records, tombOff, evOff, uint64(len(live)), sw.stats.fragments, sw.stats.events} {
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
	s := &segment{f: f, total: u(2), evOff: u(4), evCount: u(5), fragments: u(6), events: u(7)}
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

func (s *segment) tombstoned(idx uint32) bool { return s.tomb[idx/8]&(1<<(idx%8)) != 0 }

// segRecord is a record read back from a segment. Its body is valid until the iterator moves.
type segRecord struct {
	record
	idx     uint32 // position in the segment
	bodyOff uint64 // where the body starts in the file
	bodyLen uint32 // its length, when the body was not read
}

// runIterator reads one run of a segment in order, skipping tombstoned records.
type runIterator struct {
	seg     *segment
	meta    *bufio.Reader
	body    *bufio.Reader // nil when only metadata is read
	bodyOff uint64
	next    uint32
	end     uint32
	cur     segRecord
	err     error
}

const iteratorBuffer = 64 << 10

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
	kind, err := it.meta.ReadByte()
	if err != nil {
		return corrupt(err)
	}
	r := &it.cur
	r.idx = idx
	r.kind = recordKind(kind)
	if r.seq, err = binary.ReadUvarint(it.meta); err != nil {
		return corrupt(err)
	}
	n, err := binary.ReadUvarint(it.meta)
	if err != nil || n == 0 || n > 1<<16 {
		return corrupt(err)
	}
	ids := make([]identity, n)
	for i := range ids {
		if ids[i].ns, err = readString(it.meta); err != nil {
			return err
		}
		if ids[i].id, err = readString(it.meta); err != nil {
			return err
		}
	}
	r.identities = ids
	r.eventID, r.timestamp = "", 0
	if r.kind == kindEvent {
		if r.eventID, err = readString(it.meta); err != nil {
			return err
		}
		if r.timestamp, err = binary.ReadVarint(it.meta); err != nil {
			return corrupt(err)
		}
	}
	bodyLen, err := binary.ReadUvarint(it.meta)
	if err != nil || bodyLen > 1<<30 {
		return corrupt(err)
	}
	r.bodyOff = it.bodyOff
	it.bodyOff += bodyLen
	if it.body == nil {
		r.body = r.body[:0]
		r.bodyLen = uint32(bodyLen)
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

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > 1<<20 {
		return "", corrupt(err)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", corrupt(err)
	}
	return string(b), nil
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
