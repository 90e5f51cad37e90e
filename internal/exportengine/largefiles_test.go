package exportengine

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// A large file keeps the parts it was answered for across a restart, and only those: what a part
// left unanswered by a crash wrote past them is not the file's, and a part whose body held less
// than it named leaves the file as it was. The file in progress, and the file it becomes, are
// private to the engine's user.
func TestLargeFileKeepsItsAnsweredPartsAcrossARestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ds := newDataset(t, e, aepwire.SchemaProfile, false)
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	one := `{"identityMap":{"Email":[{"id":"a@x.io"}]}}` + "\n"
	two := `{"identityMap":{"Email":[{"id":"b@x.io"}]}}` + "\n"
	if err := e.InitLargeFile(ctx, b.ID, ds, "big.json"); err != nil {
		t.Fatal(err)
	}
	if got, err := e.WriteLargeFilePart(ctx, b.ID, ds, "big.json", 0, int64(len(one)), strings.NewReader(one)); err != nil || got != int64(len(one)) {
		t.Fatalf("the first part: received %d, %v", got, err)
	}
	_, err = e.WriteLargeFilePart(ctx, b.ID, ds, "big.json", int64(len(one)), int64(len(two)), strings.NewReader(two[:10]))
	if err == nil || !strings.Contains(err.Error(), "names 44 bytes, and its body held 10") {
		t.Errorf("a part whose body held less than it named: %v", err)
	}
	// A crash in the middle of a part left bytes past the answered ones, more than the next part.
	files := filepath.Join(dir, batchesDir, b.ID, batchFileDir)
	parts, _ := filepath.Glob(filepath.Join(files, largeFileMark+"*"))
	if len(parts) != 1 {
		t.Fatalf("the large file in progress: %q, want one file", parts)
	}
	if fi, err := os.Stat(parts[0]); err != nil || fi.Mode().Perm() != privateFile {
		t.Errorf("the large file in progress: %v, %v; want mode %v", fi.Mode(), err, privateFile)
	}
	f, err := os.OpenFile(parts[0], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Repeat("#", 100)); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e = openEngine(t, Options{DataDir: dir})
	if got, err := e.LargeFileReceived(ctx, b.ID, ds, "big.json"); err != nil || got != int64(len(one)) {
		t.Fatalf("after the restart the file has received %d, %v; want the first part's %d", got, err, len(one))
	}
	if got, err := e.WriteLargeFilePart(ctx, b.ID, ds, "big.json", int64(len(one)), int64(len(two)), strings.NewReader(two)); err != nil || got != int64(len(one)+len(two)) {
		t.Fatalf("the second part: received %d, %v", got, err)
	}
	if size, err := e.CompleteLargeFile(ctx, b.ID, ds, "big.json"); err != nil || size != int64(len(one)+len(two)) {
		t.Fatalf("completing: %d bytes, %v", size, err)
	}
	got, err := os.ReadFile(filepath.Join(files, "big.json"))
	if err != nil || string(got) != one+two {
		t.Errorf("the completed file holds %q, %v; want the two parts alone", got, err)
	}
	if fi, err := os.Stat(filepath.Join(files, "big.json")); err != nil || fi.Mode().Perm() != privateFile {
		t.Errorf("the completed file: %v, %v; want mode %v", fi.Mode(), err, privateFile)
	}
	done, err := e.CompleteBatch(ctx, b.ID)
	if err != nil || done.RecordCount != 2 || done.FailedRecordCount != 0 {
		t.Errorf("the batch: %+v, %v; want its 2 records", done, err)
	}
}

// largeBatch makes an engine with opts, a profile dataset and a loading batch.
func largeBatch(t *testing.T, opts Options) (e *Engine, ds, batch string) {
	t.Helper()
	opts.DataDir = t.TempDir()
	e = openEngine(t, opts)
	ds = newDataset(t, e, aepwire.SchemaProfile, false)
	b, err := e.CreateBatch(context.Background(), aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	return e, ds, b.ID
}

const (
	lineA = `{"identityMap":{"Email":[{"id":"a@x.io"}]}}` + "\n" // 44 bytes
	lineB = `{"identityMap":{"Email":[{"id":"b@x.io"}]}}` + "\n"
)

// What a large file has received is never written again: a part sent again must hold the bytes
// it held where it overlaps them, and one refused (for those bytes, or for holding fewer than it
// names) leaves them as they were; a part that overlaps them and goes past adds what is past.
func TestLargeFilePartSentAgainKeepsWhatWasReceived(t *testing.T) {
	e, ds, b := largeBatch(t, Options{})
	ctx := context.Background()
	if err := e.InitLargeFile(ctx, b, ds, "big.json"); err != nil {
		t.Fatal(err)
	}
	part := func(start int64, length int, body string) (int64, error) {
		return e.WriteLargeFilePart(ctx, b, ds, "big.json", start, int64(length), strings.NewReader(body))
	}
	if _, err := part(0, 44, lineA); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, says string }{
		{"XXXXXXXXXX", "names more bytes than its body held"},
		{lineB, "bytes 0-43 of the part differ from those the file received before"},
	} {
		if _, err := part(0, 44, tc.body); aepwire.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("bytes 0-43 sent again as %q: %v; want a 400 that says %q", tc.body, err, tc.says)
		}
	}
	if got, err := part(0, 44, lineA); err != nil || got != 44 {
		t.Errorf("bytes 0-43 sent again as they were: %d, %v", got, err)
	}
	if got, err := part(0, 88, lineA+lineB); err != nil || got != 88 {
		t.Errorf("bytes 0-87, past what was received: %d, %v", got, err)
	}
	if size, err := e.CompleteLargeFile(ctx, b, ds, "big.json"); err != nil || size != 88 {
		t.Fatalf("completing: %d, %v", size, err)
	}
	got, err := os.ReadFile(filepath.Join(e.batchDir(b), batchFileDir, "big.json"))
	if err != nil || string(got) != lineA+lineB {
		t.Errorf("the file holds %q, %v; want the two lines", got, err)
	}
}

// A stored file and the large file of the same name in progress are both on disk until the large
// file is completed, and count against the batch together.
func TestLargeFileAndAStoredFileOfItsNameCountTogether(t *testing.T) {
	e, ds, b := largeBatch(t, Options{MaxBatchBytes: 100})
	ctx := context.Background()
	if err := e.InitLargeFile(ctx, b, ds, "a.json"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.WriteLargeFilePart(ctx, b, ds, "a.json", 0, 88, strings.NewReader(lineA+lineB)); err != nil {
		t.Fatal(err)
	}
	err := e.UploadBatchFile(ctx, b, ds, "a.json", strings.NewReader(lineA))
	refusedFor(t, "a PUT of a.json beside its large file of 88 bytes", err, http.StatusRequestEntityTooLarge, "more than 100 bytes of files")

	if err := e.InitLargeFile(ctx, b, ds, "a.json"); err != nil { // begins again, empty
		t.Fatal(err)
	}
	if err := e.UploadBatchFile(ctx, b, ds, "a.json", strings.NewReader(lineA)); err != nil {
		t.Fatal(err)
	}
	_, err = e.WriteLargeFilePart(ctx, b, ds, "a.json", 0, 88, strings.NewReader(lineA+lineB))
	refusedFor(t, "88 bytes of a.json's large file beside its stored 44", err, http.StatusRequestEntityTooLarge, "more than 100 bytes of files")
	if got, err := e.CompleteLargeFile(ctx, b, ds, "a.json"); err != nil || got != 0 {
		t.Errorf("completing the empty large file: %d, %v; want the empty file in a.json's place", got, err)
	}
}

// heldReader is a part's body that lets its reader in once released, saying when it is read.
type heldReader struct {
	reading, release chan struct{}
	r                io.Reader
	once             sync.Once
}

func newHeldReader(body string) *heldReader {
	return &heldReader{reading: make(chan struct{}), release: make(chan struct{}), r: strings.NewReader(body)}
}

func (h *heldReader) Read(p []byte) (int, error) {
	h.once.Do(func() {
		close(h.reading)
		<-h.release
	})
	return h.r.Read(p)
}

// heldPart sends body as the part of name from byte 0, held once it begins reading it: it
// returns when the part is being read, with its release and where its outcome arrives.
func heldPart(e *Engine, ds, batch, name, body string) (release chan struct{}, outcome <-chan error) {
	held := newHeldReader(body)
	out := make(chan error, 1)
	go func() {
		_, err := e.WriteLargeFilePart(context.Background(), batch, ds, name, 0, int64(len(body)), held)
		out <- err
	}()
	<-held.reading
	return held.release, out
}

// Of two parts at once, of two large files, that fit the batch alone but not together, the one
// that ends second is refused, counted again when it is made the file's: the batch never holds
// more than its limit.
func TestLargeFilePartsAtOnceStayWithinTheBatch(t *testing.T) {
	e, ds, b := largeBatch(t, Options{MaxBatchBytes: 100})
	ctx := context.Background()
	for _, name := range []string{"a.json", "b.json"} {
		if err := e.InitLargeFile(ctx, b, ds, name); err != nil {
			t.Fatal(err)
		}
	}
	release, done := heldPart(e, ds, b, "a.json", lineA+lineB) // past its first count
	if _, err := e.WriteLargeFilePart(ctx, b, ds, "b.json", 0, 88, strings.NewReader(lineA+lineB)); err != nil {
		t.Fatal(err)
	}
	close(release)
	refusedFor(t, "a.json's part, ended after b.json's", <-done, http.StatusRequestEntityTooLarge, "more than 100 bytes of files")
	used, err := batchUsage(filepath.Join(e.batchDir(b), batchFileDir), "", "")
	if err != nil || used.bytes != 88 {
		t.Errorf("the batch counts %d bytes, %v; want b.json's 88", used.bytes, err)
	}
}

// A large file met by its batch's completion is refused as any upload into a batch no longer
// loading is, and leaves nothing in the completed batch: its INITIALIZE, and its part.
func TestLargeFileMeetsItsBatchCompleted(t *testing.T) {
	e, ds, b := largeBatch(t, Options{})
	ctx := context.Background()
	if err := e.UploadBatchFile(ctx, b, ds, "a.json", strings.NewReader(lineA)); err != nil {
		t.Fatal(err)
	}
	if err := e.InitLargeFile(ctx, b, ds, "part.json"); err != nil {
		t.Fatal(err)
	}
	release, parted := heldPart(e, ds, b, "part.json", lineB)
	// An INITIALIZE that has passed its first look at the batch, and waits for another call
	// of its file to end.
	unlock := e.largeLocks.lock(b, "init.json")
	inited := make(chan error, 1)
	go func() { inited <- e.InitLargeFile(ctx, b, ds, "init.json") }()
	for waiting := false; !waiting; runtime.Gosched() {
		e.largeLocks.mu.Lock()
		waiting = e.largeLocks.held[b+"/init.json"].users == 2
		e.largeLocks.mu.Unlock()
	}
	if done, err := e.CompleteBatch(ctx, b); err != nil || done.Status != aepwire.BatchSuccess {
		t.Fatalf("the batch: %+v, %v", done, err)
	}
	close(release)
	unlock()
	for what, err := range map[string]error{"the part": <-parted, "the INITIALIZE": <-inited} {
		refusedFor(t, what+" met by the completion", err, http.StatusBadRequest, "files can only be added while it is loading")
	}
	left, err := filepath.Glob(filepath.Join(e.batchDir(b), batchFileDir, ".*"))
	if err != nil || len(left) != 0 {
		t.Errorf("the completed batch keeps %q, %v", left, err)
	}
}

// A part met by its batch's abort (its deletion) is answered as a call on a batch not found.
func TestLargeFilePartMeetsItsBatchAborted(t *testing.T) {
	e, ds, b := largeBatch(t, Options{})
	ctx := context.Background()
	if err := e.InitLargeFile(ctx, b, ds, "part.json"); err != nil {
		t.Fatal(err)
	}
	release, parted := heldPart(e, ds, b, "part.json", lineA)
	if err := e.DeleteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-parted; !aepwire.IsNotFound(err) {
		t.Errorf("the part met by the abort: %v; want the 404 of a batch not found", err)
	}
}
