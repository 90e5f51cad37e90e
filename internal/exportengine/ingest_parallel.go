package exportengine

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// Records are validated on every core: the reader cuts a file into blocks of lines, parsers
// validate the blocks side by side, and one consumer takes the results in file order, so that
// sequence numbers, error positions and the segment's contents are what a single pass gives.
// The blocks in flight are bounded, and so is the memory the pipeline holds.

const (
	blockBytes     = 1 << 20 // a block is handed to a parser once it holds this much
	blocksInFlight = 8
)

type lineRef struct {
	pos        int64
	start, end int // in block.data; start < 0 for a line too long to read
}

type parsed struct {
	rec *record.Record
	err *record.Error
}

type lineBlock struct {
	data  []byte
	lines []lineRef
	out   []parsed
	done  chan struct{}
}

func (b *lineBlock) reset() {
	b.data = b.data[:0]
	b.lines = b.lines[:0]
	b.out = b.out[:0]
}

// parallelParse reads records with read and hands each, validated, to use in order: either the
// record (whose body is valid only during the call) or why it was refused. It stops at the
// first error of read or use. size is the input's size, when known (0 otherwise): the first
// block is made to hold it, up to a block, so that it does not grow by copying. The top-level
// names of the profile fragments it accepts go to names (when not nil).
func parallelParse(kind record.Kind, size int64, read func(fn func(pos int64, raw []byte) error) error,
	use func(pos int64, r *record.Record, rerr *record.Error) error, names *record.Names) error {
	workers := runtime.GOMAXPROCS(0)
	workerNames := make([]record.Names, workers) // each parser's, merged at the end
	free := make(chan *lineBlock, blocksInFlight)
	for i := range blocksInFlight {
		b := &lineBlock{done: make(chan struct{}, 1)} // data grows as a block fills, then is reused
		if i == 0 && size > 0 {
			b.data = make([]byte, 0, sizedBuffer(size, blockBytes))
		}
		free <- b
	}
	work := make(chan *lineBlock, blocksInFlight)
	ordered := make(chan *lineBlock, blocksInFlight)
	stop := make(chan struct{}) // closed when the consumer gives up

	var wg sync.WaitGroup
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := record.Parser{Names: &workerNames[k]}
			for b := range work {
				for _, l := range b.lines {
					if l.start < 0 {
						b.out = append(b.out, parsed{err: &record.Error{Code: record.CodeTooLarge,
							Reason: fmt.Sprintf("the line is over %d MB", maxLineBytes>>20)}})
						continue
					}
					r, rerr := p.Parse(b.data[l.start:l.end:l.end], kind)
					b.out = append(b.out, parsed{rec: r, err: rerr})
				}
				b.done <- struct{}{}
			}
		}()
	}

	consumed := make(chan error, 1)
	go func() {
		var err error
		for b := range ordered {
			<-b.done
			if err == nil {
				for i, l := range b.lines {
					if err = use(l.pos, b.out[i].rec, b.out[i].err); err != nil {
						close(stop)
						break
					}
				}
			}
			b.reset()
			free <- b
		}
		consumed <- err
	}()

	var cur *lineBlock
	dispatch := func() {
		work <- cur
		ordered <- cur
		cur = nil
	}
	readErr := read(func(pos int64, raw []byte) error {
		if cur == nil {
			select {
			case cur = <-free:
			case <-stop:
				return errStopped
			}
		}
		if raw == nil {
			cur.lines = append(cur.lines, lineRef{pos: pos, start: -1})
		} else {
			start := len(cur.data)
			cur.data = append(cur.data, raw...)
			cur.lines = append(cur.lines, lineRef{pos: pos, start: start, end: len(cur.data)})
		}
		if len(cur.data) >= blockBytes {
			dispatch()
		}
		return nil
	})
	if cur != nil && len(cur.lines) > 0 {
		dispatch()
	}
	close(work)
	close(ordered)
	useErr := <-consumed
	wg.Wait()
	if names != nil {
		for i := range workerNames {
			names.Merge(&workerNames[i])
		}
	}
	if useErr != nil {
		return useErr
	}
	return readErr
}

var errStopped = fmt.Errorf("stopped")
