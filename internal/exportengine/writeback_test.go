package exportengine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// An export whose rows the disk fails to write back fails, saying so, and leaves nothing of its
// batch; the next export of the same store succeeds.
func TestExportFailsWhenItsRowsAreNotWrittenBack(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true})
	dir := t.TempDir()
	if _, err := sampledata.Generate(dir, sampledata.Options{Seed: 3, People: 300}); err != nil {
		t.Fatal(err)
	}
	ingest(t, env.e, env.crm, filepath.Join(dir, sampledata.CRMFile))
	export := func() *aepwire.ExportJob {
		t.Helper()
		j, err := env.e.CreateExportJob(context.Background(), env.request(), "")
		if err != nil {
			t.Fatal(err)
		}
		return wait(t, env.e, j.ID)
	}

	env.e.writtenBack = func(f *os.File, off, n int64) error {
		if n > 0 {
			return &os.PathError{Op: "sync_file_range", Path: f.Name(), Err: syscall.EIO}
		}
		return nil
	}
	j := export()
	if j.Status != aepwire.JobFailed || !strings.Contains(fmt.Sprint(j.Errors), syscall.EIO.Error()) {
		t.Fatalf("rows not written back: job ended %s: %+v; want it failed on the write-back's error", j.Status, j.Errors)
	}
	if j.Destination.BatchID == "" {
		t.Fatal("the failed job names no batch")
	}
	if _, err := os.Stat(env.e.batchDir(j.Destination.BatchID)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the failed job's batch directory: %v; want it removed", err)
	}

	env.e.writtenBack = dropWrittenBack
	if j := export(); j.Status != aepwire.JobSucceeded {
		t.Fatalf("rows written back: job ended %s: %+v", j.Status, j.Errors)
	}
}
