package aepserver

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/defaults"
)

// Limits bound what one request may make the server read, store and hold. A zero field takes
// its default.
type Limits struct {
	// JSONBody is the largest JSON request body, in bytes; default 1 MiB. (The token endpoint's
	// form may have 8 KiB.)
	JSONBody int64
	// File is the largest file one upload may send, in bytes; default 256 MiB, the most AEP's
	// batch ingestion takes in one upload.
	File int64
	// Batch is the most bytes a batch's files may hold together; default 10 GiB.
	Batch int64
	// BatchFiles is the most files a batch may hold; default 1500, as in AEP.
	BatchFiles int
	// Conns is the most connections served at once; default 256. Past it, a new connection
	// closes the one that has waited longest on its client for a request (idle, or not yet
	// through its TLS handshake or its request's headers), or, with every connection being
	// served, waits for one to end (its header timeout running meanwhile).
	Conns int
	// ConnsPerAddr is the most connections served at once from one client address (an IPv6 /64
	// counting as one address); default a quarter of Conns, and Conns or more for no such limit.
	// Past it, a new connection from the address closes the address's connection that has waited
	// longest on its client, or, with all of them being served, waits for one to end; past as
	// many waiting as may be served, the one waiting longest is closed unserved. Behind a proxy
	// every connection comes from the proxy's address: set it to Conns there.
	ConnsPerAddr int
}

// Default limits.
const (
	DefaultJSONBody   = 1 << 20
	DefaultFile       = aepwire.MaxUploadFile
	DefaultBatch      = 10 << 30
	DefaultBatchFiles = 1500
	DefaultConns      = 256
)

func (l Limits) withDefaults() Limits {
	defaults.Positive(&l.JSONBody, DefaultJSONBody)
	defaults.Positive(&l.File, DefaultFile)
	defaults.Positive(&l.Batch, DefaultBatch)
	defaults.Positive(&l.BatchFiles, DefaultBatchFiles)
	defaults.Positive(&l.Conns, DefaultConns)
	defaults.Positive(&l.ConnsPerAddr, max(1, l.Conns/4))
	l.ConnsPerAddr = min(l.ConnsPerAddr, l.Conns)
	return l
}

// Timeouts bound how long a client may hold a connection without making progress. A zero field
// takes its default.
type Timeouts struct {
	// Header is how long a client has to send a request's headers; default 10s.
	Header time.Duration
	// Idle is how long a connection is kept waiting for its next request; default 60s.
	Idle time.Duration
	// Transfer and MinRate pace bodies both ways: the server waits at most Transfer for each
	// MinRate×Transfer bytes of a request body to arrive, or of an answer to be taken, so that a
	// client trickling bytes is cut off while a large upload or download of any size goes through.
	// Defaults 10s and 4 KiB/s.
	Transfer time.Duration
	MinRate  int64
}

func (t Timeouts) withDefaults() Timeouts {
	defaults.Positive(&t.Header, 10*time.Second)
	defaults.Positive(&t.Idle, 60*time.Second)
	defaults.Positive(&t.Transfer, 10*time.Second)
	defaults.Positive(&t.MinRate, 4<<10)
	return t
}

// Sizes of what a client names and describes: enough for any real name or description, small
// enough that a listing of a hundred objects stays small.
const (
	maxNameLen        = 256  // characters of a dataset or merge policy name
	maxDescriptionLen = 4096 // characters of a dataset description
	maxTags           = 64   // tag names of a dataset
	maxTagValues      = 64   // values of one tag
	maxTagLen         = 256  // characters of a tag name or value
)

// errTooLarge is a body over a limit: 413, naming the limit and what to do.
func errTooLarge(what string, limit int64, fix string) *aepwire.Error {
	return aepwire.Errorf(http.StatusRequestEntityTooLarge, "SRV-1413", "Request too large",
		"%s is larger than %s, the most the server takes; %s", what, aepwire.FormatBytes(limit), fix)
}

// bodyLimit is what a route's request body may be, and what to say when it is larger.
type bodyLimit struct {
	max  int64
	what string
	fix  string
}

func (s *Server) jsonBodyLimit() bodyLimit {
	return bodyLimit{s.limits.JSONBody, "the request body", "send less (names and descriptions are short; " +
		"records go in batch files, not in API calls)"}
}

// maxTokenForm is the largest form the token endpoint takes: a client id, a secret and scopes
// hold a few hundred bytes.
const maxTokenForm = 8 << 10

func tokenFormLimit() bodyLimit {
	return bodyLimit{maxTokenForm, "the token request's form", "send grant_type, client_id, client_secret and scope, and nothing else"}
}

func (s *Server) fileLimit() bodyLimit {
	return bodyLimit{s.limits.File, "the file", "split the records into several files of the batch, or send the file " +
		"in parts (the large-file upload: POST ...?action=INITIALIZE, PATCH each part, POST ...?action=COMPLETE)"}
}

// partLimit is fileLimit for a part of a large file.
func (s *Server) partLimit() bodyLimit {
	return bodyLimit{s.limits.File, "a part of a large file", "send the file in smaller parts"}
}

// declaredTooLarge refuses a body whose declared length is over its limit, before a byte of it
// is read.
func declaredTooLarge(r *http.Request) error {
	if b, ok := r.Body.(*requestBody); ok && r.ContentLength > b.limit.max {
		return errTooLarge(b.limit.what, b.limit.max, b.limit.fix)
	}
	return nil
}

// requestBody is a request body held to a limit and to the transfer pace: reading past the
// limit fails with a 413, and a client that sends too slowly is cut off with a 408.
type requestBody struct {
	io.ReadCloser
	limit bodyLimit
	left  int64 // bytes that may still be read
	pace  *pace
	err   error
	eof   bool // the body is read to its end
}

// unread reports whether some of a body of contentLength bytes (-1: not known) is left unread.
func (b *requestBody) unread(contentLength int64) bool {
	read := b.limit.max - b.left
	return contentLength != 0 && !b.eof && (contentLength < 0 || read < contentLength)
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	b.pace.start()
	n, err := b.ReadCloser.Read(p)
	b.pace.moved(n, err)
	b.eof = b.eof || errors.Is(err, io.EOF)
	if int64(n) > b.left {
		n, b.err = int(b.left), errTooLarge(b.limit.what, b.limit.max, b.limit.fix)
		return n, b.err
	}
	b.left -= int64(n)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		err = b.pace.tooSlow("the request body")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// pace enforces the minimum transfer rate on one direction of a connection: the time spent
// waiting on the client to deliver (or take) each quota of bytes is at most the window. Only
// the time blocked on the client counts, so a handler that is slow between reads costs the
// client nothing. Deadlines are on the system clock, the only one the network knows.
type pace struct {
	window time.Duration
	quota  int64
	rate   int64
	set    func(time.Time) error

	off   bool          // the connection takes no deadlines (a test's recorder)
	left  time.Duration // waiting time left for the current quota
	done  int64         // bytes of the current quota moved
	began time.Time     // when the current read or write began
}

func newPace(t Timeouts, set func(time.Time) error) *pace {
	return &pace{window: t.Transfer, rate: t.MinRate, quota: max(1, int64(t.Transfer.Seconds()*float64(t.MinRate))), set: set,
		left: t.Transfer}
}

func (p *pace) start() {
	if p.off {
		return
	}
	p.began = clock.System.Now()
	if err := p.set(p.began.Add(p.left)); err != nil {
		p.off = true
	}
}

// moved records a read or write of n bytes that ended with err. The pace ends with the body:
// the HTTP server then reads the connection itself (for the next request, or to notice the
// client leaving), and a deadline set after that would cut its read.
func (p *pace) moved(n int, err error) {
	if p.off {
		return
	}
	if errors.Is(err, io.EOF) {
		p.off = true
		return
	}
	p.left -= clock.System.Now().Sub(p.began)
	if p.done += int64(n); p.done >= p.quota {
		p.left, p.done = p.window, 0
	}
}

func (p *pace) tooSlow(what string) error {
	return aepwire.Errorf(http.StatusRequestTimeout, "SRV-1408", "Request timeout",
		"%s arrived slower than %s a second for %s; send it at a steady pace", what, aepwire.FormatBytes(p.rate), p.window)
}

// pacedWriter holds the answer to the same pace: a client that stops taking an answer is cut
// off, however long the answer.
type pacedWriter struct {
	*statusRecorder
	pace *pace
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	w.pace.start()
	n, err := w.statusRecorder.Write(b)
	w.pace.moved(n, err)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.statusRecorder }

// checkDataset holds what a client sets on a dataset to the limits.
func checkDataset(name, description *string, tags *map[string][]string) error {
	const code = "CAT-1400"
	if name != nil {
		if err := aepwire.CheckLength(code, "name", *name, maxNameLen); err != nil {
			return err
		}
	}
	if description != nil {
		if err := aepwire.CheckLength(code, "description", *description, maxDescriptionLen); err != nil {
			return err
		}
	}
	if tags == nil {
		return nil
	}
	if len(*tags) > maxTags {
		return aepwire.Errorf(http.StatusBadRequest, code, "Bad request",
			"tags has %d names, more than the %d a dataset may have; keep fewer tags", len(*tags), maxTags)
	}
	for tag, values := range *tags {
		if err := aepwire.CheckLength(code, "the tag name "+aepwire.QuoteShort(tag), tag, maxTagLen); err != nil {
			return err
		}
		if len(values) > maxTagValues {
			return aepwire.Errorf(http.StatusBadRequest, code, "Bad request",
				"tag %s has %d values, more than the %d a tag may have; keep fewer values", aepwire.QuoteShort(tag), len(values), maxTagValues)
		}
		for _, v := range values {
			if err := aepwire.CheckLength(code, "a value of tag "+aepwire.QuoteShort(tag), v, maxTagLen); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPolicyName holds a merge policy's name to its limit.
func checkPolicyName(name string) error {
	return aepwire.CheckLength("UPS-1400", "name", name, maxNameLen)
}
