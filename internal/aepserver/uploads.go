package aepserver

import (
	"net/http"
	"sync"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// uploads counts what the loading batches hold, so that a batch stays within Limits.Batch and
// Limits.BatchFiles. It counts what was uploaded through this server since it started: a batch
// that was loading before a restart starts counting again from nothing. A batch is counted in
// its sandbox: an upload from another sandbox neither sees its count nor adds to it.
type uploads struct {
	mu      sync.Mutex
	batches map[batchKey]*batchUsage
	swept   time.Time
}

// batchKey is a batch of a sandbox.
type batchKey struct{ sandbox, batch string }

type batchUsage struct {
	files   map[string]int64 // stored files and their sizes
	pending map[string]int   // names being uploaded, and how many times at once
	bytes   int64            // stored and being uploaded
	touched time.Time
}

// A batch left loading for a day is abandoned by the platform; its count is forgotten a little later.
const forgetBatchAfter = 25 * time.Hour

func newUploads() *uploads { return &uploads{batches: map[batchKey]*batchUsage{}} }

// upload is one file being uploaded into a batch, or one part of a large file.
type upload struct {
	u      *uploads
	batch  batchKey
	name   string
	limits Limits
	at     int64 // where in the file the upload's bytes go: 0, or where a part starts
	read   int64
}

// start begins an upload of the bytes of file name from at on (0 but for a large file's part),
// refusing it when the batch already holds as many files as it may, or when the size the upload
// declares (if it does) would take the batch past its limit.
func (u *uploads) start(batch batchKey, name string, at, declared int64, limits Limits, now time.Time) (*upload, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.Sub(u.swept) > time.Hour {
		for id, b := range u.batches {
			if len(b.pending) == 0 && now.Sub(b.touched) > forgetBatchAfter {
				delete(u.batches, id)
			}
		}
		u.swept = now
	}
	b := u.batches[batch]
	if b == nil {
		b = &batchUsage{files: map[string]int64{}, pending: map[string]int{}}
		u.batches[batch] = b
	}
	b.touched = now
	if _, replaces := b.files[name]; !replaces && b.pending[name] == 0 && len(b.files)+len(b.pending) >= limits.BatchFiles {
		return nil, aepwire.Errorf(http.StatusRequestEntityTooLarge, "SRV-1413", "Request too large",
			"batch %s holds %d files, the most a batch may hold; put the records in fewer, larger files, or in another batch",
			batch.batch, limits.BatchFiles)
	}
	if declared > 0 && b.bytes-b.files[name]+at+declared > limits.Batch {
		return nil, errTooLarge("the batch", limits.Batch, "put the records in another batch")
	}
	b.pending[name]++
	return &upload{u: u, batch: batch, name: name, limits: limits, at: at}, nil
}

// charge counts n more bytes of the upload against its batch.
func (up *upload) charge(n int) error {
	u := up.u
	u.mu.Lock()
	defer u.mu.Unlock()
	up.read += int64(n)
	b := u.batches[up.batch]
	if b == nil {
		return nil // the batch ended meanwhile, and the platform refuses what is still sent to it
	}
	b.bytes += int64(n)
	if b.bytes-b.files[up.name]+up.at > up.limits.Batch {
		return errTooLarge("the batch", up.limits.Batch, "put the records in another batch")
	}
	return nil
}

// end ends an upload: the file is stored (and replaces one of the same name), or its bytes are
// no longer counted.
func (up *upload) end(stored bool) {
	up.settle(stored, up.read)
}

// settle ends an upload: the file is stored, of size bytes (and replaces one of the same name),
// or the upload's bytes are no longer counted.
func (up *upload) settle(stored bool, size int64) {
	u := up.u
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.batches[up.batch]
	if b == nil {
		return
	}
	if b.pending[up.name]--; b.pending[up.name] == 0 {
		delete(b.pending, up.name)
	}
	if !stored {
		b.bytes -= up.read
		if len(b.files) == 0 && len(b.pending) == 0 {
			delete(u.batches, up.batch) // nothing to count, perhaps no such batch
		}
		return
	}
	b.bytes += size - up.read - b.files[up.name]
	b.files[up.name] = size
}

// forget drops a batch that is no longer loading.
func (u *uploads) forget(batch batchKey) {
	u.mu.Lock()
	defer u.mu.Unlock()
	delete(u.batches, batch)
}

// chargedBody counts a body's bytes against its batch as they are read.
type chargedBody struct {
	r  interface{ Read([]byte) (int, error) }
	up *upload
}

func (c *chargedBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		if cerr := c.up.charge(n); cerr != nil {
			return n, cerr
		}
	}
	return n, err
}
