package exportengine

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/graph"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
)

// The event bodies of a kept graph. A person's events lie in their event batch in the order of
// their own identities, far from each other and from the person's profile fragments: an export
// through the identity graph reads them one place at a time, which is most of what a kept graph
// leaves it to do. The export that reads a kept graph without them therefore keeps, beside it, a
// copy of the event bodies it read, in the order it emitted them (keptEventsPath); an export
// after it reads its events from there, a span of up to maxRead bytes at a time.
//
// The export that builds the graph, the first after the store changed, does not keep them: the
// copy costs it the writing of every event a second time (about a tenth of its time at a
// million people), and pays only when the same store is exported again, which a second export
// of it shows. A store exported once is never copied.
//
// The file is a header (keptEventsMagic and the store's graph key), then each event's body and
// a CRC-32C (4 bytes, big-endian) of the event's place in the store and its body, with nothing
// else: an event's place in the file follows from the kept graph, which lists the same events in
// the same order. It is a cache of the store, checked body by body: a body whose checksum does
// not match (damaged, or not the event the graph puts there), or that is in a span that cannot be
// read whole, is read from its batch instead. So it is written without a sync: what a crash
// leaves of it costs reads, not rows.

const keptEventsMagic = "AEP kept event bodies 1\n"

const keptEventsHeaderSize = len(keptEventsMagic) + len(graph.Key{})

func keptEventsHeader(key graph.Key) []byte {
	return append([]byte(keptEventsMagic), key[:]...)
}

func (e *Engine) keptEventsPath(sandbox string) string {
	return filepath.Join(e.dir, keptGraphsDir, sandbox+".events")
}

// eventsKeeper writes the event bodies of the kept graph an export reads, chunk by chunk in the
// order the writer takes the chunks.
type eventsKeeper struct {
	dir string // the job's scratch directory of the file
	f   *os.File
	w   *bufio.Writer
	err error
	// release lets the exports waiting for the store's turn go, once the bodies are kept or have
	// failed to be: so that they read them.
	release func()
	// chunks carries the chunks the writer has written to the goroutine that keeps their
	// events (take), which gives them back to the export's free chunks; kept is closed once it
	// has ended (taken).
	chunks chan *exportChunk
	kept   chan struct{}
	before func(ctx context.Context, seq int) // Hooks.BeforeKeepingEvents
}

// errNoRoom is why an export does not keep the event bodies on a file system short of room.
var errNoRoom = errors.New("the data directory's file system has less than " + fmt.Sprint(eventsRoom) + " times the event bodies' size free: they are not kept")

// keptEventsScratchDir, beside an output batch's files, holds the event bodies an export is
// keeping until they are put in place.
const keptEventsScratchDir = "events"

// eventsRoom is how many times the size of the bodies the data directory's file system must have
// free for an export to keep them: the copy is a cache, and must not take the room the export's
// own rows, or the next batch, need.
const eventsRoom = 3

// eventsScratch is where an export whose identity graph's scratch directory is scratch writes the
// event bodies it keeps: beside it, in the job's directory, since the writer keeps them after
// the producer has removed scratch.
func eventsScratch(scratch string) string {
	return filepath.Join(filepath.Dir(scratch), keptEventsScratchDir)
}

// startKeepingEvents starts keeping the event bodies of snap, whose graph is the store key, and
// calls release once they are kept or have failed to be; or tells the hooks why it does not, and
// returns nil (release is then the caller's to call).
func (e *Engine) startKeepingEvents(scratch string, snap *storeSnapshot, key graph.Key, release func()) *eventsKeeper {
	k, err := e.createEventsKeeper(eventsScratch(scratch), snap, key, release)
	if err != nil {
		if h := e.hooks.EventsKept; h != nil {
			h(err)
		}
		return nil
	}
	return k
}

// createEventsKeeper starts keeping the event bodies of snap, whose graph is the store key, in
// dir; or reports why it does not (errNoRoom, when the file system is short of room for them).
func (e *Engine) createEventsKeeper(dir string, snap *storeSnapshot, key graph.Key, release func()) (*eventsKeeper, error) {
	var size uint64 // at most: superseded events are counted too
	for _, b := range snap.batches {
		if b.kind != record.Event {
			continue
		}
		for run := range b.seg.Runs() {
			start, end := b.seg.RunBodies(run)
			size += end - start
		}
		size += 4 * b.seg.Stats().Events
	}
	free, err := e.freeSpace(e.dir)
	if err != nil {
		return nil, err
	}
	if free/eventsRoom < size {
		return nil, fmt.Errorf("%w: %d bytes of event bodies, %d bytes free", errNoRoom, size, free)
	}
	if err := os.MkdirAll(dir, privateDir); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "events-*")
	if err != nil {
		return nil, err
	}
	k := &eventsKeeper{dir: dir, f: f, w: bufio.NewWriterSize(f, 1<<20), release: release, before: e.hooks.BeforeKeepingEvents}
	if _, err := k.w.Write(keptEventsHeader(key)); err != nil {
		k.discard(err)
		return nil, err
	}
	return k, nil
}

// take hands a chunk whose rows are written to the goroutine that keeps its events, started at
// the first chunk, so that writing the events' copy overlaps writing the rows; that goroutine
// gives the chunk back to free once it is done with it. After a failure (ctx done), it gives
// chunks back unwritten. Only the writer calls take, and then taken.
func (k *eventsKeeper) take(ctx context.Context, c *exportChunk, free chan<- *exportChunk) {
	if k.chunks == nil {
		k.chunks = make(chan *exportChunk, cap(free)) // as many as there are chunks: never waits
		k.kept = make(chan struct{})
		go func() {
			defer close(k.kept)
			for c := range k.chunks {
				if k.before != nil {
					k.before(ctx, c.seq)
				}
				if ctx.Err() == nil {
					k.add(c)
				}
				free <- c
			}
		}()
	}
	k.chunks <- c
}

// taken waits for the events of every chunk taken to be kept.
func (k *eventsKeeper) taken() {
	if k.chunks != nil {
		close(k.chunks)
		<-k.kept
	}
}

// add appends the event bodies of a chunk its worker has read, in the order of its records.
func (k *eventsKeeper) add(c *exportChunk) {
	if k.err != nil {
		return
	}
	var sum [4]byte
	for i := range c.locs {
		l := &c.locs[i]
		if l.kind() != record.Event {
			continue
		}
		body := c.recs[i].body
		binary.BigEndian.PutUint32(sum[:], keptEventSum(l, body))
		if _, err := k.w.Write(body); err != nil {
			k.discard(err)
			return
		}
		if _, err := k.w.Write(sum[:]); err != nil {
			k.discard(err)
			return
		}
	}
}

// keptEventSum is the checksum kept with an event's body: of where the event is in the store
// (its batch's place in the snapshot, its offset and size there) and of its body, so that a
// body read at a place the graph does not give it fails as a damaged one does.
func keptEventSum(l *recordLoc, body []byte) uint32 {
	var place [16]byte
	binary.BigEndian.PutUint32(place[:], l.batch)
	binary.BigEndian.PutUint64(place[4:], l.off())
	binary.BigEndian.PutUint32(place[12:], l.size())
	return segment.ChecksumUpdate(segment.Checksum(place[:]), body)
}

// commit puts the bodies in place at path, if all of them were written and the store is still
// what they were read from (current); otherwise it removes them, and says why. Either way it
// lets the exports waiting for the store's turn go.
func (k *eventsKeeper) commit(path string, current func() error) error {
	defer k.release()
	if k.err == nil {
		if err := k.w.Flush(); err != nil {
			k.discard(err)
		}
	}
	if k.err != nil {
		return k.err
	}
	err := k.f.Close()
	if err == nil {
		err = keepIfCurrent(path, current, func() error { return os.Rename(k.f.Name(), path) }, func() {})
	}
	_ = os.RemoveAll(k.dir)
	return err
}

// discard removes what was written, and records why.
func (k *eventsKeeper) discard(err error) {
	k.err = err
	_ = k.f.Close()
	_ = os.RemoveAll(k.dir)
}

// abort removes what was written, for an export that failed.
func (k *eventsKeeper) abort() {
	if k.err == nil {
		k.discard(errors.New("the export failed"))
	}
	k.release()
}

// keepIfCurrent puts what an export kept of a store in place at path (put) if current reports
// that the store is still the one it was made of, or else drops it; and checks again after: a
// batch deleted meanwhile (whose deletion removes what is kept of its sandbox, see dropKept) must
// not find its records kept again by an export of the store before it.
func keepIfCurrent(path string, current, put func() error, drop func()) error {
	if err := current(); err != nil {
		drop()
		return err
	}
	if err := put(); err != nil {
		return err
	}
	if err := current(); err != nil {
		_ = os.Remove(path)
		return err
	}
	return nil
}

// keptEvents reads the event bodies kept with a graph.
type keptEvents struct {
	f    *os.File
	next uint64 // where the next event the export emits has its body
	// What the export read from here, and what it read from the store instead.
	read, fellBack atomic.Int64
}

// openKeptEvents opens the event bodies kept at path with the graph of the store key.
func openKeptEvents(path string, key graph.Key) (*keptEvents, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	h := make([]byte, keptEventsHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		_ = f.Close()
		return nil, err
	}
	if string(h) != string(keptEventsHeader(key)) {
		_ = f.Close()
		return nil, fmt.Errorf("%s: the event bodies of another store", path)
	}
	return &keptEvents{f: f, next: uint64(keptEventsHeaderSize)}, nil
}

// place gives each event of an emitted profile its place here, in emission order.
func (k *keptEvents) place(locs []recordLoc) {
	for i := range locs {
		if l := &locs[i]; l.kind() == record.Event {
			l.kept = k.next + 1
			k.next += uint64(l.size()) + 4
		}
	}
}

// readAt reads b at off, and reports whether it could: what it cannot read is read from the
// store.
func (k *keptEvents) readAt(b []byte, off uint64) bool {
	_, err := k.f.ReadAt(b, int64(off))
	return err == nil
}

func (k *keptEvents) close() { _ = k.f.Close() }

// fromKeptEvents is the source (see recordLoc.source) of the bodies kept with the graph.
const fromKeptEvents = math.MaxUint32

// source is where a record's body is read from: its batch (the index of it) or fromKeptEvents,
// at off, size bytes (with a kept body's checksum).
func (l *recordLoc) source() (src uint32, off, size uint64) {
	if l.kept != 0 {
		return fromKeptEvents, l.kept - 1, uint64(l.size()) + 4
	}
	return l.batch, l.off(), uint64(l.size())
}

// keptEventsDone ends what an export did with kept event bodies: it puts in place those it
// kept, and tells the hooks.
func (e *Engine) keptEventsDone(ctx context.Context, snap *storeSnapshot) {
	if k := snap.keepEvents; k != nil {
		err := k.commit(e.keptEventsPath(snap.sandbox), func() error { return e.snapshotCurrent(ctx, snap) })
		if h := e.hooks.EventsKept; h != nil {
			h(err)
		}
	}
	if k := snap.keptEvents; k != nil {
		if h := e.hooks.EventsRead; h != nil {
			h(k.read.Load(), k.fellBack.Load())
		}
	}
}
