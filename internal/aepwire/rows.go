package aepwire

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxExpandedRows bounds the rows one error holds once its ranges are expanded: Catalog may name
// a range of millions of rows ("1-5000000"), and only the first ones are ever shown.
const maxExpandedRows = 1000

// Rows are the 1-based rows of a batch error. Catalog sends them as strings, each a row ("3") or
// a range ("3-5"); they decode into the rows they name (at most maxExpandedRows) and encode as
// Catalog does, runs of consecutive rows as ranges. Numbers, as older engines sent, decode too.
type Rows []int64

// UnmarshalJSON accepts ["3","5-7"], [3,5] and null.
func (r *Rows) UnmarshalJSON(b []byte) error {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("rows: %w", err)
	}
	out := Rows{}
	for _, item := range items {
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			s = string(item) // a number
		}
		from, to, err := parseRowRange(s)
		if err != nil {
			return err
		}
		for n := from; n <= to && len(out) < maxExpandedRows; n++ {
			out = append(out, n)
		}
	}
	if items == nil {
		out = nil
	}
	*r = out
	return nil
}

func parseRowRange(s string) (from, to int64, err error) {
	a, b, isRange := strings.Cut(strings.TrimSpace(s), "-")
	from, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	to, err2 := from, error(nil)
	if isRange {
		to, err2 = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	}
	if err1 != nil || err2 != nil || from < 0 || to < from {
		return 0, 0, fmt.Errorf("rows: %q is not a row or a range of rows such as \"3\" or \"3-5\"", s)
	}
	return from, to, nil
}

// MarshalJSON writes the rows as Catalog's strings, consecutive rows as one range.
func (r Rows) MarshalJSON() ([]byte, error) {
	if r == nil {
		return []byte("null"), nil
	}
	out := make([]string, 0, len(r))
	for i := 0; i < len(r); {
		j := i
		for j+1 < len(r) && r[j+1] == r[j]+1 {
			j++
		}
		if j == i {
			out = append(out, strconv.FormatInt(r[i], 10))
		} else {
			out = append(out, strconv.FormatInt(r[i], 10)+"-"+strconv.FormatInt(r[j], 10))
		}
		i = j + 1
	}
	return json.Marshal(out)
}
