package graph

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
)

// A kept graph is what an export made of a store's identity graph, saved for the exports after
// it while the store stays the same: the components in rank order, each with its smallest
// identity's namespace, its identity count, and its records' places (values of one fixed size
// that the caller defines), in the order they were added.
//
// The file is a header (keptMagic, the store's key, the value size), one entry a component
// (uvarint namespace length, the namespace, uvarint identity count, uvarint value count, the
// values), and a trailer (the count of components, a CRC-32C of all that comes before it and of
// the count, keptEnd). It is written under another name and renamed into place, so that a reader
// never finds one being written; a reader checks the whole file before it reads the first
// component, and checks it again as it reads. It is a cache of the store, and is not synced:
// what a crash leaves of it (no file, or one whose pages did not all reach the disk) fails that
// check, and costs the next export the building of the graph, not rows.

// Key names the store a kept graph was made of: two stores with one key have the same records.
type Key [32]byte

const (
	keptMagic  = "AEPGRAF1"
	keptEnd    = "AEPGEND1"
	keptHeader = len(keptMagic) + len(Key{}) + 4
	// The trailer: the count of components at 0, the CRC at trailerCRC, keptEnd at trailerEnd.
	trailerCRC  = 8
	trailerEnd  = trailerCRC + 4
	keptTrailer = trailerEnd + len(keptEnd)
	keptBuffer  = 256 << 10
	// maxIdentities bounds a component's count of identities, which sizes nothing.
	maxIdentities = math.MaxInt32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// keptHeaderOf is the header of a kept graph of the store key, of values of valueSize bytes.
func keptHeaderOf(key Key, valueSize int) (h [keptHeader]byte) {
	copy(h[:], keptMagic)
	copy(h[len(keptMagic):], key[:])
	binary.BigEndian.PutUint32(h[len(keptMagic)+len(key):], uint32(valueSize))
	return h
}

// ErrNotKept is the answer of OpenKept when there is no kept graph of the store asked for: none
// at all, one of another store, or one that does not read back whole.
var ErrNotKept = errors.New("graph: no kept graph of this store")

// KeptWriter writes a kept graph.
type KeptWriter struct {
	f         *os.File
	w         *bufio.Writer
	crc       hash.Hash32
	valueSize int
	count     uint64
	scratch   []byte
}

// CreateKept starts a kept graph of the store key, in a new file in dir (private to its owner),
// of values of valueSize bytes. Commit puts it in place; Abort removes it.
func CreateKept(dir string, key Key, valueSize int) (*KeptWriter, error) {
	if valueSize <= 0 || uint64(valueSize) > math.MaxUint32 {
		return nil, fmt.Errorf("graph: a kept graph's values cannot be %d bytes", valueSize)
	}
	f, err := os.CreateTemp(dir, "kept-*.graph")
	if err != nil {
		return nil, err
	}
	w := &KeptWriter{f: f, crc: crc32.New(castagnoli), valueSize: valueSize}
	w.w = bufio.NewWriterSize(io.MultiWriter(f, w.crc), keptBuffer)
	h := keptHeaderOf(key, valueSize)
	if _, err := w.w.Write(h[:]); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// Add writes the next component: the namespace of its smallest identity, how many identities it
// has, and its records' places, concatenated.
func (w *KeptWriter) Add(ns []byte, identities int, values []byte) error {
	if identities < 0 || identities > maxIdentities {
		return fmt.Errorf("graph: a component of %d identities", identities)
	}
	if len(values)%w.valueSize != 0 {
		return fmt.Errorf("graph: %d bytes of values are not a whole number of %d-byte values", len(values), w.valueSize)
	}
	b := binary.AppendUvarint(w.scratch[:0], uint64(len(ns)))
	b = append(b, ns...)
	b = binary.AppendUvarint(b, uint64(identities))
	b = binary.AppendUvarint(b, uint64(len(values)/w.valueSize))
	w.scratch = b
	if _, err := w.w.Write(b); err != nil {
		return err
	}
	if _, err := w.w.Write(values); err != nil {
		return err
	}
	w.count++
	return nil
}

// Commit finishes the file and renames it to path (replacing what is there), without a sync (see
// above). The writer is done with either way.
func (w *KeptWriter) Commit(path string) (err error) {
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	if err := w.w.Flush(); err != nil {
		return err
	}
	var t [keptTrailer]byte
	binary.BigEndian.PutUint64(t[:], w.count)
	w.crc.Write(t[:trailerCRC])
	binary.BigEndian.PutUint32(t[trailerCRC:], w.crc.Sum32())
	copy(t[trailerEnd:], keptEnd)
	if _, err := w.f.Write(t[:]); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	return os.Rename(w.f.Name(), path)
}

// Abort removes the unfinished file.
func (w *KeptWriter) Abort() {
	_ = w.f.Close()
	_ = os.Remove(w.f.Name())
}

// KeptReader reads a kept graph's components in order.
type KeptReader struct {
	f         *os.File
	r         *bufio.Reader
	valueSize int
	left      uint64 // components not yet read
	limit     int    // the size of the components' entries: no length in them is more
	ns        []byte
	size      int
	values    []byte
	err       error
	// The check the caller's pass makes again as it reads: the sum and the values. Between the
	// two passes the file's pages may leave the page cache, and be read again from the disk: the
	// file is not synced (see above), so that a write the disk lost is found here, not used.
	crc   hash.Hash32
	tail  []byte // the trailer's count, which the sum covers after the entries
	want  uint32
	valid func(value []byte) bool
}

// ErrKeptChanged is what reading a kept graph finds when it no longer reads as it did when
// OpenKept checked it.
var ErrKeptChanged = errors.New("graph: the kept graph does not read back as it did when it was checked")

// OpenKept opens the kept graph at path if it is one of the store key, of values of valueSize
// bytes, that reads back whole: its checksum holds, every entry parses, nothing follows the last,
// and valid (when not nil) accepts every value. Otherwise it answers ErrNotKept (or the error that
// stopped the check), and the caller builds the graph anew.
func OpenKept(path string, key Key, valueSize int, valid func(value []byte) bool) (_ *KeptReader, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotKept
	}
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	body := st.Size() - int64(keptTrailer)
	if body < int64(keptHeader) || uint64(body) > math.MaxInt {
		return nil, ErrNotKept
	}
	var t [keptTrailer]byte
	if _, err := f.ReadAt(t[:], body); err != nil {
		return nil, err
	}
	if string(t[trailerEnd:]) != keptEnd {
		return nil, ErrNotKept
	}
	var h [keptHeader]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		return nil, err
	}
	if h != keptHeaderOf(key, valueSize) {
		return nil, ErrNotKept
	}
	entries := func(r io.Reader) *KeptReader {
		return &KeptReader{f: f, r: bufio.NewReaderSize(r, keptBuffer), valueSize: valueSize,
			left: binary.BigEndian.Uint64(t[:trailerCRC]), limit: int(body) - keptHeader}
	}
	// One pass checks the sum and every entry; the caller's reader then reads them again.
	crc := crc32.New(castagnoli)
	crc.Write(h[:])
	check := entries(io.TeeReader(io.NewSectionReader(f, int64(keptHeader), body-int64(keptHeader)), crc))
	check.valid = valid // Next checks the values, as it does on the caller's pass
	for check.Next() {
	}
	if check.Err() != nil {
		return nil, ErrNotKept
	}
	if n, err := io.Copy(io.Discard, check.r); err != nil || n > 0 { // nothing after the last entry
		return nil, ErrNotKept
	}
	crc.Write(t[:trailerCRC])
	if crc.Sum32() != binary.BigEndian.Uint32(t[trailerCRC:]) {
		return nil, ErrNotKept
	}
	again := crc32.New(castagnoli)
	again.Write(h[:])
	r := entries(io.TeeReader(io.NewSectionReader(f, int64(keptHeader), body-int64(keptHeader)), again))
	r.crc, r.tail, r.want, r.valid = again, t[:trailerCRC], crc.Sum32(), valid
	return r, nil
}

// Next reads the next component, and reports whether there was one.
func (r *KeptReader) Next() bool {
	if r.err != nil || r.left == 0 {
		return false
	}
	r.err = r.next()
	if errors.Is(r.err, io.EOF) {
		r.err = io.ErrUnexpectedEOF
	}
	r.left--
	if r.err == nil && r.valid != nil {
		for v := r.values; len(v) > 0; v = v[r.valueSize:] {
			if !r.valid(v[:r.valueSize]) {
				r.err = ErrKeptChanged
				break
			}
		}
	}
	if r.err == nil && r.left == 0 && r.crc != nil {
		// The last entry's bytes end the section the reader reads: the sum has seen them all.
		r.crc.Write(r.tail)
		if r.crc.Sum32() != r.want {
			r.err = ErrKeptChanged
		}
	}
	return r.err == nil
}

func (r *KeptReader) next() error {
	n, err := r.uvarint()
	if err != nil {
		return err
	}
	r.ns = slices.Grow(r.ns[:0], n)[:n]
	if _, err := io.ReadFull(r.r, r.ns); err != nil {
		return err
	}
	size, err := binary.ReadUvarint(r.r)
	if err != nil {
		return err
	}
	if size > maxIdentities {
		return fmt.Errorf("graph: a kept graph's component says %d identities", size)
	}
	r.size = int(size)
	count, err := r.uvarint()
	if err != nil {
		return err
	}
	if count > r.limit/r.valueSize {
		return fmt.Errorf("graph: a kept graph's component says %d values, more than the file holds", count)
	}
	r.values = slices.Grow(r.values[:0], count*r.valueSize)[:count*r.valueSize]
	_, err = io.ReadFull(r.r, r.values)
	return err
}

// uvarint reads a length, which cannot be more than the file holds.
func (r *KeptReader) uvarint() (int, error) {
	v, err := binary.ReadUvarint(r.r)
	if err != nil {
		return 0, err
	}
	if v > uint64(r.limit) {
		return 0, fmt.Errorf("graph: a kept graph's entry says %d", v)
	}
	return int(v), nil
}

// Namespace is the current component's smallest identity's namespace, valid until Next.
func (r *KeptReader) Namespace() []byte { return r.ns }

// Identities is how many identities the current component has.
func (r *KeptReader) Identities() int { return r.size }

// Values are the current component's records' places, concatenated, valid until Next.
func (r *KeptReader) Values() []byte { return r.values }

// Err is what stopped Next, if anything did before the end.
func (r *KeptReader) Err() error { return r.err }

// Close closes the file.
func (r *KeptReader) Close() error { return r.f.Close() }
