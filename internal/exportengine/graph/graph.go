// Package graph is the private identity graph of an export: records' identities in, each
// record's connected component out, components ranked by their smallest identity (namespace,
// then id, in byte order).
//
// It is built out of core. The identities go to an external sort by key; reading them back in key
// order numbers the distinct identities in that order, so that an identity's node number is its
// rank among all identities. A second sort brings each record's nodes together, in record order,
// and links them in a union-find over the node numbers. What stays in memory is 5 bytes an
// identity (its parent, then its component's size), a bit a record and the sorts' runs: no
// identity's bytes (but those of the record being added and of the one before), no hash table. The identities' keys and each record's first node wait in
// files, read forward. Because the smaller node always becomes the root, a component's root is
// its smallest identity, and ordering components by root ranks them.
//
// A record that shares an identity with the record before it is linked to that record, and only
// its other identities go to the sorts: a person's events come one after another in a store, most
// with the same identities, and so the sorts take about half of the events' identities (at
// 1,000,000 people of the benchmark, 4.6 million identities of 6.6 million in all).
package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/extsort"
)

// Builder gathers the identities of records numbered 0, 1, 2, ...
type Builder struct {
	dir     string
	records int
	runSize int
	mem     *extsort.Memory
	sorter  *extsort.Sorter
	// linked has a bit a record, set for a record linked to the one before it (see Add).
	linked []uint64
	// cur holds the identities of the record being added, prev those added before them (of the
	// record before it, when records come in order).
	cur, prev recordKeys
	sorted    int // identities given to the sort
	rec       [4]byte
}

// recordKeys are the identities of one record, as sort keys.
type recordKeys struct {
	record uint32
	keys   []byte
	ends   []int // where each key ends in keys
}

func (k *recordKeys) reset() {
	k.keys, k.ends = k.keys[:0], k.ends[:0]
}

func (k *recordKeys) key(i int) []byte {
	start := 0
	if i > 0 {
		start = k.ends[i-1]
	}
	return k.keys[start:k.ends[i]]
}

func (k *recordKeys) has(key []byte) bool {
	for i := range k.ends {
		if bytes.Equal(k.key(i), key) {
			return true
		}
	}
	return false
}

// maxLinkChecks bounds the pairs of identities that linking a record to the one before it
// compares: past it, the record is not linked, and all its identities are sorted.
const maxLinkChecks = 256

// RunSize is how much of the identities the external sort should hold in memory before it writes
// a run: memory enough to sort fast, small beside what the export's other stages hold. A sort
// holds two runs, one filling while the other is sorted and written.
const RunSize = 8 << 20

// NewBuilder returns a builder for the given number of records, that keeps its files in dir
// (which must exist and is left to the caller to remove), sorting runs of runSize bytes in the
// buffers of mem (nil: its own).
func NewBuilder(dir string, records, runSize int, mem *extsort.Memory) (*Builder, error) {
	if uint64(records) > math.MaxUint32-1 {
		return nil, fmt.Errorf("graph: %d records are more than a graph can number", records)
	}
	return &Builder{dir: dir, records: records, runSize: runSize, mem: mem, sorter: extsort.New(dir, runSize, mem),
		linked: make([]uint64, (records+63)/64)}, nil
}

// Add adds an identity of a record. The identities of a record belong together. Records may come
// in any order, but a record's identities are best added one after another, and records in
// order: a record whose identities come right after those of the record before it, and share
// one of them, is linked to it, and the identities they share are not sorted again.
func (b *Builder) Add(record uint32, ns, id []byte) error {
	if int(record) >= b.records {
		return fmt.Errorf("graph: record %d past the %d the builder was made for", record, b.records)
	}
	if len(b.cur.ends) > 0 && record != b.cur.record {
		if err := b.endRecord(); err != nil {
			return err
		}
	}
	// The key: namespace, a zero byte, id. The zero byte sorts a namespace before any longer one
	// it prefixes.
	b.cur.record = record
	b.cur.keys = append(append(append(b.cur.keys, ns...), 0), id...)
	b.cur.ends = append(b.cur.ends, len(b.cur.keys))
	return nil
}

// endRecord sorts the identities of the record being added, less those it shares with the record
// before, if it is linked to it.
func (b *Builder) endRecord() error {
	cur, prev := &b.cur, &b.prev
	// Only an identity the record before has can link a record to it, and that one is then not
	// sorted again: one pass finds both.
	canLink := len(prev.ends) > 0 && cur.record == prev.record+1 && len(cur.ends)*len(prev.ends) <= maxLinkChecks
	binary.BigEndian.PutUint32(b.rec[:], cur.record)
	for i := range cur.ends {
		if canLink && prev.has(cur.key(i)) {
			b.linked[cur.record/64] |= 1 << (cur.record % 64)
			continue
		}
		if err := b.sorter.Add(cur.key(i), b.rec[:]); err != nil {
			return err
		}
		b.sorted++
	}
	b.cur, b.prev = b.prev, b.cur
	b.cur.reset()
	return nil
}

// isLinked reports whether a record is linked to the one before it.
func (b *Builder) isLinked(record uint32) bool { return b.linked[record/64]&(1<<(record%64)) != 0 }

// none marks a record without identities.
const none = math.MaxUint32

// Build links the identities and returns the components. The builder takes nothing after it.
func (b *Builder) Build(ctx context.Context) (_ *Components, err error) {
	defer func() {
		if cerr := b.sorter.Close(); err == nil {
			err = cerr
		}
	}()
	c := &Components{}
	defer func() {
		if err != nil {
			_ = c.Close()
		}
	}()
	if len(b.cur.ends) > 0 { // the last record added
		if err := b.endRecord(); err != nil {
			return nil, err
		}
	}
	// Identities in key order: each distinct one becomes the next node, its key goes to the
	// identities' file, and (record, node) to a second sort, that brings each record's nodes
	// together.
	if c.keys, err = newKeyFile(filepath.Join(b.dir, "identities")); err != nil {
		return nil, err
	}
	identities, err := b.sorter.Sorted()
	if err != nil {
		return nil, err
	}
	defer identities.Close()
	byRecord := extsort.New(b.dir, b.runSize, b.mem) // after Sorted, which gave back its buffers
	defer func() {
		if cerr := byRecord.Close(); err == nil {
			err = cerr
		}
	}()
	err = number(ctx, identities, func(node uint32, key []byte, record uint32) error {
		if key != nil {
			c.parent.append(node)
			if err := c.keys.write(key); err != nil {
				return err
			}
		}
		var pair [8]byte
		binary.BigEndian.PutUint32(pair[:], record)
		binary.BigEndian.PutUint32(pair[4:], node)
		return byRecord.Add(pair[:4], pair[4:])
	})
	if err != nil {
		return nil, err
	}
	// The identities' runs are read: their read buffers and files go before the second sort's.
	identities.Close()
	if err := b.sorter.Close(); err != nil {
		return nil, err
	}
	if err := c.keys.finish(); err != nil {
		return nil, err
	}

	// Each record's nodes are linked to its first; the first goes to the records' file, in record
	// order, where Of reads it. A record linked to the one before has that one's first, and may
	// have no nodes of its own left.
	if c.records, err = newRecordFile(filepath.Join(b.dir, "records")); err != nil {
		return nil, err
	}
	sorted, err := byRecord.Sorted()
	if err != nil {
		return nil, err
	}
	defer sorted.Close()
	next, first := uint32(0), uint32(none)
	// upTo writes the first of each record before end that has no nodes: the record before's for
	// a linked one, none for one without identities.
	upTo := func(end uint32) error {
		for ; next < end; next++ {
			if !b.isLinked(next) {
				first = none
			}
			if err := c.records.write(first); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; sorted.Next(); i++ {
		if i%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return nil, context.Cause(ctx)
			}
		}
		record, node := binary.BigEndian.Uint32(sorted.Key()), binary.BigEndian.Uint32(sorted.Value())
		if next > 0 && record == next-1 {
			c.parent.union(first, node)
			continue
		}
		if err := upTo(record); err != nil {
			return nil, err
		}
		if b.isLinked(record) {
			c.parent.union(first, node)
		} else {
			first = node
		}
		if err := c.records.write(first); err != nil {
			return nil, err
		}
		next = record + 1
	}
	if err := sorted.Err(); err != nil {
		return nil, err
	}
	if err := upTo(uint32(b.records)); err != nil {
		return nil, err
	}
	if err := c.records.finish(); err != nil {
		return nil, err
	}

	// Every node's parent is a smaller node or itself: in node order, one pass makes each point at
	// its root, and each root counts its identities.
	n := c.parent.len()
	c.size = make([]uint8, n)
	for i := range n {
		r := c.parent.get(c.parent.get(uint32(i)))
		c.parent.set(uint32(i), r)
		if c.size[r] < math.MaxUint8 {
			c.size[r]++
		}
	}
	return c, nil
}

// number reads the identities in key order and numbers the distinct ones: it calls visit for
// each (identity, record), with the identity's key the first time that identity comes.
func number(ctx context.Context, sorted *extsort.Reader, visit func(node uint32, key []byte, record uint32) error) error {
	var last []byte
	node, nodes := uint32(none), uint64(0)
	for i := 0; sorted.Next(); i++ {
		if i%(1<<16) == 0 {
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
		}
		var key []byte
		if k := sorted.Key(); node == none || !bytes.Equal(k, last) {
			if nodes == none {
				return errors.New("graph: more identities than a graph can number")
			}
			node, key = uint32(nodes), k
			nodes++
			last = append(last[:0], k...)
		}
		if err := visit(node, key, binary.BigEndian.Uint32(sorted.Value())); err != nil {
			return err
		}
	}
	return sorted.Err()
}

// Components are the components of a graph. A component is named by its root: its smallest
// identity's node, so that components in root order are in rank order.
type Components struct {
	parent  blocks  // each node's root, once built
	size    []uint8 // each root's number of identities, up to 255
	keys    *keyFile
	records *recordFile
}

// Of is the component of a record, and false for a record that had no identities. It reads the
// records forward: records must be asked in increasing order, each once.
func (c *Components) Of(record uint32) (uint32, bool, error) {
	first, err := c.records.seek(record)
	if err != nil || first == none {
		return 0, false, err
	}
	return c.parent.get(first), true, nil
}

// ReleaseRecords frees what Of needs, for a caller that has asked every record's component.
func (c *Components) ReleaseRecords() error {
	c.parent = blocks{}
	return c.records.close()
}

// Size is the number of identities of a component; sizes past 254 read as 255.
func (c *Components) Size(comp uint32) int { return int(c.size[comp]) }

// Key is the smallest identity of a component. It reads the identities forward: components must
// be asked in increasing order.
func (c *Components) Key(comp uint32) (ns, id []byte, err error) {
	k, err := c.keys.seek(comp)
	if err != nil {
		return nil, nil, err
	}
	for i, b := range k {
		if b == 0 {
			return k[:i], k[i+1:], nil
		}
	}
	return nil, nil, fmt.Errorf("graph: identity %d has no namespace", comp)
}

// Close removes the graph's files.
func (c *Components) Close() error {
	var errs []error
	if c.keys != nil {
		errs = append(errs, c.keys.close())
	}
	if c.records != nil {
		errs = append(errs, c.records.close())
	}
	return errors.Join(errs...)
}

// blocks is a growing array of uint32 that never copies itself: growing a single slice would
// hold the old and the new array at once.
type blocks struct {
	b [][]uint32
	n int
}

const blockBits = 20

func (p *blocks) len() int { return p.n }

func (p *blocks) append(v uint32) {
	if p.n>>blockBits == len(p.b) {
		p.b = append(p.b, make([]uint32, 1<<blockBits))
	}
	p.b[p.n>>blockBits][p.n&(1<<blockBits-1)] = v
	p.n++
}

func (p *blocks) get(i uint32) uint32 { return p.b[i>>blockBits][i&(1<<blockBits-1)] }
func (p *blocks) set(i, v uint32)     { p.b[i>>blockBits][i&(1<<blockBits-1)] = v }

// find is the root of a node's component.
func (p *blocks) find(n uint32) uint32 {
	for {
		q := p.get(n)
		if q == n {
			return n
		}
		g := p.get(q)
		p.set(n, g) // path halving
		n = g
	}
}

// union links two nodes' components. The smaller root becomes the root, which keeps the result
// independent of the order of the links.
func (p *blocks) union(a, b uint32) {
	ra, rb := p.find(a), p.find(b)
	if ra == rb {
		return
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	p.set(rb, ra)
}

// scratchFile is a private file written once, from the start, then read from the start; closing
// it removes it.
type scratchFile struct {
	f      *os.File
	w      *bufio.Writer
	r      *bufio.Reader
	closed bool
}

func (s *scratchFile) create(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	s.f, s.w = f, bufio.NewWriterSize(f, 256<<10)
	return nil
}

// finish ends the writing and turns to reading.
func (s *scratchFile) finish() error {
	if err := s.w.Flush(); err != nil {
		return err
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.w, s.r = nil, bufio.NewReaderSize(s.f, 256<<10)
	return nil
}

func (s *scratchFile) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.f.Close()
	if rerr := os.Remove(s.f.Name()); err == nil {
		err = rerr
	}
	return err
}

// keyFile holds the distinct identities in node order, written once and read forward.
type keyFile struct {
	scratchFile
	next uint32 // the node the reader is at
	buf  []byte
}

func newKeyFile(name string) (*keyFile, error) {
	k := &keyFile{}
	if err := k.create(name); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyFile) write(key []byte) error {
	if _, err := k.w.Write(binary.AppendUvarint(k.w.AvailableBuffer(), uint64(len(key)))); err != nil {
		return err
	}
	_, err := k.w.Write(key)
	return err
}

// seek reads forward to a node's identity.
func (k *keyFile) seek(node uint32) ([]byte, error) {
	if node < k.next {
		return nil, fmt.Errorf("graph: identity %d asked after %d", node, k.next-1)
	}
	for {
		n, err := binary.ReadUvarint(k.r)
		if err != nil {
			return nil, fmt.Errorf("graph: reading identity %d: %w", k.next, err)
		}
		if k.next < node {
			if _, err := k.r.Discard(int(n)); err != nil {
				return nil, fmt.Errorf("graph: reading identity %d: %w", k.next, err)
			}
			k.next++
			continue
		}
		k.buf = slices.Grow(k.buf[:0], int(n))[:n]
		if _, err := io.ReadFull(k.r, k.buf); err != nil {
			return nil, fmt.Errorf("graph: reading identity %d: %w", k.next, err)
		}
		k.next++
		return k.buf, nil
	}
}

// recordFile holds each record's first node, in record order, written once and read forward.
type recordFile struct {
	scratchFile
	next uint32
	buf  [4]byte
}

func newRecordFile(name string) (*recordFile, error) {
	r := &recordFile{}
	if err := r.create(name); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *recordFile) write(node uint32) error {
	_, err := r.w.Write(binary.LittleEndian.AppendUint32(r.w.AvailableBuffer(), node))
	return err
}

func (r *recordFile) seek(record uint32) (uint32, error) {
	if record != r.next {
		return 0, fmt.Errorf("graph: record %d asked after %d", record, r.next-1)
	}
	if _, err := io.ReadFull(r.r, r.buf[:]); err != nil {
		return 0, fmt.Errorf("graph: reading record %d: %w", record, err)
	}
	r.next++
	return binary.LittleEndian.Uint32(r.buf[:]), nil
}
