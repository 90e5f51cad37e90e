package exportengine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/internal/durable"
)

// Large files are AEP's large-file upload, for a file larger than one upload takes
// (aepwire.MaxUploadFile): the file is initialized (InitLargeFile), sent in parts, each a range
// of its bytes (WriteLargeFilePart), and completed (CompleteLargeFile), which makes it one of
// the batch's files as an upload of it whole would.
//
// A large file in progress is kept in its batch's file directory under a dot name, which no
// upload may take and which ingestion does not read: largeFileMark, a digest of the file's name,
// and how many bytes the file has received, the parts answered so far. The count is in the name
// so that it changes with the part, by a rename made durable after the part's bytes are: after
// a crash, the name says what the answered parts hold, and what a part left unanswered wrote
// past it is cut off when the file is completed. A part may start anywhere up to what the file
// has received, not past it: the parts are sent in order, as AEP's guide sends them. What the
// file has received is never written again: a part sent again (its answer lost) must hold the
// bytes it held. The bytes a large file has received count against the batch's limits as a
// file's do, beside a stored file of its name, which it replaces only once completed; each part
// is counted again, under the batch's lock, when it is made the file's, and so is the file when
// it is completed; completing the batch drops the large files not completed.
const largeFileMark = ".large-"

// largeFilePrefix is the beginning of the dot names of the large file name, before its count.
func largeFilePrefix(name string) string {
	sum := sha256.Sum256([]byte(name))
	return largeFileMark + hex.EncodeToString(sum[:16]) + "-"
}

// largeFileReceived reads what a large file in progress has received from its dot name.
func largeFileReceived(entry string) (int64, bool) {
	rest, ok := strings.CutPrefix(entry, largeFileMark)
	if !ok || len(rest) < 34 || rest[32] != '-' {
		return 0, false
	}
	n, err := strconv.ParseInt(rest[33:], 10, 64)
	return n, err == nil && n >= 0
}

// largeFile is a large file in progress: its path and what it has received.
type largeFile struct {
	path     string
	received int64
}

// findLargeFile finds the large file name of a batch's file directory, or says that it was not
// initialized.
func findLargeFile(dir, batchID, name string) (largeFile, error) {
	prefix := largeFilePrefix(name)
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return largeFile{}, batchNotFound(batchID) // deleted meanwhile, and its directory with it
		}
		return largeFile{}, err
	}
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), prefix) {
			if n, ok := largeFileReceived(ent.Name()); ok {
				return largeFile{path: filepath.Join(dir, ent.Name()), received: n}, nil
			}
		}
	}
	return largeFile{}, aepwire.Errorf(http.StatusNotFound, codeIngestFileNotFound, "File not found",
		"batch %s has no large file %s in progress: initialize it first (POST .../files/%s?action=INITIALIZE), then send "+
			"its parts (PATCH) and complete it (POST ...?action=COMPLETE)", batchID, aepwire.QuoteShort(name), name)
}

// removeLargeFiles removes the large files in progress of a batch's file directory.
func removeLargeFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), largeFileMark) {
			if err := os.Remove(filepath.Join(dir, ent.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// largeLocks holds a lock for each large file in progress in this process: of two calls on one
// file at once, the second waits, so that what the file has received moves forward one part at
// a time.
type largeLocks struct {
	mu   sync.Mutex
	held map[string]*largeLock
}

type largeLock struct {
	sync.Mutex
	users int
}

// lock locks the large file name of batch batchID, and returns its unlock.
func (l *largeLocks) lock(batchID, name string) (unlock func()) {
	key := batchID + "/" + name
	l.mu.Lock()
	if l.held == nil {
		l.held = map[string]*largeLock{}
	}
	k := l.held[key]
	if k == nil {
		k = &largeLock{}
		l.held[key] = k
	}
	k.users++
	l.mu.Unlock()
	k.Lock()
	return func() {
		k.Unlock()
		l.mu.Lock()
		if k.users--; k.users == 0 {
			delete(l.held, key)
		}
		l.mu.Unlock()
	}
}

// InitLargeFile begins the large file name of a loading batch (POST ...?action=INITIALIZE): it
// has received nothing. A large file of that name in progress begins again.
func (e *Engine) InitLargeFile(ctx context.Context, batchID, datasetID, name string) (err error) {
	sb, dir, done, err := e.largeTarget(ctx, batchID, datasetID, name)
	if err != nil {
		return err
	}
	defer done(&err)
	used, err := batchUsage(dir, "", name)
	if err != nil {
		return fmt.Errorf("initializing %s: %w", name, err)
	}
	if err := e.checkBatchLimits(batchID, used, 0); err != nil {
		return err
	}
	if err := e.checkRoom(); err != nil {
		return err
	}
	unlock, err := e.lockLoadingBatch(ctx, sb, batchID)
	if err != nil {
		return err
	}
	defer unlock()
	if old, err := findLargeFile(dir, batchID, name); err == nil {
		if err := os.Remove(old.path); err != nil {
			return fmt.Errorf("initializing %s: %w", name, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, largeFilePrefix(name)+"0"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, privateFile)
	if err != nil {
		return fmt.Errorf("initializing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("initializing %s: %w", name, err)
	}
	return durable.SyncDir(dir)
}

// WriteLargeFilePart writes a part of the large file name, the length bytes of body from byte
// start on, and returns how many bytes the file has received with it. The part is answered
// durable: a crash after the answer keeps it. What the file has received is never written
// again: a part sent again must hold the bytes it held before (where it overlaps them), and only
// its bytes past them are written. A part refused, for its bytes or the batch's limits, leaves
// the file as it was.
func (e *Engine) WriteLargeFilePart(ctx context.Context, batchID, datasetID, name string, start, length int64, body io.Reader) (_ int64, err error) {
	sb, dir, done, err := e.largeTarget(ctx, batchID, datasetID, name)
	if err != nil {
		return 0, err
	}
	defer done(&err)
	lf, err := findLargeFile(dir, batchID, name)
	if err != nil {
		return 0, err
	}
	if start < 0 || start > lf.received {
		return 0, ingestBadRequest("the part starts at byte %d, past the %d bytes that large file %s has received: send the parts in order, each "+
			"starting where the one before it ended (Content-Range: bytes %d-...)",
			start, lf.received, aepwire.QuoteShort(name), lf.received)
	}
	received := max(lf.received, start+length)
	used, err := batchUsage(dir, "", name)
	if err != nil {
		return 0, fmt.Errorf("storing a part of %s: %w", name, err)
	}
	if err := e.checkBatchLimits(batchID, used, received); err != nil {
		return 0, err
	}
	if err := e.checkRoom(); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(lf.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("storing a part of %s: %w", name, err)
	}
	err = e.writePart(f, body, start, length, lf.received)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && received != lf.received {
		err = e.commitPart(ctx, sb, batchID, dir, name, lf.path, received)
	}
	if err != nil {
		if aepwire.StatusOf(err) != 0 {
			return 0, err
		}
		return 0, fmt.Errorf("storing a part of %s: %w", name, err)
	}
	return received, nil
}

// writePart writes the length bytes of body at start into f, a large file that has received
// received bytes: those of them the part overlaps are compared, not written, and the rest are
// written after them.
func (e *Engine) writePart(f *os.File, body io.Reader, start, length, received int64) error {
	overlap := max(min(received, start+length)-start, 0)
	if overlap > 0 {
		if err := sameBytes(f, body, start, overlap); err != nil {
			return err
		}
	}
	rest := length - overlap
	if _, err := f.Seek(start+overlap, io.SeekStart); err != nil {
		return err
	}
	n, err := copyWritingBack(f, body, start+overlap, rest+1, e.checkRoom) // a byte more, to know a body that holds more
	if err != nil {
		return err
	}
	if n != rest {
		held := strconv.FormatInt(overlap+n, 10)
		if n > rest {
			held = "more"
		}
		return ingestBadRequest("the part's Content-Range names %d bytes, and its body held %s: send the part's bytes, all of "+
			"them and no more", length, held)
	}
	return nil
}

// sameBytes reads n bytes of body and compares them with those of f at off: a part sent again
// must hold the bytes the file received.
func sameBytes(f *os.File, body io.Reader, off, n int64) error {
	var have, got [32 << 10]byte
	for done := int64(0); done < n; {
		k := min(int64(len(got)), n-done)
		m, err := io.ReadFull(body, got[:k])
		if err != nil {
			return ingestBadRequest("the part's Content-Range names more bytes than its body held: send the part's bytes, " +
				"all of them and no more")
		}
		if _, err := f.ReadAt(have[:m], off+done); err != nil {
			return err
		}
		if !bytes.Equal(have[:m], got[:m]) {
			return ingestBadRequest("bytes %d-%d of the part differ from those the file received before: a part sent again "+
				"must hold the bytes it held; to send other bytes, initialize the file again", off, off+n-1)
		}
		done += int64(m)
	}
	return nil
}

// commitPart makes what large file name has received received, by renaming it at path, under
// the batch's lock, while the batch is loading, and within its limits counted again: of two
// parts at once, in any files, that fit the limits alone but not together, the second is
// refused.
func (e *Engine) commitPart(ctx context.Context, sb, batchID, dir, name, path string, received int64) error {
	unlock, err := e.lockLoadingBatch(ctx, sb, batchID)
	if err != nil {
		return err
	}
	defer unlock()
	used, err := batchUsage(dir, "", name)
	if err != nil {
		return err
	}
	if err := e.checkBatchLimits(batchID, used, received); err != nil {
		return err
	}
	if err := os.Rename(path, filepath.Join(dir, largeFilePrefix(name)+strconv.FormatInt(received, 10))); err != nil {
		return err
	}
	return durable.SyncDir(dir)
}

// largeTarget checks a large file's name and batch for a call (uploadTarget), and locks the
// file for it; done, deferred, unlocks the file and turns the call's failure that met a file or
// directory gone into what took it away (gone).
func (e *Engine) largeTarget(ctx context.Context, batchID, datasetID, name string) (sb, dir string, done func(*error), err error) {
	if sb, dir, err = e.uploadTarget(ctx, batchID, datasetID, name); err != nil {
		return "", "", nil, err
	}
	unlock := e.largeLocks.lock(batchID, name)
	return sb, dir, func(errp *error) {
		unlock()
		*errp = e.gone(ctx, sb, batchID, *errp)
	}, nil
}

// gone turns a failure that met a file or directory gone into what took it away: the batch's
// completion, abort or deletion meanwhile, as touchLoadingBatch says it.
func (e *Engine) gone(ctx context.Context, sb, batchID string, err error) error {
	if err != nil && aepwire.StatusOf(err) == 0 && errors.Is(err, os.ErrNotExist) {
		if terr := e.touchLoadingBatch(ctx, sb, batchID); terr != nil {
			return terr
		}
	}
	return err
}

// LargeFileReceived returns how many bytes the large file name has received (HEAD ...).
func (e *Engine) LargeFileReceived(ctx context.Context, batchID, datasetID, name string) (int64, error) {
	_, dir, err := e.uploadTarget(ctx, batchID, datasetID, name)
	if err != nil {
		return 0, err
	}
	lf, err := findLargeFile(dir, batchID, name)
	return lf.received, err
}

// CompleteLargeFile makes the large file name, as it has received it, one of its batch's files
// (POST ...?action=COMPLETE), replacing one of that name; it returns the file's size. Completing
// a file that is no longer in progress and is one of the batch's files returns its size: a
// COMPLETE sent again leaves the file as once.
func (e *Engine) CompleteLargeFile(ctx context.Context, batchID, datasetID, name string) (_ int64, err error) {
	sb, dir, done, err := e.largeTarget(ctx, batchID, datasetID, name)
	if err != nil {
		return 0, err
	}
	defer done(&err)
	lf, err := findLargeFile(dir, batchID, name)
	if aepwire.IsNotFound(err) {
		// Completed already (a COMPLETE sent again, its answer lost): the file is as once.
		if fi, serr := os.Stat(filepath.Join(dir, name)); serr == nil && fi.Mode().IsRegular() {
			return fi.Size(), nil
		}
	}
	if err != nil {
		return 0, err
	}
	// What a part left unanswered by a crash wrote past the parts answered is not the file's.
	if err := os.Truncate(lf.path, lf.received); err != nil {
		return 0, fmt.Errorf("completing %s: %w", name, err)
	}
	if err := durable.SyncFile(lf.path); err != nil {
		return 0, fmt.Errorf("completing %s: %w", name, err)
	}
	if err := e.placeUpload(ctx, sb, batchID, dir, lf.path, name, lf.received, true); err != nil {
		if aepwire.StatusOf(err) != 0 {
			return 0, err
		}
		return 0, fmt.Errorf("completing %s: %w", name, err)
	}
	return lf.received, nil
}
