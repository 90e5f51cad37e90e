package aepclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// pacedLines is an upload of lines records that gives a record a tick, on the system clock: a
// file that takes longer to send than a try may take. It seeks to its start, as a file does.
type pacedLines struct {
	tick  *time.Ticker
	lines int
	left  int
	line  []byte // what is left of the current line
}

func (p *pacedLines) Seek(offset int64, whence int) (int64, error) {
	if offset != 0 || whence != io.SeekStart {
		return 0, errors.New("pacedLines seeks only to its start")
	}
	p.left, p.line = p.lines, nil
	return 0, nil
}

func (p *pacedLines) Read(b []byte) (int, error) {
	if len(p.line) == 0 {
		if p.left == 0 {
			return 0, io.EOF
		}
		<-p.tick.C
		p.left--
		p.line = fmt.Appendf(nil, `{"identityMap":{"Email":[{"id":"p%d@example.com"}]}}`+"\n", p.left)
	}
	n := copy(b, p.line)
	p.line = p.line[n:]
	return n, nil
}

// An upload is bounded by its progress, not by the time a try may take: one slower than that
// goes through while it keeps moving, and one that stops moving fails as a try that times out
// does, and is sent again.
func TestUploadsAreBoundedByTheirProgress(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, func(cfg *Config) { cfg.RequestTimeout = time.Second })
	ctx := context.Background()
	t.Run("slower than a try, moving", func(t *testing.T) {
		ds, b := newBatch(t, c)
		const lines = 40 // two seconds in all
		body := &pacedLines{tick: time.NewTicker(50 * time.Millisecond), lines: lines, left: lines}
		defer body.tick.Stop()
		if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "slow.json", body); err != nil {
			t.Fatal(err)
		}
		if done := ts.complete(t, c, b.ID); done.RecordCount != lines {
			t.Fatalf("the batch: %+v; want its %d records", done, lines)
		}
	})
	t.Run("stalled", func(t *testing.T) {
		ds, b := newBatch(t, c)
		path := importPath + "/batches/" + b.ID + "/datasets/" + ds.ID + "/files/a.json"
		// The server holds the first try for as long as its client waits (its clock stands).
		ts.faults.add("PUT", path, aepserver.Fault{Delay: time.Hour}, 1)
		err := c.UploadBatchFile(ctx, b.ID, ds.ID, "a.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if n := ts.faults.count("PUT", path); n != 2 {
			t.Errorf("%d tries, want 2: the stalled one, then one that went through", n)
		}
	})
}

// onlyReader hides all but Read of what it holds: a body that cannot seek, as a pipe.
type onlyReader struct{ io.Reader }

// A body that cannot seek is read once, by the try that sends it; when a try fails, the upload
// fails saying why it is not sent again.
func TestUploadOfABodyThatCannotSeek(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	const line = `{"identityMap":{"Email":[{"id":"a@example.com"}]}}` + "\n"
	ds, b := newBatch(t, c)
	if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "a.json", onlyReader{strings.NewReader(line)}); err != nil {
		t.Fatalf("an upload that cannot seek, on a first try that goes through: %v", err)
	}
	if done := ts.complete(t, c, b.ID); done.RecordCount != 1 {
		t.Fatalf("the batch: %+v; want its record", done)
	}

	ds, b = newBatch(t, c)
	path := importPath + "/batches/" + b.ID + "/datasets/" + ds.ID + "/files/a.json"
	ts.faults.add("PUT", path, aepserver.Fault{Status: http.StatusServiceUnavailable}, 1)
	err := c.UploadBatchFile(ctx, b.ID, ds.ID, "a.json", onlyReader{strings.NewReader(line)})
	if err == nil || !strings.Contains(err.Error(), "cannot be read again for another try, as it cannot seek") ||
		!strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "%!") {
		t.Errorf("an upload that cannot seek, after a failed try: %v", err)
	}
	if n := ts.faults.count("PUT", path); n != 1 {
		t.Errorf("%d tries, want the one", n)
	}
}

// A file larger than AEP takes in one upload is refused before anything is sent, saying how to
// split it, where AEP would refuse it once 256 MiB of it had gone.
func TestUploadLargerThanAEPTakesIsRefusedBeforeSending(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ds, b := newBatch(t, c)
	f, err := os.Create(filepath.Join(t.TempDir(), "big.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(aepwire.MaxUploadFile + 1); err != nil { // sparse: no disk taken
		t.Fatal(err)
	}
	err = c.UploadBatchFile(context.Background(), b.ID, ds.ID, "big.json", f)
	if err == nil || !strings.Contains(err.Error(), "the file is 268435457 bytes, more than the 268435456 (256 MiB)") ||
		!strings.Contains(err.Error(), "split the records into files of at most 256 MiB") {
		t.Errorf("err = %v, want the file refused for its size, saying how to split it", err)
	}
	if n := ts.faults.count("PUT", importPath+"/batches/"+b.ID+"/datasets/"+ds.ID+"/files/big.json"); n != 0 {
		t.Errorf("%d uploads were sent, want none", n)
	}
}
