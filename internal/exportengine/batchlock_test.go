package exportengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Two completions of one batch at once (a client's retry beside its first try): the second
// waits for the first and finds the batch ended, rather than ingesting the same files into the
// same segment beside it; an upload that meets the completion waits too, and is refused.
func TestCompletionsOfABatchTakeTurns(t *testing.T) {
	ctx := context.Background()
	inRun, release := make(chan struct{}), make(chan struct{})
	waiting := make(chan string, 2)
	var runs atomic.Int32
	e := openEngine(t, Options{DataDir: t.TempDir(), RunBytes: 4096, Hooks: Hooks{
		// The first completion stops after its first run, until released.
		AfterSegmentRun: func() {
			if runs.Add(1) == 1 {
				close(inRun)
				<-release
			}
		},
		WaitForBatch: func(batch string) { waiting <- batch },
	}})
	ds := newDataset(t, e, aepwire.SchemaProfile, true)
	b, err := e.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds})
	if err != nil {
		t.Fatal(err)
	}
	const records = 500
	var sb strings.Builder
	for i := range records {
		fmt.Fprintf(&sb, `{"identityMap":{"Email":[{"id":"p%03d@example.com"}]},"i":%d}`+"\n", i, i)
	}
	if err := e.UploadBatchFile(ctx, b.ID, ds, "records.json", strings.NewReader(sb.String())); err != nil {
		t.Fatal(err)
	}

	type completed struct {
		b   *aepwire.Batch
		err error
	}
	complete := func(into chan<- completed) {
		done, err := e.CompleteBatch(ctx, b.ID)
		into <- completed{done, err}
	}
	first, second := make(chan completed, 1), make(chan completed, 1)
	go complete(first)
	<-inRun
	go complete(second)
	upload := make(chan error, 1)
	go func() {
		upload <- e.UploadBatchFile(ctx, b.ID, ds, "late.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"late@example.com"}]}}`+"\n"))
	}()
	for range 2 {
		select {
		case got := <-waiting:
			if got != b.ID {
				t.Fatalf("waited for batch %s, want %s", got, b.ID)
			}
		case c := <-second:
			t.Fatalf("the second completion ended while the first was under way: %+v, %v", c.b, c.err)
		case err := <-upload:
			t.Fatalf("the upload ended while the batch was being completed: %v", err)
		}
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("%d runs written while the first completion was held after its first, want 1", n)
	}
	close(release)

	for name, ch := range map[string]chan completed{"first": first, "second": second} {
		c := <-ch
		if c.err != nil || c.b.Status != aepwire.BatchSuccess || c.b.RecordCount != records {
			t.Errorf("the %s completion: %+v, %v; want success with %d records", name, c.b, c.err, records)
		}
	}
	if err := <-upload; err == nil || !strings.Contains(err.Error(), "files can only be added while it is loading") {
		t.Errorf("the upload during the completion: %v; want it refused, the batch no longer loading", err)
	}
	if got := storeContents(t, e); len(got) != records {
		t.Errorf("the profile store holds %d records, want the batch's %d", len(got), records)
	}
	if _, err := os.Stat(filepath.Join(e.batchDir(b.ID), batchFileDir, "late.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused upload is among the batch's files (%v)", err)
	}
}
