// Package extsort sorts key-value pairs out of core: pairs are gathered into runs of bounded
// size, each run is sorted (in the background, while the next fills) and written to a file of its
// own, and the runs are read back merged. However many pairs go in, the memory it holds is the
// two runs being filled and sorted (and the sort's scratch, as large as a run's items), then a
// read buffer a run.
//
// Pairs are ordered by key, in byte order; pairs with equal keys come out in the order they went
// in.
package extsort

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"unsafe"
)

// Sorter gathers pairs; Sorted reads them back in order.
type Sorter struct {
	dir     string
	runSize int
	mem     *Memory
	fill    *run
	spare   *run
	// What its sorts count with: one, since a sorter sorts one run at a time.
	scratch *scratch
	// A run being sorted and written: its result arrives on written. Nil when none is.
	written chan error
	files   []string
	runs    string // the directory of the run files, once there are any
	made    int    // run files made, to name the next
	done    bool
}

// run is a buffer of pairs and their places in it.
type run struct {
	data  []byte
	items []item
}

// item is a pair in a run's data. prefix holds 8 bytes of the key, big-endian and padded with
// zeros: its first 8 when the pair is added; while the run is sorted, the 8 bytes the sort is at.
type item struct {
	prefix uint64
	off    uint32 // where the pair starts in data; increasing in the order pairs went in
	klen   uint32
	vlen   uint32
}

func (r *run) key(it *item) []byte { return r.data[it.off : it.off+it.klen] }
func (r *run) value(it *item) []byte {
	return r.data[it.off+it.klen : it.off+it.klen+it.vlen]
}

// keyPrefix is the 8 bytes of k from its byte at, padded with zeros.
func keyPrefix(k []byte, at int) uint64 {
	var b [8]byte
	if at < len(k) {
		copy(b[:], k[at:])
	}
	return binary.BigEndian.Uint64(b[:])
}

// New returns a sorter that writes its runs into a directory of its own in dir, a run holding
// about runSize bytes of keys and values. dir must exist; Close removes what the sorter made in it.
// The sorter takes its run buffers from mem, and gives them back once it no longer needs them; a
// nil mem gives it buffers of its own.
func New(dir string, runSize int, mem *Memory) *Sorter {
	if mem == nil {
		mem = &Memory{}
	}
	return &Sorter{dir: dir, runSize: runSize, mem: mem, fill: mem.take(), spare: mem.take(), scratch: mem.takeScratch()}
}

// Memory holds run buffers, and the scratch their sorts count with, for sorters that follow one
// another, so that the sorts of one task grow their buffers, and the machine maps their pages,
// once: a run's buffers grow to its size and are kept. Sorters sharing a Memory must be called
// from one goroutine.
type Memory struct {
	free    []*run
	scratch []*scratch
}

// Drop lets go of the buffers kept for sorters to come, when none will.
func (m *Memory) Drop() { m.free, m.scratch = nil, nil }

func (m *Memory) take() *run {
	r := pop(&m.free)
	r.data, r.items = r.data[:0], r.items[:0]
	return r
}

func (m *Memory) give(r *run)             { push(&m.free, r) }
func (m *Memory) takeScratch() *scratch   { return pop(&m.scratch) }
func (m *Memory) giveScratch(sc *scratch) { push(&m.scratch, sc) }

// pop takes the last of the kept buffers, or a new one when none is kept.
func pop[T any](kept *[]*T) *T {
	n := len(*kept)
	if n == 0 {
		return new(T)
	}
	b := (*kept)[n-1]
	*kept = (*kept)[:n-1]
	return b
}

// push keeps a buffer (nil is none) for the next pop.
func push[T any](kept *[]*T, b *T) {
	if b != nil {
		*kept = append(*kept, b)
	}
}

// maxPair bounds a pair: its places in a run are 32-bit.
const maxPair = 1 << 30

// Add adds a pair. Key and value are copied.
func (s *Sorter) Add(key, value []byte) error {
	if s.done {
		return errors.New("extsort: Add after Sorted")
	}
	if len(key)+len(value) > maxPair {
		return fmt.Errorf("extsort: a pair of %d bytes is larger than the %d a pair can be", len(key)+len(value), maxPair)
	}
	r := s.fill
	if len(r.items) > 0 && r.size()+len(key)+len(value)+itemSize > s.runSize {
		if err := s.spill(); err != nil {
			return err
		}
		r = s.fill
	}
	r.items = grow(r.items, 1, s.runSize/itemSize)
	r.items = append(r.items, item{prefix: keyPrefix(key, 0), off: uint32(len(r.data)), klen: uint32(len(key)), vlen: uint32(len(value))})
	r.data = grow(r.data, len(key)+len(value), s.runSize)
	r.data = append(append(r.data, key...), value...)
	return nil
}

// itemSize is what a pair costs a run beside its bytes.
const itemSize = int(unsafe.Sizeof(item{}))

// size is the memory a run's pairs take.
func (r *run) size() int { return len(r.data) + len(r.items)*itemSize }

// grow makes room for n more elements, doubling the capacity up to limit: append's own growth
// (a quarter at a time, past a few hundred kilobytes) would allocate five times a run's size on
// its way to it.
func grow[T any](s []T, n, limit int) []T {
	if len(s)+n <= cap(s) {
		return s
	}
	c := min(max(2*cap(s), 4096/int(unsafe.Sizeof(*new(T)))), limit)
	return slices.Grow(s, max(c, len(s)+n)-len(s))
}

// spill hands the full run to the background to be sorted and written, and takes the spare one
// to fill once its own writing is over.
func (s *Sorter) spill() error {
	if err := s.wait(); err != nil {
		return err
	}
	full := s.fill
	name, err := s.runName()
	if err != nil {
		return err
	}
	s.files = append(s.files, name)
	s.written = make(chan error, 1)
	go func(done chan<- error) { done <- writeRun(name, full, s.scratch) }(s.written)
	s.fill, s.spare = s.spare, full
	s.fill.data, s.fill.items = s.fill.data[:0], s.fill.items[:0]
	return nil
}

// runName names the next run file, in a directory of the sorter's own, made with the first.
func (s *Sorter) runName() (string, error) {
	if s.runs == "" {
		d, err := os.MkdirTemp(s.dir, "sort-")
		if err != nil {
			return "", err
		}
		s.runs = d
	}
	s.made++
	return filepath.Join(s.runs, fmt.Sprintf("run-%06d", s.made)), nil
}

// wait waits for the run being written, if one is.
func (s *Sorter) wait() error {
	if s.written == nil {
		return nil
	}
	err := <-s.written
	s.written = nil
	return err
}

// writeRun sorts a run and writes it.
func writeRun(name string, r *run, sc *scratch) error {
	r.sort(sc)
	return writeFile(name, func(w *bufio.Writer) error {
		for i := range r.items {
			if err := writePair(w, r.key(&r.items[i]), r.value(&r.items[i])); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeFile creates a private file and writes it through a buffer.
func writeFile(name string, write func(w *bufio.Writer) error) (err error) {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w); err != nil {
		return err
	}
	return w.Flush()
}

// Sorted ends the adding and returns the pairs in order. Pairs that all fit in one run are never
// written: they are read from memory.
func (s *Sorter) Sorted() (*Reader, error) {
	if s.done {
		return nil, errors.New("extsort: Sorted called twice")
	}
	s.done = true
	if len(s.files) == 0 {
		s.fill.sort(s.scratch)
		s.mem.give(s.spare)
		s.mem.giveScratch(s.scratch)
		s.spare, s.scratch = nil, nil
		return &Reader{mem: s.fill, memory: s.mem}, nil
	}
	if len(s.fill.items) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	if err := s.wait(); err != nil {
		return nil, err
	}
	s.mem.give(s.fill) // the runs' memory goes before they are read
	s.mem.give(s.spare)
	s.mem.giveScratch(s.scratch)
	s.fill, s.spare, s.scratch = nil, nil, nil
	// Runs are merged fanIn at a time, the earliest first, into longer ones, until the rest can be
	// open at once. The merged run takes the place of those it holds, so that equal keys keep
	// their order.
	for len(s.files) > fanIn {
		name, err := s.runName()
		if err != nil {
			return nil, err
		}
		if err := mergeRuns(s.files[:fanIn], name); err != nil {
			_ = os.Remove(name)
			return nil, err
		}
		for _, f := range s.files[:fanIn] {
			if err := os.Remove(f); err != nil {
				return nil, err
			}
		}
		s.files = append([]string{name}, s.files[fanIn:]...)
	}
	return openRuns(s.files)
}

// fanIn is the number of runs read at once: 8 MiB of read buffers.
const fanIn = 128

// openRuns opens runs to be read merged.
func openRuns(files []string) (*Reader, error) {
	rd := &Reader{}
	for i, name := range files {
		f, err := os.Open(name)
		if err != nil {
			rd.Close()
			return nil, err
		}
		src := &source{f: f, r: bufio.NewReaderSize(f, 64<<10), order: i}
		rd.sources = append(rd.sources, src)
		if err := src.next(); err != nil {
			rd.Close()
			return nil, err
		}
	}
	rd.tree = make([]int32, max(len(rd.sources), 1))
	if len(rd.sources) > 0 {
		rd.tree[0] = rd.play(1)
	}
	return rd, nil
}

// A loser tree merges the runs: tree[0] is the source whose pair comes next, and each inner node
// n (1 <= n < k, its children 2n and 2n+1; source i is leaf k+i) holds the source that lost the
// match played there. When the winner moves on, only its path to the root is played again:
// log2(k) comparisons a pair, where a binary heap makes two at each level.

// play plays the matches below node n, and returns its winner.
func (r *Reader) play(n int) int32 {
	k := len(r.sources)
	if n >= k {
		return int32(n - k)
	}
	a, b := r.play(2*n), r.play(2*n+1)
	if r.before(b, a) {
		a, b = b, a
	}
	r.tree[n] = b
	return a
}

// replay plays the matches on the path of source w, whose pair changed, up to the root.
func (r *Reader) replay(w int32) {
	for n := (int(w) + len(r.sources)) / 2; n >= 1; n /= 2 {
		if r.before(r.tree[n], w) {
			r.tree[n], w = w, r.tree[n]
		}
	}
	r.tree[0] = w
}

// before reports whether source a's pair comes before source b's: by key, then by run (equal keys
// in the order they went in); a run read to its end comes after every other.
func (r *Reader) before(a, b int32) bool {
	sa, sb := r.sources[a], r.sources[b]
	if sa.eof || sb.eof {
		return !sa.eof
	}
	if c := bytes.Compare(sa.key, sb.key); c != 0 {
		return c < 0
	}
	return sa.order < sb.order
}

// mergeRuns writes the runs merged into one.
func mergeRuns(files []string, name string) error {
	rd, err := openRuns(files)
	if err != nil {
		return err
	}
	defer rd.Close()
	return writeFile(name, func(w *bufio.Writer) error {
		for rd.Next() {
			if err := writePair(w, rd.Key(), rd.Value()); err != nil {
				return err
			}
		}
		return rd.Err()
	})
}

// writePair writes a pair as the lengths of key and value, then their bytes.
func writePair(w *bufio.Writer, key, value []byte) error {
	// The lengths go through the writer's own buffer: a local array would escape to the heap.
	hdr := binary.AppendUvarint(w.AvailableBuffer(), uint64(len(key)))
	if _, err := w.Write(binary.AppendUvarint(hdr, uint64(len(value)))); err != nil {
		return err
	}
	if _, err := w.Write(key); err != nil {
		return err
	}
	_, err := w.Write(value)
	return err
}

// Close removes the sorter's files. A Reader it returned must be closed first.
func (s *Sorter) Close() error {
	err := s.wait()
	s.files = nil
	if s.runs != "" {
		err = errors.Join(err, os.RemoveAll(s.runs))
		s.runs = ""
	}
	return err
}

// Reader reads the sorted pairs.
type Reader struct {
	// From memory: the one run, sorted, given back to memory when closed.
	mem     *run
	memNext int
	memory  *Memory
	// From files: each run's next pair, merged by a loser tree (see play).
	sources []*source
	tree    []int32
	cur     *source
	key     []byte
	value   []byte
	err     error
}

// Next moves to the next pair, and reports whether there is one. At the end, Err says whether
// every pair was read.
func (r *Reader) Next() bool {
	if r.err != nil {
		return false
	}
	if r.mem != nil {
		if r.memNext >= len(r.mem.items) {
			return false
		}
		it := &r.mem.items[r.memNext]
		r.memNext++
		r.key, r.value = r.mem.key(it), r.mem.value(it)
		return true
	}
	if r.cur != nil {
		// The pair read last is consumed: its run moves on.
		if err := r.cur.next(); err != nil {
			r.err = err
			return false
		}
		r.replay(r.tree[0])
		r.cur = nil
	}
	if len(r.sources) == 0 || r.sources[r.tree[0]].eof {
		return false
	}
	r.cur = r.sources[r.tree[0]]
	r.key, r.value = r.cur.key, r.cur.value
	return true
}

// Key is the current pair's key; it holds until the next call of Next.
func (r *Reader) Key() []byte { return r.key }

// Value is the current pair's value; it holds until the next call of Next.
func (r *Reader) Value() []byte { return r.value }

// Err is the error that ended the reading early, if one did.
func (r *Reader) Err() error { return r.err }

// Close closes the runs' files.
func (r *Reader) Close() {
	for _, s := range r.sources {
		_ = s.f.Close()
	}
	if r.mem != nil {
		r.memory.give(r.mem)
	}
	r.sources, r.tree, r.mem = nil, nil, nil
}

// source is a run's file being read.
type source struct {
	f          *os.File
	r          *bufio.Reader
	order      int
	buf        []byte
	key, value []byte
	eof        bool
}

func (s *source) next() error {
	klen, err := binary.ReadUvarint(s.r)
	if errors.Is(err, io.EOF) {
		s.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("extsort: reading %s: %w", s.f.Name(), err)
	}
	vlen, err := binary.ReadUvarint(s.r)
	if err != nil {
		return fmt.Errorf("extsort: reading %s: %w", s.f.Name(), noEOF(err))
	}
	if klen+vlen > maxPair {
		return fmt.Errorf("extsort: reading %s: a pair of %d bytes is larger than any written", s.f.Name(), klen+vlen)
	}
	n := int(klen + vlen)
	s.buf = slices.Grow(s.buf[:0], n)[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return fmt.Errorf("extsort: reading %s: %w", s.f.Name(), noEOF(err))
	}
	s.key, s.value = s.buf[:klen], s.buf[klen:]
	return nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
