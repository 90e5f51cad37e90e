package exportengine

import (
	"bufio"
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
// leaves it to do. The export that builds a graph therefore also keeps, beside it, a copy of
// the event bodies it read, in the order it emitted them (keptEventsPath); an export that reads
// the kept graph reads its events from there, a chunk's worth at a time.
//
// The file is a header (keptEventsMagic and the store's graph key), then each event's body and
// the body's CRC-32C (4 bytes, big-endian), with nothing else: an event's place in it follows
// from the kept graph, which lists the same events in the same order. It is a cache of the
// store, checked body by body: a body whose checksum does not match, or that lies past the end
// of the file, is read from its batch instead. So it is written without a sync: what a crash
// leaves of it costs reads, not rows.

const keptEventsMagic = "AEP kept event bodies 1\n"

const keptEventsHeaderSize = len(keptEventsMagic) + len(graph.Key{})

func keptEventsHeader(key graph.Key) []byte {
	return append([]byte(keptEventsMagic), key[:]...)
}

func (e *Engine) keptEventsPath(sandbox string) string {
	return filepath.Join(e.dir, keptGraphsDir, sandbox+".events")
}

// eventsKeeper writes the event bodies of the graph an export is building, chunk by chunk in
// the order the writer takes the chunks.
type eventsKeeper struct {
	f   *os.File
	w   *bufio.Writer
	err error
	// graphKept is set by the producer once the graph the bodies go with is kept; the bodies
	// are kept only then. The writer reads it after the producer has ended.
	graphKept bool
	// release, when set, lets the exports waiting for the graph go, once the bodies are kept or
	// have failed to be: so that they read both.
	release func()
}

// createEventsKeeper starts the event bodies of the graph of the store key, in a file in dir.
func createEventsKeeper(dir string, key graph.Key) (*eventsKeeper, error) {
	f, err := os.CreateTemp(dir, "events-*")
	if err != nil {
		return nil, err
	}
	k := &eventsKeeper{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	if _, err := k.w.Write(keptEventsHeader(key)); err != nil {
		k.abort()
		return nil, err
	}
	return k, nil
}

// add appends the event bodies of a chunk its worker has read, in the order of its records.
func (k *eventsKeeper) add(c *exportChunk) {
	if k.err != nil {
		return
	}
	var sum [4]byte
	for i := range c.recs {
		r := &c.recs[i]
		if r.kind != record.Event {
			continue
		}
		binary.BigEndian.PutUint32(sum[:], segment.Checksum(r.body))
		if _, err := k.w.Write(r.body); err != nil {
			k.err = err
			return
		}
		if _, err := k.w.Write(sum[:]); err != nil {
			k.err = err
			return
		}
	}
}

// commit puts the bodies in place at path, if the graph they go with was kept and all of them
// were written; otherwise it removes them, and says why.
func (k *eventsKeeper) commit(path string) error {
	defer k.releaseWaiters()
	if k.err == nil && !k.graphKept {
		k.err = errors.New("the identity graph was not kept")
	}
	if k.err == nil {
		k.err = k.w.Flush()
	}
	if k.err != nil {
		k.abort()
		return k.err
	}
	if err := k.f.Close(); err != nil {
		_ = os.Remove(k.f.Name())
		return err
	}
	if err := os.Rename(k.f.Name(), path); err != nil {
		_ = os.Remove(k.f.Name())
		return err
	}
	return nil
}

func (k *eventsKeeper) abort() {
	_ = k.f.Close()
	_ = os.Remove(k.f.Name())
	k.releaseWaiters()
}

func (k *eventsKeeper) releaseWaiters() {
	if k.release != nil {
		k.release()
	}
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
func (e *Engine) keptEventsDone(snap *storeSnapshot) {
	if k := snap.keepEvents; k != nil {
		err := k.commit(e.keptEventsPath(snap.sandbox))
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
