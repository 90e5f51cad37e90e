// Package segment is the file format of the profile store: a segment holds the records of one
// batch, in a file beside the batch's files, written once (Writer) and read by any number of
// exports (Segment).
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
// trailer. Integers in the tables are little-endian. Every region is accounted for: the run
// table's regions follow each other from the magic to the tombstones, and the trailer places the
// rest, so that a file cut short or a table damaged is refused when the segment is opened.
//
// Version 3 adds CRC-32C checksums: of each run's meta and body regions (in the run table), of the
// event index, and of the tombstones, run table and trailer together (in the trailer). Opening a
// segment checks the tables; reading a run from start to end checks its regions, and reading the
// event index checks it; a mismatch is ErrCorrupt. A reader that walks a run's metadata alone and
// reads the bodies elsewhere in consecutive pieces checks the body region with a BodyCheck, which
// combines the pieces' checksums. A body read by its place (ReadAt) alone is not checked. Version
// 2 segments, without checksums, are still read.
//
// Version 4 keeps where the top-level members of each profile fragment's body start
// (fields.AppendMemberStarts), so that an export jumps over the members it does not keep: the
// starts follow the body in the body region, and the record's metadata ends with their length.
// Version 3 segments, whose records have no starts, are still read.
package segment

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// FileName is the name of a batch's segment file.
const FileName = "profile.seg"

var (
	magicV2 = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', '0', '2'}
	magicV3 = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', '0', '3'}
	magicV4 = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', '0', '4'}
	trailer = [8]byte{'A', 'E', 'P', 'S', 'E', 'G', 'E', 'N'}
)

const (
	magicSize = len(magicV4)
	// runEntry is the size of a run table entry: meta offset and length, body offset and length,
	// record count; and from version 3 on the regions' checksums.
	runEntryV2 = 5 * 8
	runEntryV3 = 6 * 8
	// trailerSize is the size of the trailer: run count, run table offset, record count,
	// tombstone offset, event index offset, live events, fragments, events; from version 3 on the
	// checksums of the event index and of the tables; and the trailer's magic.
	trailerSizeV2   = 8*8 + 8
	trailerSizeV3   = 10*8 + 8
	eventIndexEntry = len(EventHash{}) + 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is the error of a segment that is not what its writer left: cut short, or damaged.
var ErrCorrupt = errors.New("corrupt profile segment")

func corrupt(what string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(what, args...))
}

// EventHash is the first half of the SHA-256 of an event's _id: what the event index keeps.
type EventHash [sha256.Size / 2]byte

// HashEventID is the hash of an event _id.
func HashEventID(id string) EventHash {
	var buf [64]byte // an id of up to 64 bytes (a UUID is 36) is hashed without an allocation
	sum := sha256.Sum256(append(buf[:0], id...))
	var h EventHash
	copy(h[:], sum[:])
	return h
}

type runInfo struct {
	metaOff, metaLen, bodyOff, bodyLen uint64
	count                              uint64
	metaCRC, bodyCRC                   uint32
}

// Stats counts the records of a segment.
type Stats struct {
	Records, Fragments, Events, Tombstoned uint64
}

// IDKey is the first 16 bytes of id as two big-endian numbers, padded with zeros. Where the keys
// of two ids differ, the first byte they differ at is one both ids have, or one the shorter
// lacks and the longer has above zero: either way the ids order as their keys (CompareIDKeys).
// Where the keys are equal, the ids are to be compared in full. The segment writer sorts its runs
// by them, and an export merges the runs by them.
func IDKey[S ~string | ~[]byte](id S) [2]uint64 {
	var b [16]byte
	copy(b[:], id)
	return [2]uint64{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// CompareIDKeys orders two keys of IDKey as their ids order, where the keys differ; 0 when they
// are equal.
func CompareIDKeys(a, b [2]uint64) int {
	if a[0] != b[0] {
		return cmp.Compare(a[0], b[0])
	}
	return cmp.Compare(a[1], b[1])
}
