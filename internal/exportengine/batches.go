package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/internal/durable"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Batch ingestion error codes.
const (
	codeIngestBadRequest = "INGEST-1400"
	codeBatchNotFound    = "CAT-1405"
	codeIngestTooLarge   = "INGEST-1413"
	codeNoRoom           = "SRV-1507"
	// A large file's part, status or completion that names a file not initialized.
	codeIngestFileNotFound = "INGEST-1404"
)

const (
	batchesDir   = "batches"
	batchFileDir = "files"
	// uploadLockFile, in a batch's directory, is held while an upload is moved into place, and
	// while the batch is completed.
	uploadLockFile = "upload.lock"

	originIngest = "ingest"
	originExport = "export"

	formatJSON = "json"
)

func batchNotFound(id string) error {
	return aepwire.Errorf(http.StatusNotFound, codeBatchNotFound, "Batch not found", "no batch has the id %q", id)
}

func ingestBadRequest(format string, args ...any) error {
	return aepwire.Errorf(http.StatusBadRequest, codeIngestBadRequest, "Bad request", format, args...)
}

func newBatchID() string { return randomHex(16) }

// batchDir is where a batch's files and profile segment live.
func (e *Engine) batchDir(id string) string { return filepath.Join(e.dir, batchesDir, id) }

// CreateBatch opens a batch for uploads into a dataset. Profile union datasets take no uploads:
// they are the output of export jobs.
func (e *Engine) CreateBatch(ctx context.Context, req aepwire.BatchRequest) (*aepwire.Batch, error) {
	format := formatJSON
	if req.InputFormat != nil && req.InputFormat.Format != "" {
		format = strings.ToLower(req.InputFormat.Format)
	}
	if format != formatJSON {
		return nil, ingestBadRequest("inputFormat.format %s is not supported: the engine ingests JSON "+
			"(JSON Lines, or one JSON array a file)", aepwire.QuoteShort(req.InputFormat.Format))
	}
	if req.DatasetID == "" {
		return nil, ingestBadRequest("datasetId is required")
	}
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	id := newBatchID()
	now := e.nowMs()
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		ds, err := e.getDataset(ctx, tx, sb, req.DatasetID)
		if aepwire.IsNotFound(err) {
			return ingestBadRequest("datasetId %s names no dataset", aepwire.QuoteShort(req.DatasetID))
		}
		if err != nil {
			return err
		}
		if record.SchemaKind(ds.SchemaRef.ID) == record.Union {
			return ingestBadRequest("dataset %s uses the profile union schema %s, which is only an export "+
				"destination: ingest into a dataset of %s or %s instead",
				ds.ID, ds.SchemaRef.ID, aepwire.SchemaProfile, aepwire.SchemaExperienceEvent)
		}
		if err := e.checkBatchQuota(ctx, tx, sb); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO batches (sandbox, id, dataset_id, origin, status, format, created_ms, updated_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, sb, id, ds.ID, originIngest, aepwire.BatchLoading, format, now, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := e.makeBatchDir(id); err != nil {
		return nil, fmt.Errorf("creating batch directory: %w", err)
	}
	return e.getBatch(ctx, sb, id)
}

// makeBatchDir makes the directories of batch id and its files, and makes their names durable:
// an upload into them is answered once it is durable, and it is not if the directory that holds
// it can vanish with a crash of the machine. (A directory whose batch's row a crash took back is
// an orphan, which the next Open removes.)
func (e *Engine) makeBatchDir(id string) error {
	dir := e.batchDir(id)
	if err := os.MkdirAll(filepath.Join(dir, batchFileDir), privateDir); err != nil {
		return err
	}
	return errors.Join(durable.SyncDir(dir), durable.SyncDir(filepath.Dir(dir)))
}

// UploadBatchFile stores one file of a loading batch. Uploading a name again replaces the file.
func (e *Engine) UploadBatchFile(ctx context.Context, batchID, datasetID, name string, body io.Reader) error {
	sb, dir, err := e.uploadTarget(ctx, batchID, datasetID, name)
	if err != nil {
		return err
	}
	// What the batch holds besides the file this upload replaces: the upload may add no more
	// than the limits leave, and stops reading when it would.
	used, err := batchUsage(dir, name, "")
	if err != nil {
		return fmt.Errorf("storing %s: %w", name, err)
	}
	if err := e.checkBatchLimits(batchID, used, 0); err != nil {
		return err
	}
	if err := e.checkRoom(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".upload-*")
	if err != nil {
		if terr := e.touchLoadingBatch(ctx, sb, batchID); terr != nil {
			return terr // it ended (or went) meanwhile, and its directory with it
		}
		return fmt.Errorf("storing %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	limit := int64(math.MaxInt64)
	if e.maxBatchBytes > 0 {
		limit = e.maxBatchBytes - used.bytes + 1
	}
	n, err := copyWritingBack(tmp, body, 0, limit, e.checkRoom)
	if err == nil {
		err = e.checkBatchLimits(batchID, used, n)
	}
	if err == nil {
		err = tmp.Sync() // a file that is in place is whole, even after a crash of the machine
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = e.placeUpload(ctx, sb, batchID, dir, tmp.Name(), name, n, false)
	}
	if err != nil {
		if aepwire.StatusOf(err) != 0 {
			return err
		}
		return fmt.Errorf("storing %s: %w", name, err)
	}
	return nil
}

// uploadTarget checks a file's name and its batch for an upload: the batch is in the call's
// sandbox, of datasetID (when given), and loading. It returns the sandbox and the directory of
// the batch's files.
func (e *Engine) uploadTarget(ctx context.Context, batchID, datasetID, name string) (sb, dir string, err error) {
	if err := aepwire.CheckFileName(name); err != nil {
		return "", "", err
	}
	if sb, err = e.sandboxOf(ctx); err != nil {
		return "", "", err
	}
	b, err := e.getBatch(ctx, sb, batchID)
	if err != nil {
		return "", "", err
	}
	if datasetID != "" && b.DatasetID() != datasetID {
		return "", "", ingestBadRequest("batch %s belongs to dataset %s, not %s", batchID, b.DatasetID(), datasetID)
	}
	if err := e.touchLoadingBatch(ctx, sb, batchID); err != nil {
		return "", "", err
	}
	return sb, filepath.Join(e.batchDir(batchID), batchFileDir), nil
}

// uploadStep is how much of an upload is copied before its writeback starts.
const uploadStep = 8 << 20

// copyWritingBack copies up to limit bytes of r into f, whose offset is at, and has each step of
// them written back as it goes (see durable.Writeback): the fsync that makes the file whole then
// waits for little, where it waited for the whole of a large file. A file r is copied by the
// kernel (copy_file_range), as io.Copy copies it, step by step; after each step, room says
// whether the copy may go on.
func copyWritingBack(f *os.File, r io.Reader, at, limit int64, room func() error) (n int64, err error) {
	wb := durable.NewWritebackAt(f, at)
	defer func() {
		if serr := wb.Stop(); err == nil {
			err = serr
		}
	}()
	lr := &io.LimitedReader{R: r} // one level of limit, which the kernel's copy sees through
	for n < limit {
		lr.N = min(uploadStep, limit-n)
		step := lr.N
		k, err := io.Copy(f, lr)
		n += k
		wb.Written(at + n)
		if err != nil || k < step {
			return n, err
		}
		if err := room(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// checkRoom refuses work that would write to the data directory when its file system has less
// free than Options.DiskReserve. Where the free space cannot be known, nothing is refused.
func (e *Engine) checkRoom() error {
	if e.diskReserve <= 0 {
		return nil
	}
	free, err := e.freeSpace(e.dir)
	if err != nil || free >= uint64(e.diskReserve) {
		return nil //nolint:nilerr // an unknown free space refuses nothing
	}
	return aepwire.Errorf(http.StatusInsufficientStorage, codeNoRoom, "Insufficient storage",
		"the server's disk has %s free, less than the %s it keeps free for the work under way; delete batches or datasets "+
			"that are no longer needed, or ask the server's operator for more disk", aepwire.FormatBytes(int64(free)), aepwire.FormatBytes(e.diskReserve))
}

// usage is what a batch's files hold.
type usage struct {
	bytes int64
	files int
}

// batchUsage counts the stored files of a batch's file directory and its large files in
// progress (which become files, each counted as the bytes its answered parts hold), leaving out
// the stored file replaced (when not "") and the large file of partOf (when not ""): an upload
// replaces the one, a large file's part adds to the other. Uploads in progress are not counted.
func batchUsage(dir, replaced, partOf string) (usage, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return usage{}, err
	}
	ownLarge := "\x00" // no name
	if partOf != "" {
		ownLarge = largeFilePrefix(partOf)
	}
	var u usage
	for _, ent := range entries {
		name := ent.Name()
		if name == replaced || strings.HasPrefix(name, ownLarge) || !ent.Type().IsRegular() {
			continue
		}
		if strings.HasPrefix(name, ".") {
			if received, ok := largeFileReceived(name); ok {
				u.bytes += received
				u.files++
			}
			continue
		}
		info, err := ent.Info()
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return usage{}, err
		}
		u.bytes += info.Size()
		u.files++
	}
	return u, nil
}

// checkBatchLimits refuses a file of size bytes that would take a batch holding used past
// Options.MaxBatchBytes or MaxBatchFiles.
func (e *Engine) checkBatchLimits(batchID string, used usage, size int64) error {
	if e.maxBatchFiles > 0 && used.files+1 > e.maxBatchFiles {
		return aepwire.Errorf(http.StatusRequestEntityTooLarge, codeIngestTooLarge, "Request too large",
			"batch %s holds %d files, the most a batch may hold; put the records in fewer, larger files, or in another batch",
			batchID, e.maxBatchFiles)
	}
	if e.maxBatchBytes > 0 && used.bytes+size > e.maxBatchBytes {
		return aepwire.Errorf(http.StatusRequestEntityTooLarge, codeIngestTooLarge, "Request too large",
			"batch %s would hold more than %s of files, the most a batch may hold; put the records in another batch",
			batchID, aepwire.FormatBytes(e.maxBatchBytes))
	}
	return nil
}

// placeUpload moves an upload of size bytes into place as name, under the batch's upload lock,
// after counting again what the batch holds: of two uploads at once, in any processes, that fit
// the limits alone but not together, the second is refused, and the batch keeps what it held. An
// upload that meets the batch being completed waits for it, and is then refused: the batch is no
// longer loading, and its files are those it was completed with. The upload of a large file
// (large) takes the place of its large file in progress, which is not counted then.
func (e *Engine) placeUpload(ctx context.Context, sb, batchID, dir, tmp, name string, size int64, large bool) error {
	unlock, err := e.lockLoadingBatch(ctx, sb, batchID)
	if err != nil {
		return err
	}
	defer unlock()
	partOf := ""
	if large {
		partOf = name
	}
	used, err := batchUsage(dir, name, partOf)
	if err != nil {
		return err
	}
	if err := e.checkBatchLimits(batchID, used, size); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	// The upload is answered as stored: its name in the batch's directory (made with the batch)
	// must survive a crash of the machine too.
	return durable.SyncDir(dir)
}

// lockLoadingBatch takes a batch's upload lock, and checks, holding it, that the batch is still
// loading: what is done before unlock is done before the batch is completed, and to a batch
// that is still there.
func (e *Engine) lockLoadingBatch(ctx context.Context, sb, batchID string) (unlock func(), err error) {
	lock, err := e.lockBatch(ctx, batchID)
	if errors.Is(err, os.ErrNotExist) {
		return nil, batchNotFound(batchID) // deleted meanwhile, and its directory with it
	}
	if err != nil {
		return nil, err
	}
	if err := e.touchLoadingBatch(ctx, sb, batchID); err != nil {
		_ = lock.Unlock()
		return nil, err
	}
	return func() { _ = lock.Unlock() }, nil
}

// lockBatch takes a batch's upload lock, waiting for whoever holds it (Hooks.WaitForBatch is
// told), or until ctx ends.
func (e *Engine) lockBatch(ctx context.Context, id string) (*filelock.Lock, error) {
	path := filepath.Join(e.batchDir(id), uploadLockFile)
	lock, ok, err := filelock.TryLock(path, filelock.Exclusive)
	if err != nil || ok {
		return lock, err
	}
	if e.hooks.WaitForBatch != nil {
		e.hooks.WaitForBatch(id)
	}
	return filelock.WaitContext(ctx, path, filelock.Exclusive)
}

// touchLoadingBatch records activity on a loading batch, so that it is not abandoned while its
// client uploads or completes it. A batch that is no longer loading is refused, naming its status.
func (e *Engine) touchLoadingBatch(ctx context.Context, sb, id string) error {
	return e.touchBatch(ctx, sb, id, aepwire.BatchLoading)
}

// touchBatch records activity on a batch in status also or loading, and refuses one in any other,
// naming its status.
func (e *Engine) touchBatch(ctx context.Context, sb, id, also string) error {
	var status string
	err := e.store.Write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE batches SET updated_ms = ? WHERE id = ? AND sandbox = ? AND status IN (?, ?)`,
			e.nowMs(), id, sb, aepwire.BatchLoading, also)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 1 {
			return nil
		}
		err = tx.QueryRowContext(ctx, `SELECT status FROM batches WHERE id = ? AND sandbox = ?`, id, sb).Scan(&status)
		if errors.Is(err, sql.ErrNoRows) {
			return batchNotFound(id)
		}
		return err
	})
	if err == nil && status != "" {
		err = ingestBadRequest("batch %s is %s: files can only be added while it is loading", id, status)
	}
	return err
}

// CompleteBatch validates and commits a loading batch. Every record is checked; a bad record fails
// alone and is reported. The batch ends success when at least one record was accepted, failed
// otherwise. Its records become visible all at once, when the batch commits: readers never see
// part of a batch. Completing a batch that has already ended returns it as it is; one that is
// processing (see AcceptBatch) is completed here, or waited for while a completion holds it.
func (e *Engine) CompleteBatch(ctx context.Context, id string) (*aepwire.Batch, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	// The batch is ingested whether or not its caller waits for the answer (AEP completes a batch
	// on its own once asked to): a caller that gives up, and asks again, finds it ended.
	return e.completeBatch(ctx, context.WithoutCancel(ctx), sb, id)
}

// completing says whether a batch in status may still be completed: it is loading, or processing
// (asked to complete in the background, and not ended yet).
func completing(status string) bool {
	return status == aepwire.BatchLoading || status == aepwire.BatchProcessing
}

// completeBatch completes batch id of sandbox sb (see CompleteBatch): ctx until it holds the
// batch's lock, work from there on, for the ingestion and its commit. When work ends first, the
// batch is left as it was, its uploads with it, for a completion after.
func (e *Engine) completeBatch(ctx, work context.Context, sb, id string) (*aepwire.Batch, error) {
	b, err := e.getBatch(ctx, sb, id)
	if err != nil {
		return nil, err
	}
	if !completing(b.Status) {
		return b, nil
	}
	// One completion of a batch at a time, in any processes, and no upload beside it: a client
	// that sends COMPLETE again (a retry after an answer lost, or another run) waits for the
	// completion under way and then finds the batch ended, where it would otherwise ingest the
	// same files into the same segment beside it.
	lock, err := e.lockBatch(ctx, id)
	if errors.Is(err, os.ErrNotExist) {
		return nil, batchNotFound(id) // deleted meanwhile, and its directory with it
	}
	if err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	defer func() { _ = lock.Unlock() }()
	if err := e.touchBatch(ctx, sb, id, aepwire.BatchProcessing); err != nil {
		if aepwire.IsNotFound(err) {
			return nil, err
		}
		if now, gerr := e.getBatch(ctx, sb, id); gerr == nil && !completing(now.Status) {
			return now, nil // it ended meanwhile: report what is there now
		}
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	ctx = work
	// A large file not completed is not one of the batch's files (AEP's large-file upload).
	if err := removeLargeFiles(filepath.Join(e.batchDir(id), batchFileDir)); err != nil {
		return nil, fmt.Errorf("batch %s: %w", id, err)
	}
	var ds *aepwire.Dataset
	err = e.store.Read(ctx, func(tx *sql.Tx) error {
		ds, err = e.getDataset(ctx, tx, sb, b.DatasetID())
		return err
	})
	if err != nil {
		return nil, err
	}
	started := e.nowMs()
	kind := record.SchemaKind(ds.SchemaRef.ID)
	feedsProfile := (kind == record.Fragment || kind == record.Event) && aepwire.ProfileEnabled(ds.Tags)

	dir := e.batchDir(id)
	var seg *segment.Writer
	if feedsProfile {
		seg, err = segment.Create(dir, segment.WriterOptions{RunBytes: e.runBytes, InputBytes: dirBytes(filepath.Join(dir, batchFileDir)),
			AfterRun: e.hooks.AfterSegmentRun})
		if err != nil {
			return nil, fmt.Errorf("batch %s: %w", id, err)
		}
	}
	res, err := ingestFiles(ctx, filepath.Join(dir, batchFileDir), kind, seg)
	if err == nil && seg != nil {
		res.segment, err = seg.Close()
		res.hasSegment = err == nil
		seg = nil
	}
	if seg != nil {
		seg.Abort()
	}
	if err != nil {
		if now, gerr := e.getBatch(ctx, sb, id); gerr == nil && !completing(now.Status) {
			return now, nil // it ended meanwhile (abandoned, or completed by another client)
		}
		return nil, fmt.Errorf("ingesting batch %s: %w", id, err)
	}

	status := aepwire.BatchSuccess
	if res.accepted == 0 {
		status = aepwire.BatchFailed
		_ = os.Remove(filepath.Join(dir, segment.FileName))
		res.hasSegment = false
	}
	profileKind := 0
	if res.hasSegment {
		profileKind = int(kind)
	}
	errorsJSON, err := json.Marshal(res.errors)
	if err != nil {
		return nil, err
	}
	var topNames *string // NULL: not known
	var uniqueNames *int // NULL: not known
	var asIs *int        // NULL: not known
	if names, ok := res.names.List(); ok && res.hasSegment && kind == record.Fragment {
		b, err := json.Marshal(names)
		if err != nil {
			return nil, err
		}
		list := string(b)
		topNames = &list
		one := 1
		if res.names.Unique() {
			uniqueNames = &one
		}
		if res.names.AsIs() {
			asIs = &one
		}
	}
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		ingestTime, err := e.nextIngestTime(ctx, tx)
		if err != nil {
			return err
		}
		// Whatever the clock did meanwhile, a batch is not completed before it started, nor
		// before the ingest time it is given.
		now := max(e.nowMs(), started, ingestTime)
		r, err := tx.ExecContext(ctx, `UPDATE batches SET status = ?, updated_ms = ?, started_ms = ?, completed_ms = ?,
			ingest_time_ms = ?, record_count = ?, failed_record_count = ?, size_bytes = ?, errors = ?, profile_kind = ?, top_names = ?,
			unique_names = ?, as_is = ?
			WHERE id = ? AND status IN (?, ?)`,
			status, now, started, now, ingestTime, res.accepted, res.failed, res.bytes, string(errorsJSON), profileKind, topNames,
			uniqueNames, asIs, id, aepwire.BatchLoading, aepwire.BatchProcessing)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return errBatchChanged
		}
		for _, f := range res.files {
			// The files' digests are not computed ('', as for an export's files): nothing reads
			// them, and a SHA-256 of every byte ingested was a tenth of ingestion's CPU.
			if _, err := tx.ExecContext(ctx, `INSERT INTO batch_files (batch_id, name, size_bytes, records, sha256)
				VALUES (?, ?, ?, ?, '')`, id, f.name, f.size, f.records); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, errBatchChanged) {
		// Completed (or deleted) by someone else meanwhile: report what is there now.
		return e.getBatch(ctx, sb, id)
	}
	if err != nil {
		return nil, fmt.Errorf("committing batch %s: %w", id, err)
	}
	e.background.ended.notify() // WaitBatch: a batch waiting its turn may be the one ended here
	return e.getBatch(ctx, sb, id)
}

// dirBytes is the size of the files in dir.
func dirBytes(dir string) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

var errBatchChanged = errors.New("batch changed while it was being completed")

// nextIngestTime assigns the next batch ingest time: now, but always after the last one.
func (e *Engine) nextIngestTime(ctx context.Context, tx *sql.Tx) (int64, error) {
	var last int64
	err := tx.QueryRowContext(ctx, `SELECT value FROM engine_state WHERE key = 'last_ingest_ms'`).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	t := max(e.nowMs(), last+1)
	_, err = tx.ExecContext(ctx, `INSERT INTO engine_state (key, value) VALUES ('last_ingest_ms', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, t)
	return t, err
}

const batchColumns = `id, dataset_id, status, format, created_ms, updated_ms, started_ms, completed_ms, ingest_time_ms,
	record_count, failed_record_count, size_bytes, errors`

func (e *Engine) scanBatch(row interface{ Scan(...any) error }) (*aepwire.Batch, error) {
	b := &aepwire.Batch{ImsOrg: e.imsOrg, Version: "1.0.0", InputFormat: &aepwire.InputFormat{}}
	var datasetID, errorsJSON string
	if err := row.Scan(&b.ID, &datasetID, &b.Status, &b.InputFormat.Format, &b.Created, &b.Updated, &b.Started,
		&b.Completed, &b.IngestTime, &b.RecordCount, &b.FailedRecordCount, &b.Size, &errorsJSON); err != nil {
		return nil, err
	}
	b.RelatedObjects = []aepwire.RelatedObject{{Type: aepwire.RelatedDataSet, ID: datasetID}}
	if err := json.Unmarshal([]byte(errorsJSON), &b.Errors); err != nil {
		return nil, fmt.Errorf("batch %s has unreadable errors: %w", b.ID, err)
	}
	if !completing(b.Status) {
		b.Metrics = &aepwire.BatchMetrics{
			RecordsRead:    b.RecordCount + b.FailedRecordCount,
			RecordsWritten: b.RecordCount,
			RecordsFailed:  b.FailedRecordCount,
			StartTime:      b.Started,
			EndTime:        b.Completed,
		}
	}
	return b, nil
}

// GetBatch returns a batch, or a 404 error.
func (e *Engine) GetBatch(ctx context.Context, id string) (*aepwire.Batch, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	return e.getBatch(ctx, sb, id)
}

// getBatch reads a batch of sandbox sb: one of another sandbox is not found.
func (e *Engine) getBatch(ctx context.Context, sb, id string) (*aepwire.Batch, error) {
	b, err := e.scanBatch(e.store.DB().QueryRowContext(ctx, `SELECT `+batchColumns+` FROM batches WHERE id = ? AND sandbox = ?`, id, sb))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, batchNotFound(id)
	}
	return b, err
}

// ListBatchesPage returns a page of the sandbox's batches that q's filters keep, read from the
// database a page at a time.
func (e *Engine) ListBatchesPage(ctx context.Context, q aepwire.CatalogQuery) ([]*aepwire.Batch, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	where, args := `sandbox = ?`, []any{sb}
	if q.DatasetID != "" {
		where, args = where+` AND dataset_id = ?`, append(args, q.DatasetID)
	}
	if q.CreatedAfter != 0 {
		where, args = where+` AND created_ms > ?`, append(args, q.CreatedAfter)
	}
	if q.CreatedBefore != 0 {
		where, args = where+` AND created_ms < ?`, append(args, q.CreatedBefore)
	}
	if q.Status != "" {
		where, args = where+` AND status = ?`, append(args, strings.ToLower(q.Status))
	}
	return store.All(ctx, e.store.DB(), e.scanBatch, `SELECT `+batchColumns+` FROM batches WHERE `+where+`
		ORDER BY `+catalogOrderBy(q)+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Start)...)
}

// ListBatches returns the batches of a dataset, newest first.
func (e *Engine) ListBatches(ctx context.Context, datasetID string) ([]*aepwire.Batch, error) {
	return e.ListBatchesPage(ctx, aepwire.CatalogQuery{DatasetID: datasetID, Desc: true, Limit: -1})
}

// DeleteBatch deletes a batch, its files and the records it contributed to the profile store.
func (e *Engine) DeleteBatch(ctx context.Context, id string) error {
	return e.DeleteBatchIf(ctx, id, nil)
}

// DeleteBatchIf is DeleteBatch of a batch whose status fits: fits, when not nil, is given the
// status in the deletion's transaction, and an error from it leaves the batch as it is. (An
// ABORT of a batch being ingested must not delete it once it has succeeded meanwhile.)
func (e *Engine) DeleteBatchIf(ctx context.Context, id string, fits func(status string) error) error {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return err
	}
	var inStore bool // a batch of the profile store
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT profile_kind <> 0 AND status = 'success', status FROM batches WHERE id = ? AND sandbox = ?`,
			id, sb).Scan(&inStore, &status); errors.Is(err, sql.ErrNoRows) {
			return batchNotFound(id)
		} else if err != nil {
			return err
		}
		if fits != nil {
			if err := fits(status); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM batches WHERE id = ? AND sandbox = ?`, id, sb)
		return err
	})
	if err != nil {
		return err
	}
	// The batch is gone once the row is; a crash before the files are removed leaves a directory
	// that the next Open collects. A completion of it in the background stops first, so that it
	// writes nothing into the directory as it goes. What exports kept of the store holds its
	// events: it goes too.
	e.background.halted(id)
	if inStore {
		if err := e.dropKept(sb); err != nil {
			return err
		}
	}
	return os.RemoveAll(e.batchDir(id))
}

// abandonLoadingAfter is how long a batch may stay loading, neither completed nor deleted, before
// an engine that opens the store (or one that keeps tidy, KeepTidy) ends it abandoned and removes
// its uploads: the client that created it stopped (a provider killed mid-ingestion), and nothing
// else will complete it.
const abandonLoadingAfter = 24 * time.Hour

// tidyEvery is how often an engine that keeps tidy looks for batches to abandon.
const tidyEvery = time.Hour

// KeepTidy has the engine, until it is closed, end abandoned every hour the batches left loading
// for longer than abandonLoadingAfter, and remove their uploads, as Open does: for a served
// engine, which runs for longer than that, so that the uploads of clients that went away do not
// pile up. What a look came to is logged when it fails, and told to Hooks.Tidied.
func (e *Engine) KeepTidy() {
	t := e.clock.NewTicker(tidyEvery)
	e.tidy.Add(1)
	go func() {
		defer e.tidy.Done()
		defer t.Stop()
		for {
			select {
			case <-e.closing:
				return
			case <-t.C():
			}
			err := e.tidyOnce(context.Background())
			if err != nil {
				e.log("ending the batches left loading: %v", err)
			}
			if h := e.hooks.Tidied; h != nil {
				h(err)
			}
		}
	}()
}

// tidyOnce ends abandoned the batches left loading for too long, and removes their directories.
func (e *Engine) tidyOnce(ctx context.Context) error {
	ids, err := e.abandonStaleBatches(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := os.RemoveAll(e.batchDir(id)); err != nil {
			return err
		}
	}
	return nil
}

// codeBatchAbandoned is the batch error of an abandoned batch.
const codeBatchAbandoned = "INGEST-1408"

// abandonStaleBatches ends abandoned the ingestion batches left loading, untouched, for longer than
// abandonLoadingAfter, and returns their ids. Their files are removed by collectOrphanBatchDirs,
// which Open runs after it, or by tidyOnce.
func (e *Engine) abandonStaleBatches(ctx context.Context) ([]string, error) {
	const stale = `status = ? AND origin = ? AND updated_ms < ?`
	cutoff := e.nowMs() - abandonLoadingAfter.Milliseconds()
	// Looked for first, so that an Open with nothing to abandon does not take the write lock.
	var found bool
	err := e.store.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM batches WHERE `+stale+`)`,
		aepwire.BatchLoading, originIngest, cutoff).Scan(&found)
	if err != nil || !found {
		return nil, err
	}
	errorsJSON, err := json.Marshal([]aepwire.BatchError{{Code: codeBatchAbandoned, Description: fmt.Sprintf(
		"the batch was left loading for %d hours without an upload or a completion (the client that created it "+
			"stopped): its uploaded files were discarded; ingest them again in a new batch", int(abandonLoadingAfter.Hours()))}})
	if err != nil {
		return nil, err
	}
	var ids []string
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		ids, err = store.QueryStrings(ctx, tx, `UPDATE batches SET status = ?, updated_ms = ?, errors = ? WHERE `+stale+` RETURNING id`,
			aepwire.BatchAbandoned, e.nowMs(), string(errorsJSON), aepwire.BatchLoading, originIngest, cutoff)
		return err
	})
	return ids, err
}

// collectOrphanBatchDirs removes batch directories that no live batch owns (no row, or an abandoned
// one) and no running export job has reserved: what a crash left between deleting a batch (or its
// dataset) and removing its files, what an export job left when it was abandoned, and the uploads
// of abandoned batches. A directory it cannot remove now is left for the next Open.
func (e *Engine) collectOrphanBatchDirs(ctx context.Context) error {
	entries, err := os.ReadDir(filepath.Join(e.dir, batchesDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || len(entries) == 0 {
		return err
	}
	keep := map[string]bool{}
	err = e.store.Read(ctx, func(tx *sql.Tx) error {
		live, err := store.QueryStrings(ctx, tx, `SELECT id FROM batches WHERE status <> ?`, aepwire.BatchAbandoned)
		if err != nil {
			return err
		}
		reserved, err := store.QueryStrings(ctx, tx, `SELECT batch_ids FROM export_jobs WHERE status IN (?, ?)`,
			jobs.New.Wire(), jobs.Processing.Wire())
		if err != nil {
			return err
		}
		for _, ids := range reserved {
			var list []string
			if err := json.Unmarshal([]byte(ids), &list); err != nil {
				return err
			}
			live = append(live, list...)
		}
		for _, id := range live {
			keep[id] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ent := range entries {
		if !keep[ent.Name()] {
			_ = os.RemoveAll(filepath.Join(e.dir, batchesDir, ent.Name()))
		}
	}
	return nil
}

// ListBatchFiles returns the files of a batch in name order, with their local paths. Each file is
// a dataSetFile of its own, with the id {batchId}-{n}.
func (e *Engine) ListBatchFiles(ctx context.Context, batchID string) ([]aepwire.BatchFile, error) {
	if _, err := e.GetBatch(ctx, batchID); err != nil {
		return nil, err
	}
	files, err := store.All(ctx, e.store.DB(), func(row store.Scanner) (f aepwire.BatchFile, err error) {
		err = row.Scan(&f.Name, &f.Size, &f.Records)
		return f, err
	}, `SELECT name, size_bytes, records FROM batch_files WHERE batch_id = ? ORDER BY name`, batchID)
	if err != nil {
		return nil, err
	}
	for i := range files {
		files[i].ID = fmt.Sprintf("%s-%d", batchID, i+1)
		files[i].Location = filepath.Join(e.batchDir(batchID), batchFileDir, files[i].Name)
	}
	if files == nil {
		files = []aepwire.BatchFile{}
	}
	return files, nil
}

// OpenBatchFile opens a file of a batch for reading.
func (e *Engine) OpenBatchFile(ctx context.Context, batchID, name string) (*os.File, error) {
	if err := aepwire.CheckFileName(name); err != nil {
		return nil, err
	}
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := e.getBatch(ctx, sb, batchID); err != nil {
		return nil, err
	}
	var n int
	if err := e.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM batch_files WHERE batch_id = ? AND name = ?`, batchID, name).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, aepwire.Errorf(http.StatusNotFound, codeBatchNotFound, "File not found", "batch %s has no file %q", batchID, name)
	}
	return os.Open(filepath.Join(e.batchDir(batchID), batchFileDir, name))
}
