package exportengine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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
