package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// fixture is the records of a small batch: fragments and events of a few people, in an order
// that runs must sort, with events sent twice (the later copy wins).
func fixture() []*record.Record {
	var out []*record.Record
	for i := range 40 {
		person := fmt.Sprintf("p%02d", (i*7)%13)
		ids := []record.Identity{{NS: "Email", ID: person + "@example.com"}, {NS: "ECID", ID: "ecid-" + person}}
		if i%3 == 0 {
			out = append(out, &record.Record{Kind: record.Event, Identities: ids[1:], EventID: fmt.Sprintf("ev%d", i%11),
				Timestamp: 1_767_000_000_000_000_000 + int64(i), Body: fmt.Appendf(nil, `{"_id":"ev%d","i":%d}`, i%11, i)})
			continue
		}
		body := fmt.Appendf(nil, `{"n":%d,"m":{"k":[%d]}}`, i, i)
		starts, ok := fields.AppendMemberStarts(nil, body)
		if !ok {
			panic(fmt.Sprintf("%s has no member starts", body))
		}
		out = append(out, &record.Record{Kind: record.Fragment, Identities: ids, Body: body, Members: starts})
	}
	for i, r := range out {
		r.Seq = uint64(i)
	}
	return out
}

// writeFixture writes the fixture as a segment of many runs and returns its path.
func writeFixture(t *testing.T, dir string) string {
	t.Helper()
	return writeFixtureVersion(t, dir, magicV4)
}

// writeFixtureVersion is writeFixture in the version magic names.
func writeFixtureVersion(t *testing.T, dir string, magic [magicSize]byte) string {
	t.Helper()
	w, err := create(dir, WriterOptions{RunBytes: 300}, magic)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range fixture() {
		if err := w.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, FileName)
}

// fixtureBytes writes the fixture's segment in dir and returns its bytes.
func fixtureBytes(t *testing.T, dir string) []byte {
	t.Helper()
	whole, err := os.ReadFile(writeFixture(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	return whole
}

// readAll reads everything the segment file at path holds (see readSegment).
func readAll(path string) (string, error) {
	s, err := Open(path)
	if err != nil {
		return "", err
	}
	defer s.Close()
	return readSegment(s)
}

// readBytes reads everything a segment of the given bytes holds (see readSegment).
func readBytes(data []byte) (string, error) {
	s, err := readTables(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", err
	}
	return readSegment(s)
}

// readSegment reads everything a segment holds: every run with and without bodies, and its event
// index, as text. It stops at the first error.
func readSegment(s *Segment) (string, error) {
	var out strings.Builder
	fmt.Fprintf(&out, "%+v\n", s.Stats())
	for run := range s.Runs() {
		for _, it := range []*Iterator{s.Run(run), s.RunMeta(run)} {
			for it.Next() {
				r := it.Record()
				fmt.Fprintf(&out, "run %d #%d kind %d seq %d ts %d ids", run, r.Index, r.Kind, r.Seq, r.Timestamp)
				for _, id := range r.IDs {
					fmt.Fprintf(&out, " %s:%s", id.NS, id.ID)
				}
				fmt.Fprintf(&out, " body %d+%d %s members %d %x\n", r.BodyOff, r.BodyLen, r.Body, r.MembersLen, r.Members)
			}
			if err := it.Err(); err != nil {
				return "", err
			}
		}
	}
	err := s.EventIndex(func(h EventHash, idx uint32) error {
		fmt.Fprintf(&out, "event %x at %d\n", h, idx)
		return nil
	})
	return out.String(), err
}

func TestRoundTrip(t *testing.T) {
	path := writeFixture(t, t.TempDir())
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	records := fixture()
	if s.Runs() < 5 {
		t.Errorf("%d runs; a 300-byte run limit makes many", s.Runs())
	}
	// The latest record of each event _id is live; the earlier ones are tombstoned.
	latest := map[string]uint64{}
	var fragments, events uint64
	for _, r := range records {
		if r.Kind == record.Event {
			latest[r.EventID] = r.Seq
			events++
		} else {
			fragments++
		}
	}
	want := Stats{Records: uint64(len(records)), Fragments: fragments, Events: events, Tombstoned: events - uint64(len(latest))}
	if s.Stats() != want {
		t.Errorf("stats %+v, want %+v", s.Stats(), want)
	}
	bySeq := map[uint64]*record.Record{}
	for _, r := range records {
		bySeq[r.Seq] = r
	}
	var seen []uint64
	idxOfSeq := map[uint64]uint32{}
	for run := range s.Runs() {
		it := s.Run(run)
		meta := s.RunMeta(run)
		var prev *record.Record
		for it.Next() {
			got := it.Record()
			if !meta.Next() {
				t.Fatalf("run %d: the meta pass ends before the full one: %v", run, meta.Err())
			}
			m := meta.Record()
			r := bySeq[got.Seq]
			if r == nil || got.Kind != r.Kind || !bytes.Equal(got.Body, r.Body) || got.Timestamp != r.Timestamp ||
				string(got.Primary().NS) != r.Primary().NS || string(got.Primary().ID) != r.Primary().ID || len(got.IDs) != len(r.Identities) {
				t.Fatalf("run %d: record %+v does not match what was written (%+v)", run, got, r)
			}
			if m.Seq != got.Seq || m.Index != got.Index || m.BodyOff != got.BodyOff || m.BodyLen != got.BodyLen || len(m.Body) != 0 {
				t.Errorf("the meta pass read %+v where the full one read %+v", m, got)
			}
			if !bytes.Equal(got.Members, r.Members) || m.MembersLen != uint32(len(r.Members)) || len(m.Members) != 0 {
				t.Errorf("seq %d: member starts %x, %d in the meta pass; want %x", got.Seq, got.Members, m.MembersLen, r.Members)
			}
			// The starts follow the body.
			body := make([]byte, got.BodyLen+got.MembersLen)
			if err := s.ReadAt(body, got.BodyOff); err != nil || !bytes.Equal(body, append(slices.Clone(r.Body), r.Members...)) {
				t.Errorf("the body by its place is %q (%v), want %q and %x", body, err, r.Body, r.Members)
			}
			if r.Kind == record.Event && latest[r.EventID] != r.Seq {
				t.Errorf("event %s of seq %d is live, but seq %d has its _id later", r.EventID, r.Seq, latest[r.EventID])
			}
			if prev != nil && (prev.Primary().Compare(r.Primary()) > 0 || (prev.Primary() == r.Primary() && prev.Seq > r.Seq)) {
				t.Errorf("run %d is not in primary identity then sequence order", run)
			}
			prev = r
			seen = append(seen, got.Seq)
			idxOfSeq[got.Seq] = got.Index
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if meta.Next() || meta.Err() != nil {
			t.Errorf("run %d: the meta pass goes on after the full one (%v)", run, meta.Err())
		}
	}
	if len(seen) != len(records)-int(want.Tombstoned) {
		t.Errorf("%d live records read, want %d", len(seen), len(records)-int(want.Tombstoned))
	}
	var hashes []EventHash
	err = s.EventIndex(func(h EventHash, idx uint32) error {
		hashes = append(hashes, h)
		for id, seq := range latest {
			if HashEventID(id) == h && idxOfSeq[seq] != idx {
				t.Errorf("the index places event %s at %d, want %d", id, idx, idxOfSeq[seq])
			}
		}
		return nil
	})
	if err != nil || len(hashes) != len(latest) || !slices.IsSortedFunc(hashes, func(a, b EventHash) int { return bytes.Compare(a[:], b[:]) }) {
		t.Errorf("event index of %d hashes (sorted: %v), %v; want the %d live events, sorted", len(hashes),
			slices.IsSortedFunc(hashes, func(a, b EventHash) int { return bytes.Compare(a[:], b[:]) }), err, len(latest))
	}
	if err := s.ReadAt(make([]byte, 10), s.tombOff-5); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a read past the bodies: %v, want ErrCorrupt", err)
	}
}

// A segment cut short anywhere is refused when it is opened.
func TestTruncatedSegmentsAreRefused(t *testing.T) {
	dir := t.TempDir()
	whole := fixtureBytes(t, dir)
	for n := range len(whole) {
		if _, err := readTables(bytes.NewReader(whole[:n]), int64(n)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("a segment cut to %d of %d bytes opened: %v", n, len(whole), err)
		}
	}
	// From a file too.
	path := filepath.Join(dir, "cut.seg")
	if err := os.WriteFile(path, whole[:len(whole)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Errorf("a segment file cut short: %v, want ErrCorrupt naming the file", err)
	}
}

// Any byte of a segment damaged makes reading it whole fail with ErrCorrupt: never a panic, and
// never other records than were written.
func TestDamagedSegmentsAreRefused(t *testing.T) {
	dir := t.TempDir()
	whole := fixtureBytes(t, dir)
	if _, err := readAll(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("the undamaged segment: %v", err)
	}
	damaged := make([]byte, len(whole))
	for i := range whole {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			copy(damaged, whole)
			damaged[i] ^= flip
			if out, err := readBytes(damaged); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d of %d xor %#x: read %v, want ErrCorrupt; it read:\n%s", i, len(whole), flip, err, out)
			}
		}
	}
}

// toV2 rewrites a segment in version 2, which has no checksums: the run table's entries and the
// trailer lose theirs.
func toV2(t *testing.T, v3 []byte) []byte {
	t.Helper()
	trailerAt := len(v3) - trailerSizeV3
	u := func(i int) uint64 { return binary.LittleEndian.Uint64(v3[trailerAt+8*i:]) }
	nRuns, runsOff := int(u(0)), int(u(1))
	out := append([]byte{}, magicV2[:]...)
	out = append(out, v3[magicSize:runsOff]...)
	for i := range nRuns {
		out = append(out, v3[runsOff+i*runEntryV3:runsOff+i*runEntryV3+runEntryV2]...)
	}
	out = appendUint64s(out, uint64(nRuns), uint64(runsOff), u(2), u(3), u(4), u(5), u(6), u(7))
	return append(out, trailer[:]...)
}

// Segments of version 2, written before checksums, are read as they are.
func TestVersion2SegmentsAreRead(t *testing.T) {
	dir := t.TempDir()
	path := writeFixtureVersion(t, dir, magicV3)
	v3, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readAll(path)
	if err != nil {
		t.Fatal(err)
	}
	v2path := filepath.Join(dir, "v2.seg")
	if err := os.WriteFile(v2path, toV2(t, v3), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readAll(v2path)
	if err != nil || got != want {
		t.Fatalf("the version 2 segment reads (%v):\n%s\nwant:\n%s", err, got, want)
	}
	// Without checksums, a cut still shows.
	v2, _ := os.ReadFile(v2path)
	if err := os.WriteFile(v2path, v2[:len(v2)-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(v2path); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a version 2 segment cut short: %v, want ErrCorrupt", err)
	}
}

// Segments of version 3, written before member starts, are read as they are: the same records,
// without starts, and their bodies check in pieces.
func TestVersion3SegmentsAreRead(t *testing.T) {
	records := func(path string) []string {
		t.Helper()
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := checkRunsInPieces(s); err != nil {
			t.Fatal(err)
		}
		var out []string
		for run := range s.Runs() {
			for it := s.Run(run); it.Next(); {
				r := it.Record()
				out = append(out, fmt.Sprintf("%d %d %s %s %x", r.Kind, r.Seq, r.IDs, r.Body, r.Members))
			}
		}
		slices.Sort(out) // runs end at other records in the two versions
		return out
	}
	v3 := records(writeFixtureVersion(t, t.TempDir(), magicV3))
	v4 := records(writeFixture(t, t.TempDir()))
	var starts int
	for _, r := range fixture() {
		if len(r.Members) > 0 {
			starts++
		}
	}
	if len(v3) != len(v4) || starts == 0 {
		t.Fatalf("%d records of version 3, %d of version 4; %d with starts", len(v3), len(v4), starts)
	}
	for i := range v3 {
		// The same record, the version 3 one without its starts.
		if !strings.HasSuffix(v3[i], " ") || !strings.HasPrefix(v4[i], v3[i]) {
			t.Errorf("record %d: version 3 %q, version 4 %q", i, v3[i], v4[i])
		}
	}
}

// An event whose metadata gives it member starts is damaged: only fragments have them.
func TestEventWithStartsIsCorrupt(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ev := &record.Record{Kind: record.Event, Identities: []record.Identity{{NS: "ECID", ID: "e1"}}, EventID: "ev",
		Body: []byte(`{"_id":"ev"}`), Members: []byte{1}}
	if err := w.Add(ev); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if got, err := readAll(path); err != nil || !strings.Contains(got, "members 0 \n") {
		t.Fatalf("the event as written: %v\n%s", err, got)
	}
	// The metadata's last byte is the length of the starts, which the writer left 0.
	patchFirstMetaEnd(t, path, []byte{0}, []byte{1})
	// Found by the event's own check, before the run's checksum or its body's bounds would be.
	if _, err := readAll(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "an event's metadata gives it member starts") {
		t.Errorf("an event with member starts: %v, want ErrCorrupt saying so", err)
	}
}

// A fragment whose metadata gives it more bytes of member starts than a writer keeps is corrupt,
// though its run's body region could hold them.
func TestStartsPastTheLimitAreCorrupt(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 128 bytes of starts, whose length is two bytes of uvarint; and after it in the run, a body
	// large enough for the body region to hold the 4,097 bytes the length is changed to.
	first := &record.Record{Kind: record.Fragment, Identities: []record.Identity{{NS: "CRMID", ID: "a"}},
		Body: []byte(`{"a":1}`), Members: bytes.Repeat([]byte{1}, 128)}
	second := &record.Record{Kind: record.Fragment, Identities: []record.Identity{{NS: "CRMID", ID: "b"}},
		Body: []byte(`{"b":"` + strings.Repeat("x", 5000) + `"}`)}
	for _, r := range []*record.Record{first, second} {
		if err := w.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	if _, err := readAll(path); err != nil {
		t.Fatalf("the segment as written: %v", err)
	}
	// The first record's metadata ends with the length of its starts: 128, as 4,097.
	patchFirstMetaEnd(t, path, []byte{0x80, 0x01}, []byte{0x81, 0x20})
	// Found by the limit's own check, before the run's checksum or the next body's bounds would be.
	if _, err := readAll(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "member starts take 4097 bytes") {
		t.Errorf("starts of 4,097 bytes: %v, want ErrCorrupt saying so", err)
	}
}

// patchFirstMetaEnd replaces the last bytes of the segment's first record's metadata, which must
// be was, with now (as long).
func patchFirstMetaEnd(t *testing.T, path string, was, now []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, k := binary.Uvarint(b[magicSize:])
	at := magicSize + k + int(n) - len(was)
	if !bytes.Equal(b[at:at+len(was)], was) {
		t.Fatalf("the first record's metadata ends with % x, not % x", b[at:at+len(was)], was)
	}
	copy(b[at:], now)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// An empty segment (a batch whose records all failed is not kept, but the writer allows it) is
// whole.
func TestEmptySegment(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := readAll(filepath.Join(dir, FileName))
	if err != nil || out != fmt.Sprintf("%+v\n", Stats{}) {
		t.Errorf("empty segment: %q, %v", out, err)
	}
}

// Abort leaves nothing behind.
func TestAbort(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add(fixture()[1]); err != nil {
		t.Fatal(err)
	}
	w.Abort()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("an aborted segment left %v", entries)
	}
}

// FuzzReadSegment reads arbitrary bytes as a segment: reading never panics, and whatever is
// wrong with the bytes is ErrCorrupt, a clear error, rather than anything else.
func FuzzReadSegment(f *testing.F) {
	whole, err := os.ReadFile(writeFixture(&testing.T{}, f.TempDir()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(whole)
	f.Add(whole[:len(whole)/2])
	v3, err := os.ReadFile(writeFixtureVersion(&testing.T{}, filepath.Join(f.TempDir()), magicV3))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v3)
	f.Add(toV2(&testing.T{}, v3))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := readBytes(data); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("reading %d bytes as a segment: %v, want ErrCorrupt", len(data), err)
		}
	})
}

// TestComparePendingOrdersAsIdentities checks the sort of a run against record.Identity.Compare
// and sequence, over ids that share prefixes of every length around the key's 8 and 16 bytes,
// end in zero bytes, or carry bytes above 0x7f.
func TestComparePendingOrdersAsIdentities(t *testing.T) {
	var ids []string
	for _, stem := range []string{"", "a", "CRM-0000000", "CRM-00000001234", "0123456789abcde", "0123456789abcdef", "é"} {
		for _, tail := range []string{"", "\x00", "\x00\x00", "0", "1", "\xff", "0\x00", "01234567", "ab\x00c"} {
			ids = append(ids, stem+tail)
		}
	}
	var recs []pendingRecord
	for _, ns := range []string{"ECID", "Email", "E"} {
		for _, id := range ids {
			for seq := range uint64(2) {
				recs = append(recs, pendingRecord{primary: record.Identity{NS: ns, ID: id}, idKey: IDKey(id), seq: seq})
			}
		}
	}
	sign := func(c int) int { return min(max(c, -1), 1) }
	for _, a := range recs {
		for _, b := range recs {
			want := a.primary.Compare(b.primary)
			if want == 0 {
				want = sign(int(a.seq) - int(b.seq))
			}
			if got := sign(comparePending(a, b)); got != want {
				t.Fatalf("comparePending(%q/%d, %q/%d) = %d, want %d", a.primary, a.seq, b.primary, b.seq, got, want)
			}
		}
	}
}
