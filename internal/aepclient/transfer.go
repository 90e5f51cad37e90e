package aepclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// A file that is uploaded or downloaded takes as long as its size and the network make it: a try
// of one is bounded by its progress rather than by Config.RequestTimeout as a whole, and fails
// once that time passes with no byte of the file moving (nor of the answer, for an upload). The
// watch is on the system clock, the only one the network knows.

// stallTransport makes each try it carries fail once timeout passes with nothing moving.
type stallTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (s stallTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancel(req.Context())
	w := &stallWatch{timeout: s.timeout, cancel: cancel}
	w.timer = time.AfterFunc(s.timeout, w.expire)
	req = req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		req.Body = &watchedBody{ReadCloser: req.Body, w: w}
	}
	resp, err := s.next.RoundTrip(req)
	if err != nil {
		w.end()
		return nil, w.explain(err)
	}
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, ends: true}
	return resp, nil
}

// stallWatch cancels a try once its timer runs out; each byte that moves winds the timer again.
type stallWatch struct {
	timeout time.Duration
	cancel  context.CancelFunc
	timer   *time.Timer

	mu      sync.Mutex
	expired bool
	ended   bool
}

func (w *stallWatch) expire() {
	w.mu.Lock()
	w.expired = !w.ended
	w.mu.Unlock()
	w.cancel()
}

// moved winds the timer again after bytes moved.
func (w *stallWatch) moved() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.expired && !w.ended {
		w.timer.Reset(w.timeout)
	}
}

// end ends the watch: the try is over.
func (w *stallWatch) end() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
	w.timer.Stop()
	w.cancel()
}

// explain names the stall as the cause of a try's error that it caused.
func (w *stallWatch) explain(err error) error {
	w.mu.Lock()
	expired := w.expired
	w.mu.Unlock()
	if err == nil || errors.Is(err, io.EOF) || !expired {
		return err
	}
	return fmt.Errorf("%w: nothing moved for %s", errStalled, w.timeout)
}

// errStalled is a try of an upload or a download that stopped moving.
var errStalled = errors.New("the transfer stalled")

// watchedBody is a body that winds its watch as it moves; the answer's ends the watch when it is
// closed.
type watchedBody struct {
	io.ReadCloser
	w    *stallWatch
	ends bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.moved()
	}
	return n, b.w.explain(err)
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	if b.ends {
		b.w.end()
	}
	return err
}
