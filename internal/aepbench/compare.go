package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// rowKey is a profile's primary identity, as the peer lists them in row order.
type rowKey struct {
	NS string `json:"ns"`
	ID string `json:"id"`
}

func (k rowKey) String() string { return k.NS + ":" + k.ID }

func (k rowKey) less(o rowKey) bool { return k.NS < o.NS || k.NS == o.NS && k.ID < o.ID }

// compareRows checks that the engine's export (JSON Lines at engineRows) and DuckDB's (at
// duckRows) hold the same rows, profile by profile. Both order rows by primary identity, and
// keys lists those identities in that order (it must be strictly increasing: one row a profile).
// Rows compare as canonical JSON (canonicalJSON): members sorted, numbers by value, and null
// members left out, since null counts as absent (DuckDB cannot leave a member out of a struct and
// writes null for it; the engine keeps a null inside a value it takes whole).
func compareRows(engineRows, duckRows, keys string) (int64, error) {
	files := make([]*os.File, 3)
	for i, p := range []string{engineRows, duckRows, keys} {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		files[i] = f
	}
	eng, duck, key := newLines(files[0]), newLines(files[1]), newLines(files[2])
	var n int64
	var diffs []string
	var prev *rowKey
	for {
		e, eok := eng.next()
		d, dok := duck.next()
		k, kok := key.next()
		if !eok && !dok && !kok {
			break
		}
		n++
		if eok != dok || dok != kok {
			return n, fmt.Errorf("row %d: the engine %s, DuckDB %s, and the identities %s", n, ended(eok), ended(dok), ended(kok))
		}
		var id rowKey
		if err := json.Unmarshal(k, &id); err != nil {
			return n, fmt.Errorf("identity of row %d: %w", n, err)
		}
		if prev != nil && !prev.less(id) {
			return n, fmt.Errorf("row %d: identity %s does not come after %s: rows are not one a profile in identity order", n, id, prev)
		}
		prev = &id
		ce, err := canonicalJSON(e)
		if err != nil {
			return n, fmt.Errorf("the engine's row %d (%s): %w", n, id, err)
		}
		cd, err := canonicalJSON(d)
		if err != nil {
			return n, fmt.Errorf("DuckDB's row %d (%s): %w", n, id, err)
		}
		if !bytes.Equal(ce, cd) {
			if len(diffs) < 3 {
				diffs = append(diffs, fmt.Sprintf("  row %d, profile %s:\n    engine %s\n    DuckDB %s", n, id, ce, cd))
			}
			continue
		}
	}
	for _, l := range []*lines{eng, duck, key} {
		if l.err != nil {
			return n, l.err
		}
	}
	if len(diffs) > 0 {
		return n, fmt.Errorf("the engine and DuckDB exported different rows (first %d shown):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	return n, nil
}

func ended(ok bool) string {
	if ok {
		return "has a row"
	}
	return "has ended"
}

// lines reads JSON Lines, skipping blank lines.
type lines struct {
	r   *bufio.Reader
	err error
}

func newLines(r io.Reader) *lines { return &lines{r: bufio.NewReaderSize(r, 1<<20)} }

func (l *lines) next() ([]byte, bool) {
	for l.err == nil {
		line, err := l.r.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			l.err = err
			return nil, false
		}
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			return line, true
		}
		if err != nil {
			return nil, false
		}
	}
	return nil, false
}

// canonicalJSON re-encodes one JSON value: object members sorted by name and those that are null
// left out, numbers in one spelling (integers as integers, others in the shortest form that reads
// back the same), strings quoted one way, literals as they are, array elements (nulls too) in their order.
func canonicalJSON(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("more than one value")
	}
	return appendCanonical(nil, v)
}

func appendCanonical(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case map[string]any:
		names := make([]string, 0, len(v))
		for k, c := range v {
			if c == nil {
				continue
			}
			names = append(names, k)
		}
		sort.Strings(names)
		dst = append(dst, '{')
		for i, k := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = strconv.AppendQuote(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendCanonical(dst, v[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		dst = append(dst, '[')
		for i, c := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonical(dst, c); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return strconv.AppendInt(dst, i, 10), nil
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s: out of range", v)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return strconv.AppendInt(dst, int64(f), 10), nil
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64), nil
	case string:
		return strconv.AppendQuote(dst, v), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case nil:
		return append(dst, "null"...), nil
	}
	return nil, fmt.Errorf("unexpected %T", v)
}

// sameRows checks that two exports of the engine wrote the same bytes, and names the first row
// where they part.
func sameRows(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ra, rb := bufio.NewReaderSize(fa, 1<<20), bufio.NewReaderSize(fb, 1<<20)
	for row := 1; ; row++ {
		la, errA := ra.ReadBytes('\n')
		lb, errB := rb.ReadBytes('\n')
		if !bytes.Equal(la, lb) {
			return fmt.Errorf("row %d differs: %.200q against %.200q", row, la, lb)
		}
		if errA != nil || errB != nil {
			if errors.Is(errA, io.EOF) && errors.Is(errB, io.EOF) {
				return nil
			}
			return errors.Join(errA, errB)
		}
	}
}
