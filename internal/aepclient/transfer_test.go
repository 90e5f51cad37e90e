package aepclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepserver"
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

// A file larger than one upload takes goes through AEP's large-file upload: initialized, sent in
// parts in order, each with the Content-Range of its bytes, and completed. A part whose answer
// is lost is sent again, as is the completion, and the file that lands is the file, byte for
// byte. A JSON array is sent in parts as the JSON Lines a PUT would send.
func TestLargeFilesAreUploadedInParts(t *testing.T) {
	const single, part = 40 << 10, 16 << 10
	ts := newTestServer(t, aepserver.Options{Limits: aepserver.Limits{File: single}})
	c := ts.client(t, func(cfg *Config) { cfg.MaxSingleUpload, cfg.FilePartSize = single, part })
	ctx := context.Background()
	var lines strings.Builder
	for i := 0; lines.Len() <= 100<<10; i++ {
		fmt.Fprintf(&lines, `{"identityMap":{"Email":[{"id":"p%d@example.com"}]}}`+"\n", i)
	}
	records := int64(strings.Count(lines.String(), "\n"))

	t.Run("JSON Lines", func(t *testing.T) {
		ds, b := newBatch(t, c)
		path := importPath + "/batches/" + b.ID + "/datasets/" + ds.ID + "/files/big.json"
		var mu sync.Mutex
		var ranges, actions []string
		var lengths []int64
		ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
			if r.URL.Path != path {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			switch r.Method {
			case http.MethodPatch:
				ranges = append(ranges, r.Header.Get("Content-Range"))
				lengths = append(lengths, r.ContentLength)
				if len(ranges) == 2 {
					return &aepserver.Fault{Lost: true} // the second part is stored, and its answer lost
				}
			case http.MethodPost:
				actions = append(actions, r.URL.Query().Get("action"))
				if len(actions) == 2 {
					return &aepserver.Fault{Lost: true} // the file is completed, and the answer lost
				}
			}
			return nil
		})
		if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "big.json", writeTemp(t, "big.json", lines.String())); err != nil {
			t.Fatalf("upload: %v", err)
		}
		size := int64(lines.Len())
		want := []string{"bytes 0-16383", "bytes 16384-32767", "bytes 16384-32767"}
		for at := int64(2 * part); at < size; at += part {
			want = append(want, fmt.Sprintf("bytes %d-%d", at, min(at+part, size)-1))
		}
		mu.Lock()
		if !slices.Equal(ranges, want) || !slices.Equal(actions, []string{"INITIALIZE", "COMPLETE", "COMPLETE"}) {
			t.Errorf("parts %q and actions %q, want %q and INITIALIZE, COMPLETE twice", ranges, actions, want)
		}
		for i, n := range lengths {
			if first, last, ok := parseRange(want[min(i, len(want)-1)]); !ok || n != last-first+1 {
				t.Errorf("part %d (%s) went with Content-Length %d, want its length", i, want[min(i, len(want)-1)], n)
			}
		}
		mu.Unlock()
		if n := ts.faults.count("PUT", path); n != 0 {
			t.Errorf("%d PUTs of the file, want none", n)
		}
		if done := ts.complete(t, c, b.ID); done.RecordCount != records || done.FailedRecordCount != 0 {
			t.Errorf("the batch holds %d records, %d failed; want %d, none failed", done.RecordCount, done.FailedRecordCount, records)
		}
		files, err := c.ListBatchFiles(ctx, b.ID)
		if err != nil || len(files) != 1 {
			t.Fatalf("files = %+v, %v; want big.json", files, err)
		}
		got, err := c.Download(ctx, files[0].Location)
		if err != nil || string(got) != lines.String() {
			t.Errorf("the file that landed: %d bytes, %v; want the %d bytes sent, as they are", len(got), err, size)
		}
	})

	t.Run("a JSON array", func(t *testing.T) {
		ds, b := newBatch(t, c)
		array := "[\n  " + strings.ReplaceAll(strings.TrimSuffix(lines.String(), "\n"), "\n", ",\n  ") + "\n]\n"
		if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "array.json", writeTemp(t, "array.json", array)); err != nil {
			t.Fatalf("upload: %v", err)
		}
		path := importPath + "/batches/" + b.ID + "/datasets/" + ds.ID + "/files/array.json"
		if n := ts.faults.count("PATCH", path); n < 2 {
			t.Errorf("%d parts, want the file in parts", n)
		}
		if done := ts.complete(t, c, b.ID); done.RecordCount != records || done.FailedRecordCount != 0 {
			t.Errorf("the batch holds %d records, %d failed; want %d, none failed", done.RecordCount, done.FailedRecordCount, records)
		}
	})
}

// parseRange reads "bytes FIRST-LAST".
func parseRange(cr string) (first, last int64, ok bool) {
	_, err := fmt.Sscanf(cr, "bytes %d-%d", &first, &last)
	return first, last, err == nil
}

// A file sent as it is goes with its Content-Length, where one uploadReader changes goes chunked
// (its length is known only once it is sent), as does a body that is not a file.
func TestUploadsOfFilesSentAsTheyAreNameTheirLength(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ctx := context.Background()
	var mu sync.Mutex
	lengths := map[string]int64{}
	ts.faults.addFunc(func(r *http.Request) *aepserver.Fault {
		if r.Method == http.MethodPut {
			mu.Lock()
			lengths[filepath.Base(r.URL.Path)] = r.ContentLength
			mu.Unlock()
		}
		return nil
	})
	line := `{"identityMap":{"Email":[{"id":"a@example.com"}]}}` + "\n"
	ds, b := newBatch(t, c)
	for _, file := range []struct {
		name, content string
		length        int64
	}{
		{"lines.json", line + line, int64(2 * len(line))},
		{"array.json", "[" + strings.TrimSpace(line) + "]", -1},
		{"spaced.json", "\n" + line, -1},
		{"bom.json", "\xEF\xBB\xBF" + line, -1},
	} {
		if err := c.UploadBatchFile(ctx, b.ID, ds.ID, file.name, writeTemp(t, file.name, file.content)); err != nil {
			t.Fatalf("%s: %v", file.name, err)
		}
		mu.Lock()
		got := lengths[file.name]
		mu.Unlock()
		if got != file.length {
			t.Errorf("%s went with Content-Length %d, want %d", file.name, got, file.length)
		}
	}
	if err := c.UploadBatchFile(ctx, b.ID, ds.ID, "reader.json", strings.NewReader(line)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := lengths["reader.json"]; got != -1 {
		t.Errorf("a body that is not a file went with Content-Length %d, want it chunked", got)
	}
	if done := ts.complete(t, c, b.ID); done.RecordCount != 6 || done.FailedRecordCount != 0 {
		t.Errorf("the batch: %d records, %d failed; want 6, none failed", done.RecordCount, done.FailedRecordCount)
	}
}

// writeTemp writes content to a file of the test's, open for reading.
func writeTemp(t *testing.T, name, content string) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// staleStat is a file whose Stat says it holds size bytes: a file written to between the
// upload's look at it and its sending.
type staleStat struct {
	*os.File
	size int64
}

func (s staleStat) Stat() (fs.FileInfo, error) {
	fi, err := s.File.Stat()
	return sizedInfo{fi, s.size}, err
}

type sizedInfo struct {
	fs.FileInfo
	size int64
}

func (i sizedInfo) Size() int64 { return i.size }

// A file that grows or shrinks after the upload has named its length fails the upload, saying
// why, where the transport would name only the lengths.
func TestUploadOfAFileThatChangesSaysSo(t *testing.T) {
	ts := newTestServer(t, aepserver.Options{})
	c := ts.client(t, nil)
	ds, b := newBatch(t, c)
	line := `{"identityMap":{"Email":[{"id":"a@example.com"}]}}` + "\n"
	for _, size := range []int64{10, 1000} {
		f := writeTemp(t, "grown.json", line)
		err := c.UploadBatchFile(context.Background(), b.ID, ds.ID, "grown.json", staleStat{f, size})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("the file changed while it was sent (it held %d bytes when the upload began)", size)) {
			t.Errorf("a file of %d bytes said to hold %d: %v", len(line), size, err)
		}
	}
}
