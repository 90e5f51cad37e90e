package segment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// Segment is an open segment file, its tables checked.
type Segment struct {
	f       io.ReaderAt
	closer  io.Closer
	size    uint64
	checked bool // from version 3 on: the regions have checksums
	starts  bool // from version 4 on: the records may have member starts
	runs    []runInfo
	firsts  []uint32 // the index of each run's first record
	stats   Stats
	tomb    []byte
	tombOff uint64
	evOff   uint64
	evCount uint64
	evCRC   uint32
}

// Open opens the segment at path, and checks its tables: a segment cut short or whose tables are
// damaged is ErrCorrupt.
func Open(path string) (*Segment, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		var s *Segment
		if s, err = readTables(f, st.Size()); err == nil {
			s.closer = f
			return s, nil
		}
	}
	_ = f.Close()
	return nil, fmt.Errorf("%s: %w", path, err)
}

// readTables reads and checks the tables of the segment that r holds in size bytes.
func readTables(r io.ReaderAt, size int64) (*Segment, error) {
	s := &Segment{f: r, size: uint64(size)}
	if s.size < uint64(magicSize+trailerSizeV2) {
		return nil, corrupt("%d bytes are too few for a segment", s.size)
	}
	var magic [magicSize]byte
	if err := s.readFull(magic[:], 0); err != nil {
		return nil, err
	}
	trailerSize, runEntry := trailerSizeV3, uint64(runEntryV3)
	switch magic {
	case magicV4:
		s.checked, s.starts = true, true
	case magicV3:
		s.checked = true
	case magicV2:
		trailerSize, runEntry = trailerSizeV2, runEntryV2
	default:
		return nil, corrupt("the file does not start as a segment does")
	}
	if s.size < uint64(magicSize+trailerSize) {
		return nil, corrupt("%d bytes are too few for a segment", s.size)
	}
	tablesEnd := s.size - uint64(trailerSize)
	t := make([]byte, trailerSize)
	if err := s.readFull(t, tablesEnd); err != nil {
		return nil, err
	}
	if !bytes.Equal(t[trailerSize-len(trailer):], trailer[:]) {
		return nil, corrupt("the trailer is missing: the file is cut short or damaged")
	}
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(t[i*8:]) }
	nRuns, runsOff, total, tombOff, evOff, live := u(0), u(1), u(2), u(3), u(4), u(5)
	s.stats = Stats{Records: total, Fragments: u(6), Events: u(7)}
	// Every place the trailer gives is checked against the layout before anything is read there.
	switch {
	case nRuns > tablesEnd/runEntry || runsOff != tablesEnd-nRuns*runEntry:
		return nil, corrupt("the run table does not end where the trailer starts")
	case total >= 1<<32 || s.stats.Fragments > total || s.stats.Fragments+s.stats.Events != total:
		return nil, corrupt("the record counts do not add up")
	case tombOff < uint64(magicSize) || tombOff > evOff || evOff > runsOff || evOff-tombOff != (total+7)/8:
		return nil, corrupt("the tombstones do not fit between the runs and the event index")
	case live > s.stats.Events || live > (runsOff-evOff)/uint64(eventIndexEntry) || evOff+live*uint64(eventIndexEntry) != runsOff:
		return nil, corrupt("the event index does not fit between the tombstones and the run table")
	}
	s.tombOff, s.evOff, s.evCount = tombOff, evOff, live
	s.tomb = make([]byte, evOff-tombOff)
	if err := s.readFull(s.tomb, tombOff); err != nil {
		return nil, err
	}
	table := make([]byte, nRuns*runEntry)
	if err := s.readFull(table, runsOff); err != nil {
		return nil, err
	}
	if s.checked {
		s.evCRC = uint32(u(8))
		sum := crc32.Update(crc32.Update(crc32.Update(0, castagnoli, s.tomb), castagnoli, table), castagnoli, t[:9*8])
		if uint64(sum) != u(9) {
			return nil, corrupt("the checksum of the tables does not match")
		}
	}
	// Each tombstone is an event that a later one with its _id replaced; padding bits are clear.
	tombstoned := 0
	for _, b := range s.tomb {
		tombstoned += bits.OnesCount8(b)
	}
	if total%8 != 0 && s.tomb[len(s.tomb)-1]>>(total%8) != 0 {
		return nil, corrupt("tombstones past the last record")
	}
	if uint64(tombstoned) != s.stats.Events-live {
		return nil, corrupt("%d tombstones, but %d events and %d live", tombstoned, s.stats.Events, live)
	}
	s.stats.Tombstoned = uint64(tombstoned)
	// The runs follow each other from the magic to the tombstones.
	next, records := uint64(magicSize), uint64(0)
	for i := range nRuns {
		e := table[i*runEntry:]
		r := runInfo{metaOff: binary.LittleEndian.Uint64(e), metaLen: binary.LittleEndian.Uint64(e[8:]),
			bodyOff: binary.LittleEndian.Uint64(e[16:]), bodyLen: binary.LittleEndian.Uint64(e[24:]),
			count: binary.LittleEndian.Uint64(e[32:])}
		if s.checked {
			crcs := binary.LittleEndian.Uint64(e[40:])
			r.metaCRC, r.bodyCRC = uint32(crcs>>32), uint32(crcs)
		}
		if r.metaOff != next || next > tombOff || r.count == 0 || r.count > total-records || r.metaLen < r.count || r.metaLen > tombOff-r.metaOff ||
			r.bodyOff != r.metaOff+r.metaLen || r.bodyLen > tombOff-r.bodyOff {
			return nil, corrupt("run %d does not fit where the runs before it end", i)
		}
		s.runs = append(s.runs, r)
		s.firsts = append(s.firsts, uint32(records))
		next, records = r.bodyOff+r.bodyLen, records+r.count
	}
	if next != tombOff || records != total {
		return nil, corrupt("the runs do not end where the tombstones start")
	}
	return s, nil
}

// readFull reads len(b) bytes at off, which the caller has checked lie in the file: a short read
// means the file shrank.
func (s *Segment) readFull(b []byte, off uint64) error {
	if _, err := s.f.ReadAt(b, int64(off)); err != nil {
		if errors.Is(err, io.EOF) {
			return corrupt("the file is cut short")
		}
		return err
	}
	return nil
}

// Close closes the file.
func (s *Segment) Close() error { return s.closer.Close() }

// Stats counts the segment's records.
func (s *Segment) Stats() Stats { return s.stats }

// Runs is the number of runs.
func (s *Segment) Runs() int { return len(s.runs) }

// ReadAt reads bytes of the record bodies at off: for an export that reads bodies by their place
// (Record.BodyOff, BodyLen). It is not checked against the runs' checksums.
func (s *Segment) ReadAt(b []byte, off uint64) error {
	if off < uint64(magicSize) || off > s.tombOff || uint64(len(b)) > s.tombOff-off {
		return corrupt("a body at %d of %d bytes lies outside the runs", off, len(b))
	}
	return s.readFull(b, off)
}

func (s *Segment) tombstoned(idx uint32) bool { return s.tomb[idx/8]&(1<<(idx%8)) != 0 }

// IDRef is an identity read from a segment: views into the reader's buffer, valid until it moves.
type IDRef struct {
	NS, ID []byte
}

// Compare orders identities by namespace, then id, in byte order.
func (a IDRef) Compare(b IDRef) int {
	if c := bytes.Compare(a.NS, b.NS); c != 0 {
		return c
	}
	return bytes.Compare(a.ID, b.ID)
}

// Record is a record read back from a segment. Its identities, body and member starts are views
// into the iterator's buffers, valid until it moves.
type Record struct {
	Kind      record.Kind
	Seq       uint64
	IDs       []IDRef // the primary identity first
	Timestamp int64   // of an event, in nanoseconds since the epoch
	Body      []byte  // empty when only metadata is read
	Index     uint32  // the record's position in the segment, in run order
	BodyOff   uint64  // where the body is in the file
	BodyLen   uint32
	// Members are where the body's top-level members start (record.Record.Members), empty when
	// only metadata is read; MembersLen bytes of them follow the body in the file.
	Members    []byte
	MembersLen uint32
}

// Primary is the record's primary identity.
func (r *Record) Primary() IDRef { return r.IDs[0] }

// Iterator reads one run of a segment in order, skipping tombstoned records. Reaching the end of
// the run checks that the run is whole: its regions read to their ends and, in a segment with
// checksums, matching them.
type Iterator struct {
	seg *Segment
	run *runInfo
	// The meta region is read in blocks into meta, from metaAt on; metadata is parsed where it
	// lies in the block, and each byte is checksummed once, as it is read.
	meta     []byte
	metaPos  int
	metaAt   uint64
	metaLeft uint64        // bytes of the region not yet parsed
	body     *bufio.Reader // nil when only metadata is read
	bodyBuf  []byte        // the current record's body and member starts
	bodyOff  uint64
	bodyEnd  uint64
	metaCRC  uint32
	bodyCRC  uint32
	next     uint32
	end      uint32
	cur      Record
	err      error
}

const (
	iteratorBuffer = 64 << 10
	maxMetaBytes   = 1 << 20
	maxBodyBytes   = 1 << 30
	maxStartsBytes = 1 << 12
	maxIdentities  = 1 << 16
)

// bufferFor is the size of the buffer that reads a region: the region, up to iteratorBuffer, so
// that the many small runs of small batches cost little memory.
func bufferFor(region uint64) int { return int(min(max(region, 16), iteratorBuffer)) }

// Run iterates over the records of a run, with their bodies.
func (s *Segment) Run(run int) *Iterator {
	it := s.RunMeta(run)
	r := &s.runs[run]
	it.body = bufio.NewReaderSize(io.NewSectionReader(s.f, int64(r.bodyOff), int64(r.bodyLen)), bufferFor(r.bodyLen))
	return it
}

// RunMeta iterates over the records of a run without reading their bodies (Record.Body is
// empty): a pass over identities that reads no JSON.
func (s *Segment) RunMeta(run int) *Iterator {
	r := &s.runs[run]
	return &Iterator{
		seg:      s,
		run:      r,
		meta:     make([]byte, 0, bufferFor(r.metaLen)),
		metaAt:   r.metaOff,
		metaLeft: r.metaLen,
		bodyOff:  r.bodyOff,
		bodyEnd:  r.bodyOff + r.bodyLen,
		next:     s.firsts[run],
		end:      s.firsts[run] + uint32(r.count),
	}
}

// Record is the current record.
func (it *Iterator) Record() *Record { return &it.cur }

// Err is what stopped the iteration, if it did not reach the end of the run.
func (it *Iterator) Err() error { return it.err }

// Next moves to the next live record; it returns false at the end of the run, or on an error
// (see Err).
func (it *Iterator) Next() bool {
	for it.next < it.end {
		idx := it.next
		it.next++
		if err := it.read(idx); err != nil {
			it.err = err
			return false
		}
		if it.next == it.end {
			if err := it.finish(); err != nil {
				it.err = err
				return false
			}
		}
		if !it.seg.tombstoned(idx) {
			return true
		}
	}
	return false
}

// finish checks that the run was read whole, and that it matches its checksums.
func (it *Iterator) finish() error {
	if it.metaLeft != 0 || it.bodyOff != it.bodyEnd {
		return corrupt("a run's records do not fill its regions")
	}
	if it.seg.checked && (it.metaCRC != it.run.metaCRC || (it.body != nil && it.bodyCRC != it.run.bodyCRC)) {
		return corrupt("a run does not match its checksum")
	}
	return nil
}

// fill makes at least n bytes of the meta region (which it has) parsable at it.metaPos.
func (it *Iterator) fill(n int) error {
	if len(it.meta)-it.metaPos >= n {
		return nil
	}
	left := copy(it.meta[:cap(it.meta)], it.meta[it.metaPos:])
	if cap(it.meta) < n {
		grown := make([]byte, left, n)
		copy(grown, it.meta[:left])
		it.meta = grown
	}
	it.metaPos = 0
	unread := it.metaLeft - uint64(left) // bytes of the region after those in the block
	b := it.meta[left:min(uint64(cap(it.meta)), uint64(left)+unread)]
	if err := it.seg.readFull(b, it.metaAt); err != nil {
		return err
	}
	it.metaCRC = crc32.Update(it.metaCRC, castagnoli, b)
	it.metaAt += uint64(len(b))
	it.meta = it.meta[:left+len(b)]
	return nil
}

func (it *Iterator) read(idx uint32) error {
	if err := it.fill(int(min(binary.MaxVarintLen64, it.metaLeft))); err != nil {
		return err
	}
	n, k := binary.Uvarint(it.meta[it.metaPos:])
	if k <= 0 || n == 0 || n > maxMetaBytes || uint64(k)+n > it.metaLeft {
		return corrupt("a record's metadata does not fit in its run")
	}
	it.metaPos += k
	it.metaLeft -= uint64(k)
	if err := it.fill(int(n)); err != nil {
		return err
	}
	m := it.meta[it.metaPos : it.metaPos+int(n)]
	it.metaPos += int(n)
	it.metaLeft -= n

	r := &it.cur
	r.Index = idx
	p := metaParser{b: m}
	r.Kind = record.Kind(p.byte())
	r.Seq = p.uvarint()
	count := p.uvarint()
	if (r.Kind != record.Fragment && r.Kind != record.Event) || count == 0 || count > maxIdentities {
		return corrupt("a record's metadata is damaged")
	}
	r.IDs = r.IDs[:0]
	for range count {
		id := IDRef{NS: p.bytes(), ID: p.bytes()}
		if len(id.NS) == 0 || len(id.ID) == 0 {
			p.bad = true
			break
		}
		r.IDs = append(r.IDs, id)
	}
	r.Timestamp = 0
	if r.Kind == record.Event {
		p.bytes() // the event id: exports read it from the body when they need it
		r.Timestamp = p.varint()
	}
	bodyLen := p.uvarint()
	var startsLen uint64
	if it.seg.starts {
		startsLen = p.uvarint()
	}
	if r.Kind == record.Event && startsLen != 0 {
		return corrupt("an event's metadata gives it member starts, which only profile fragments have")
	}
	if startsLen > maxStartsBytes {
		return corrupt("a record's member starts take %d bytes, more than the %d a writer keeps", startsLen, maxStartsBytes)
	}
	if p.bad || len(p.b) != 0 || bodyLen > maxBodyBytes || bodyLen+startsLen > it.bodyEnd-it.bodyOff {
		return corrupt("a record's metadata is damaged")
	}
	r.BodyOff, r.BodyLen, r.MembersLen = it.bodyOff, uint32(bodyLen), uint32(startsLen)
	it.bodyOff += bodyLen + startsLen
	if it.body == nil {
		r.Body, r.Members = r.Body[:0], r.Members[:0]
		return nil
	}
	// The body and its member starts are read into one buffer.
	size := bodyLen + startsLen
	if cap(it.bodyBuf) < int(size) {
		it.bodyBuf = make([]byte, size)
	}
	b := it.bodyBuf[:size]
	if _, err := io.ReadFull(it.body, b); err != nil {
		return wrapRead(err)
	}
	it.bodyCRC = crc32.Update(it.bodyCRC, castagnoli, b)
	r.Body, r.Members = b[:bodyLen:bodyLen], b[bodyLen:size:size]
	return nil
}

// wrapRead reports a read that found the end of a region's bytes as corruption: the file shrank.
func wrapRead(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return corrupt("the file is cut short")
	}
	return err
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
	p.skip(n)
	return v
}

func (p *metaParser) varint() int64 {
	v, n := binary.Varint(p.b)
	p.skip(n)
	return v
}

// skip moves past a varint of n bytes; n <= 0 is a malformed one (whose value is 0).
func (p *metaParser) skip(n int) {
	if n <= 0 {
		p.bad = true
		return
	}
	p.b = p.b[n:]
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

// EventIndex calls fn with the segment's event index: the hashes of its live events' _ids, in
// ascending order, with each event's position. The index is checked as it is read; an error
// after some calls means that what fn was given is not to be used.
func (s *Segment) EventIndex(fn func(h EventHash, idx uint32) error) error {
	size := s.evCount * uint64(eventIndexEntry)
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, int64(s.evOff), int64(size)), bufferFor(size))
	entry := make([]byte, eventIndexEntry)
	var prev EventHash
	var sum uint32
	for i := range s.evCount {
		if _, err := io.ReadFull(r, entry); err != nil {
			return wrapRead(err)
		}
		sum = crc32.Update(sum, castagnoli, entry)
		var h EventHash
		copy(h[:], entry)
		idx := binary.LittleEndian.Uint32(entry[len(h):])
		if (i > 0 && bytes.Compare(prev[:], h[:]) >= 0) || uint64(idx) >= s.stats.Records || s.tombstoned(idx) {
			return corrupt("the event index is damaged")
		}
		prev = h
		if err := fn(h, idx); err != nil {
			return err
		}
	}
	if s.checked && sum != s.evCRC {
		return corrupt("the event index does not match its checksum")
	}
	return nil
}
