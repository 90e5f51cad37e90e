package exportengine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/segment"
)

// codeNoFiles is the batch error of a batch completed without files.
const codeNoFiles = "INGEST-1100"

// ingestCheckEvery is how many records ingestion reads between two looks at whether it is to
// stop: its context is looked at rarely enough to cost nothing.
const ingestCheckEvery = 4096

// maxBatchErrors bounds the record errors a batch reports; failedRecordCount counts them all.
const maxBatchErrors = 100

// maxLineBytes bounds one JSON Lines record; a longer line is refused as too large unread.
const maxLineBytes = 64 << 20

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// fileStat describes one file of a batch.
type fileStat struct {
	name    string
	size    int64
	records int64
}

// ingestResult is what validating a batch's files produced.
type ingestResult struct {
	accepted, failed int64
	errors           []aepwire.BatchError
	files            []fileStat
	bytes            int64
	segment          segment.Stats
	hasSegment       bool
	// names are the top-level names of the batch's profile fragments (see record.Names).
	names record.Names
}

func (res *ingestResult) fail(file string, pos int64, code, reason string) {
	res.failed++
	if len(res.errors) < maxBatchErrors {
		res.errors = append(res.errors, aepwire.BatchError{Code: code, Description: reason, Rows: []int64{pos}, File: file})
	}
}

// ingestFiles validates the files of a batch in file-name order. With a segment writer, accepted
// records go to the profile store. It stops with ctx's error when ctx ends.
func ingestFiles(ctx context.Context, dir string, kind record.Kind, seg *segment.Writer) (*ingestResult, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		// Dot files are uploads in progress, or left by one that was interrupted: batch files
		// never start with a dot (see aepwire.CheckFileName).
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)

	res := &ingestResult{}
	var seq, seen uint64
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := fileStat{name: name}
		label := ""
		if len(names) > 1 {
			label = name
		}
		read := func(fn func(pos int64, raw []byte) error) error {
			return readRecords(filepath.Join(dir, name), &st, fn)
		}
		var size int64
		if info, err := os.Stat(filepath.Join(dir, name)); err == nil {
			size = info.Size()
		}
		err := parallelParse(kind, size, read, func(pos int64, r *record.Record, rerr *record.Error) error {
			if seen++; seen%ingestCheckEvery == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if rerr != nil {
				res.fail(label, pos, rerr.Code, rerr.Reason)
				return nil
			}
			res.accepted++
			st.records++
			r.Seq = seq
			seq++
			if seg != nil {
				return seg.Add(r)
			}
			return nil
		}, &res.names)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", name, err)
		}
		res.files = append(res.files, st)
		res.bytes += st.size
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		res.errors = append(res.errors, aepwire.BatchError{Code: codeNoFiles, Description: "the batch has no files"})
	}
	return res, nil
}

// readRecords calls fn for each record of a file: the elements of a JSON array when the whole
// file parses as one (positions are 1-based indexes), otherwise the non-blank lines (positions
// are 1-based line numbers). A leading UTF-8 byte order mark and trailing carriage returns are
// ignored. raw is nil for a line too long to read, and is only valid during the call. It also
// fills in the file's size.
func readRecords(path string, st *fileStat, fn func(pos int64, raw []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	st.size = info.Size()

	head := bufio.NewReaderSize(f, 4096)
	if b, _ := head.Peek(3); bytes.Equal(b, utf8BOM) {
		_, _ = head.Discard(3)
	}
	if first, err := peekNonSpace(head); err == nil && first == '[' {
		isArray, err := isJSONArrayFile(f)
		if err != nil {
			return err
		}
		if isArray {
			err := readArrayRecords(f, fn)
			dropCached(f, 0, st.size)
			return err
		}
	}

	// JSON Lines: one pass. The file is not read again (a batch is completed once), so what is
	// read is dropped from the page cache as it goes.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(&dropBehind{f: f}, sizedBuffer(st.size, 1<<20))
	if b, _ := r.Peek(3); bytes.Equal(b, utf8BOM) {
		_, _ = r.Discard(3)
	}
	return readLineRecords(r, fn)
}

// dropBehind reads a file from its start, and drops what it has read from the page cache (see
// dropCached) every dropBytes, then all of it at its end. A page the kernel is still using when
// it is asked to drop it stays, so every step asks for the step before's too.
type dropBehind struct {
	f                   *os.File
	read, dropped, prev int64
}

const dropBytes = 8 << 20

func (d *dropBehind) Read(p []byte) (int, error) {
	n, err := d.f.Read(p)
	d.read += int64(n)
	switch {
	case err != nil:
		dropCached(d.f, 0, d.read)
	case d.read-d.dropped >= dropBytes:
		dropCached(d.f, d.prev, d.read-d.prev)
		d.prev, d.dropped = d.dropped, d.read
	}
	return n, err
}

// sizedBuffer is the size of a buffer that holds up to limit bytes of a file of size bytes: no
// larger than the file (and a byte to see its end), since a small batch's files are read by a
// provider process that lives for one Terraform command, and the pages it touches first cost it
// a page fault each.
func sizedBuffer(size int64, limit int) int {
	return int(max(min(size+1, int64(limit)), 4096))
}

func peekNonSpace(r *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := r.Peek(n)
		if len(b) < n {
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
		default:
			return c, nil
		}
	}
}

// isJSONArrayFile reports whether the whole file is one JSON array, reading it as a stream.
func isJSONArrayFile(f *os.File) (bool, error) {
	dec, err := arrayDecoder(f)
	if err != nil {
		return false, err
	}
	return decodesToEnd(dec), nil
}

// decodesToEnd reports whether the rest of the decoder's input is array elements, the closing
// bracket, and nothing else. A decoding error only means that the input is not such an array.
func decodesToEnd(dec *json.Decoder) bool {
	for dec.More() {
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return false
	}
	_, err := dec.Token()
	return errors.Is(err, io.EOF)
}

// arrayDecoder positions a decoder inside the file's top-level array.
func arrayDecoder(f *os.File) (*json.Decoder, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	if b, _ := br.Peek(3); bytes.Equal(b, utf8BOM) {
		_, _ = br.Discard(3)
	}
	dec := json.NewDecoder(br)
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("not a JSON array")
	}
	return dec, nil
}

func readArrayRecords(f *os.File, fn func(pos int64, raw []byte) error) error {
	dec, err := arrayDecoder(f)
	if err != nil {
		return err
	}
	var compact bytes.Buffer
	for pos := int64(1); dec.More(); pos++ {
		var elem json.RawMessage
		if err := dec.Decode(&elem); err != nil {
			return err
		}
		compact.Reset()
		if err := json.Compact(&compact, elem); err != nil {
			return err
		}
		if err := fn(pos, compact.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func readLineRecords(r *bufio.Reader, fn func(pos int64, raw []byte) error) error {
	var long []byte
	for line := int64(1); ; line++ {
		b, err := r.ReadSlice('\n')
		tooLong := false
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: gather it, up to the limit.
			long = append(long[:0], b...)
			for errors.Is(err, bufio.ErrBufferFull) {
				b, err = r.ReadSlice('\n')
				if len(long)+len(b) > maxLineBytes {
					tooLong = true
				} else {
					long = append(long, b...)
				}
			}
			b = long
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if len(b) == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		b = bytes.TrimSuffix(b, []byte{'\n'})
		b = bytes.TrimSuffix(b, []byte{'\r'})
		switch {
		case tooLong:
			if ferr := fn(line, nil); ferr != nil {
				return ferr
			}
		case len(bytes.TrimSpace(b)) > 0:
			if ferr := fn(line, b); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}
