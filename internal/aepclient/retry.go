package aepclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// do runs a call with its retries and returns the successful response, or an error: an
// *aepwire.Error for the platform's refusal, an *aepwire.UnavailableError when no usable answer
// came (Sent says whether the platform may have acted), or the context's error.
//
// The loop is go-retryablehttp's, with this package's policy (check): a try is repeated when
// it failed in a way a later try may not (a broken connection, a timeout, 429, 5xx), and the
// call is idempotent or the try surely did not reach the platform (a refused connection, 429,
// 503). The wait before a try (wait) is the server's Retry-After or an exponential backoff with
// jitter, slept on the client's clock: retryablehttp's own timer is then given nothing to wait.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	a := &attempts{c: c, r: r, ctx: ctx, idempotent: r.idempotent || r.method == http.MethodGet ||
		r.method == http.MethodHead || r.method == http.MethodPut || r.method == http.MethodDelete}
	body, err := a.body()
	if err != nil {
		return nil, err
	}
	target := c.cfg.Endpoint + r.path
	if r.rawURL != "" {
		if target, err = c.link(r.rawURL); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
	}
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(aepwire.HeaderAPIKey, c.cfg.ClientID)
	req.Header.Set(aepwire.HeaderOrgID, c.cfg.OrgID)
	req.Header.Set(aepwire.HeaderSandbox, c.cfg.Sandbox)
	if r.transfer {
		req.Header.Set("Accept", "*/*") // a download's answer is the file's bytes, whatever they hold
	} else {
		req.Header.Set("Accept", "application/json")
	}
	switch {
	case r.contentType != "":
		req.Header.Set("Content-Type", r.contentType)
	case r.body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if err := a.authorize(req.Request); err != nil {
		return nil, err
	}
	req.SetResponseHandler(a.readBody)
	hc := c.http
	if r.raw != nil || r.transfer {
		hc = c.transfer
	}
	rc := &retryablehttp.Client{
		HTTPClient: hc,
		// check decides when to stop; one more than the tries allows a renewed token.
		RetryMax:   c.cfg.MaxAttempts + 1,
		CheckRetry: a.check,
		Backoff:    a.wait,
		PrepareRetry: func(req *http.Request) error {
			return a.authorize(req)
		},
		RequestLogHook: func(_ retryablehttp.Logger, _ *http.Request, _ int) {
			a.tries++
			a.start = c.clock.Now()
		},
		ErrorHandler: func(resp *http.Response, err error, _ int) (*http.Response, error) {
			if resp != nil {
				_ = resp.Body.Close()
			}
			if err == nil {
				err = a.last
			}
			return nil, err
		},
	}
	resp, err := rc.Do(req)
	if err != nil {
		if ctx.Err() != nil && (err == ctx.Err() || !errors.Is(err, ctx.Err())) { //nolint:errorlint // the bare error of retryablehttp
			err = fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
		}
		return nil, err
	}
	_ = resp.Body.Close()
	if resp.StatusCode < 300 {
		return &response{status: resp.StatusCode, header: resp.Header, body: a.answer}, nil
	}
	apiErr := a.apiError(resp, a.answer)
	if resp.StatusCode >= 500 {
		// Not tried again (a POST that may have acted): whether it did is not known.
		return nil, &aepwire.UnavailableError{Sent: true, Err: fmt.Errorf("%w%s", apiErr, lostAnswerNote(r.method))}
	}
	return nil, apiErr
}

// attempts is the state of one call's tries.
type attempts struct {
	c          *Client
	r          request
	ctx        context.Context
	idempotent bool

	tries   int       // made so far, a try with a renewed token not counted
	start   time.Time // of the current try
	token   string    // the current try's
	renewed bool      // the token was renewed once after a 401
	noWait  bool      // the next try goes at once
	sent    bool      // some failed try may have reached the platform
	last    error     // the last try's failure
	delay   time.Duration
	answer  []byte // the final answer's body
}

// body returns the request's body as retryablehttp takes it: JSON bytes, or an upload that is
// read again from its start for each try (when it can seek). An upload is read only once a try
// sends it: retryablehttp also asks for the body before the first try, to learn its length (its
// Len, when request.length gives one; else it is sent chunked), and that must not cost a body
// that cannot seek its one reading.
func (a *attempts) body() (any, error) {
	switch {
	case a.r.raw != nil:
		raw := a.r.raw
		var read atomic.Bool // some try read from raw
		return retryablehttp.ReaderFunc(func() (io.Reader, error) {
			if read.Load() {
				seeker, ok := raw.(io.Seeker)
				if !ok {
					return nil, fmt.Errorf("%s %s: the body cannot be read again for another try, as it cannot seek: %w",
						a.r.method, a.r.path, a.last)
				}
				if _, err := seeker.Seek(0, io.SeekStart); err != nil {
					return nil, err
				}
			}
			lazy := &lazyReader{open: func() io.Reader {
				read.Store(true)
				r := raw
				if !a.r.asIs {
					r = uploadReader(raw)
				}
				if a.r.length > 0 {
					return &exactly{r: r, n: a.r.length, left: a.r.length}
				}
				return r
			}}
			if a.r.length > 0 {
				return sizedReader{lazy, a.r.length}, nil
			}
			return lazy, nil
		}), nil
	case a.r.body != nil:
		return json.Marshal(a.r.body)
	}
	return nil, nil
}

// authorize sets the current token on a try.
func (a *attempts) authorize(req *http.Request) error {
	token, err := a.c.tokens.token(a.ctx)
	if err != nil {
		return err
	}
	a.token = token
	req.Header.Set("Authorization", "Bearer "+token)
	return nil
}

// readBody reads the final answer whole, so that an answer cut off is a failed try.
func (a *attempts) readBody(resp *http.Response) error {
	data, err := io.ReadAll(resp.Body)
	a.logTry(resp, nil)
	if err != nil {
		return fmt.Errorf("reading the response (status %d, request id %s): %w", resp.StatusCode, resp.Header.Get(aepwire.HeaderRequestID), err)
	}
	a.answer = data
	return nil
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 1 << 20

// check is the retry policy: it returns whether to try again, or the call's final error.
func (a *attempts) check(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, fmt.Errorf("%s %s: %w", a.r.method, a.r.path, ctx.Err())
	}
	var fail error
	sent := true
	a.delay = 0
	switch {
	case err != nil:
		// The connection failed, or (with resp) the answer was cut off.
		sent = resp != nil || !dialFailed(err)
		fail = fmt.Errorf("%s %s: %w", a.r.method, a.r.path, err)
		if resp == nil {
			a.logTry(nil, err)
		}
	case resp.StatusCode == http.StatusUnauthorized && a.c.tokens.renewable() && !a.renewed:
		// The token may have expired early, or the platform restarted and forgot it: renew it
		// once (shared with every call that holds the same token) and try again at once.
		a.logTry(resp, nil)
		a.renewed, a.noWait = true, true
		a.c.tokens.invalidate(a.token)
		a.tries--
		return true, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		body := a.readError(resp)
		fail, sent, a.delay = a.apiError(resp, body), false, a.c.retryAfter(resp.Header, body)
	case resp.StatusCode == http.StatusInternalServerError || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusGatewayTimeout:
		body := a.readError(resp)
		fail, a.delay = a.apiError(resp, body), a.c.retryAfter(resp.Header, body)
	default:
		return false, nil // an answer: readBody reads it
	}
	a.last = fail
	a.sent = a.sent || sent
	switch {
	case sent && !a.idempotent:
		return false, &aepwire.UnavailableError{Sent: true, Err: fmt.Errorf("%w%s", fail, lostAnswerNote(a.r.method))}
	case a.tries >= a.c.cfg.MaxAttempts:
		err := fmt.Errorf("%s %s failed after %d attempts: %w", a.r.method, a.r.path, a.tries, fail)
		switch {
		case resp == nil && !a.sent:
			err = fmt.Errorf("could not reach the platform at %s: %w", a.c.cfg.Endpoint, err)
		case !a.sent:
			err = fmt.Errorf("the platform at %s answered that it cannot serve now: %w", a.c.cfg.Endpoint, err)
		}
		return false, &aepwire.UnavailableError{Sent: a.sent, Err: err}
	}
	return true, nil
}

func lostAnswerNote(method string) string {
	return "\n(the platform may have carried out this " + method + " before its answer was lost, so it was not sent again)"
}

func (a *attempts) readError(resp *http.Response) []byte {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	a.logTry(resp, nil)
	return data
}

func (a *attempts) apiError(resp *http.Response, body []byte) *aepwire.Error {
	e := aepwire.DecodeError(resp.StatusCode, body, resp.Header.Get(aepwire.HeaderRequestID))
	e.Hint = hint(e)
	return e
}

// wait sleeps before the next try, on the client's clock, and leaves retryablehttp nothing to
// wait: the server's Retry-After, else an exponential backoff with jitter.
func (a *attempts) wait(_, _ time.Duration, _ int, _ *http.Response) time.Duration {
	d := a.delay
	switch {
	case a.noWait:
		d, a.noWait = 0, false
	case d == 0:
		d = a.c.backoff(a.tries)
	}
	if d > 0 {
		a.c.log(a.ctx, "retrying API request", map[string]any{"method": a.r.method, "path": a.r.path, "attempt": a.tries,
			"wait_ms": d.Milliseconds(), "error": fmt.Sprint(a.last)})
		// A done context ends the sleep early; the next try then fails at once, and check says why.
		_ = clock.Sleep(a.ctx, a.c.clock, d)
	}
	return 0
}

func (a *attempts) logTry(resp *http.Response, err error) {
	fields := map[string]any{"method": a.r.method, "path": a.r.path, "attempt": a.tries,
		"duration_ms": a.c.clock.Now().Sub(a.start).Milliseconds()}
	if err != nil {
		fields["error"] = err.Error()
		a.c.log(a.ctx, "API request failed", fields)
		return
	}
	fields["status"] = resp.StatusCode
	fields["request_id"] = resp.Header.Get(aepwire.HeaderRequestID)
	a.c.log(a.ctx, "API request", fields)
}

// backoff is the wait before try attempt+1: exponential from MinBackoff, capped, with jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.MinBackoff << max(attempt-1, 0)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// dialFailed reports whether a transport error happened before the request was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED)
}

// retryAfter reads the wait a server asks for: the Retry-After header (seconds or an HTTP date),
// or the retryAfterMs of a profile service's 429 body; capped at MaxRetryAfter.
func (c *Client) retryAfter(h http.Header, body []byte) time.Duration {
	var d time.Duration
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil {
			d = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			now, _ := c.serverNow()
			d = t.Sub(now)
		}
	}
	if d <= 0 {
		var tm aepwire.TooManyRequests
		if json.Unmarshal(body, &tm) == nil {
			if ms, err := strconv.ParseInt(tm.RetryAfterMs, 10, 64); err == nil {
				d = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if d <= 0 {
		return 0
	}
	return min(d, c.cfg.MaxRetryAfter)
}

// noteServerTime learns how far the platform's clock is from ours, from an answer's Date.
func (c *Client) noteServerTime(h http.Header) {
	t, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serverOffset, c.offsetKnown = t.Sub(c.clock.Now()), true
}

// serverNow is the platform's time as well as the client knows it (to the second), and whether
// it knows it at all.
func (c *Client) serverNow() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clock.Now().Add(c.serverOffset), c.offsetKnown
}

// lazyReader is the reader open makes, made at its first read.
type lazyReader struct {
	open func() io.Reader
	r    io.Reader
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil {
		l.r = l.open()
	}
	return l.r.Read(p)
}

// exactly is an upload sent with its Content-Length: it fails, saying why, when its source holds
// fewer bytes than that, or more (a file written to while it is sent).
type exactly struct {
	r       io.Reader
	n, left int64
}

func (e *exactly) Read(p []byte) (int, error) {
	if e.left == 0 {
		var one [1]byte
		if n, _ := io.ReadFull(e.r, one[:]); n > 0 {
			return 0, e.changed()
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if errors.Is(err, io.EOF) && e.left > 0 {
		return n, e.changed()
	}
	return n, err
}

func (e *exactly) changed() error {
	return fmt.Errorf("the file changed while it was sent (it held %d bytes when the upload began): upload it once nothing "+
		"writes to it any more", e.n)
}

// sizedReader is an upload whose length is known: retryablehttp sends it as its Content-Length.
type sizedReader struct {
	*lazyReader
	n int64
}

func (s sizedReader) Len() int { return int(s.n) }

// leadsAsIs reports whether a batch file whose first byte is b is sent as it is: uploadReader
// skips blanks and a byte-order mark at its start, and converts a JSON array.
func leadsAsIs(b byte) bool {
	switch b {
	case ' ', '\t', '\r', '\n', 0xEF, '[':
		return false
	}
	return true
}

// uploadReader is a batch file as it is sent: JSON Lines as they are; a JSON array converted to
// JSON Lines, one element a line in order, so that a JSON batch reads one record an element
// (numbered as the elements) without inputFormat.isMultiLineJson, which would apply to every
// file of the batch.
func uploadReader(raw io.Reader) io.Reader {
	br := bufio.NewReader(raw)
	for skipped := 0; skipped < 1<<16; skipped++ {
		b, err := br.Peek(1)
		if err != nil || leadsAsIs(b[0]) {
			return br
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		case 0xEF: // a byte-order mark
			if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = br.Discard(3)
				continue
			}
		case '[':
			return &arrayLines{dec: json.NewDecoder(br)}
		}
		return br
	}
	return br
}

// arrayLines reads a JSON array as JSON Lines, an element at a time.
type arrayLines struct {
	dec     *json.Decoder
	buf     bytes.Buffer
	started bool
	n       int
	err     error
}

func (a *arrayLines) Read(p []byte) (int, error) {
	for a.buf.Len() == 0 {
		if a.err != nil {
			return 0, a.err
		}
		a.err = a.next()
	}
	return a.buf.Read(p)
}

// next puts the next element in the buffer, or returns io.EOF after the array, or what is wrong.
func (a *arrayLines) next() error {
	if !a.started {
		a.started = true
		if _, err := a.dec.Token(); err != nil { // the '['
			return err
		}
	}
	if !a.dec.More() {
		if _, err := a.dec.Token(); err != nil { // the ']'
			return fmt.Errorf("the JSON array does not end: %w", err)
		}
		if _, err := a.dec.Token(); err != io.EOF {
			return errors.New("the file holds more than its JSON array")
		}
		return io.EOF
	}
	a.n++
	var elem json.RawMessage
	if err := a.dec.Decode(&elem); err != nil {
		return fmt.Errorf("element %d of the JSON array is not valid JSON: %w", a.n, err)
	}
	if err := json.Compact(&a.buf, elem); err != nil {
		return fmt.Errorf("element %d of the JSON array: %w", a.n, err)
	}
	a.buf.WriteByte('\n')
	return nil
}
