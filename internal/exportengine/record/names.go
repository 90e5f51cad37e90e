package record

import (
	"bytes"
	"slices"

	"github.com/valyala/fastjson"
)

// A batch's records are free-form objects, but a batch's records tend to have the same few
// top-level names, as the rows of a table have the same columns. Names keeps them while a batch
// is validated, so that an export knows, before reading a record of the batch, which of the names
// it selects the record can have: once it has met those, the rest of the record holds nothing it
// selects, and it stops reading there.

// Names also tells whether any member object of a batch's records (an object that is the value of
// a top-level member, such as personalEmail) has a name twice. When none does, an export that has
// read what it selects of a member object goes on from the next top-level member without reading
// the object's rest (fields.Selector.AppendPlainRowAt).

// MaxNames is the most distinct top-level names a batch's Names keeps; a batch with more has
// none kept.
const MaxNames = 256

// Names collects the top-level names of the records of a batch. The zero value is empty. It is
// not safe for concurrent use: each parser has its own, and Merge gathers them.
type Names struct {
	index map[string]int // name → its place in last
	// last is, for each name, the number of the last record that had it (counting from 1), so
	// that a record that has a name twice is seen without a set of its own.
	last    []int64
	records int64
	// unknown: some record repeated a name, or there were more than MaxNames: nothing is kept.
	unknown bool
	// repeatedBelow: a member object of some record had a name twice.
	repeatedBelow bool
	// notAsIs: some record, merged alone, was not its own whole row, or could not be told to be
	// (it was read the other way: Add).
	notAsIs bool
}

// Add adds the top-level names of an object: what fastjson made of a record that validation
// accepted, and notes a name repeated in one of its member objects. Names are compared
// unescaped, as fastjson gives them.
func (n *Names) Add(v *fastjson.Value) {
	if n.unknown {
		return
	}
	o, err := v.Object()
	if err != nil || !n.begin() {
		return
	}
	n.notAsIs = true
	o.Visit(func(key []byte, v *fastjson.Value) {
		n.add(key)
		if n.checksBelow() && repeatsIn(v) {
			n.repeatedBelow = true
		}
	})
}

// checksBelow reports whether a record's member objects are still to be checked for repeated
// names: not once a record had one, nor when nothing is kept.
func (n *Names) checksBelow() bool { return !n.unknown && !n.repeatedBelow }

// repeatBelow notes a record that has a name twice in a member object.
func (n *Names) repeatBelow() { n.repeatedBelow = true }

// Unique reports whether the records added had each name once at the top level and in each
// member object (the value of a top-level member, when an object), and their top-level names are
// known (List). Objects deeper down may repeat a name: a row reads those to their end.
func (n *Names) Unique() bool { return !n.unknown && !n.repeatedBelow }

// AsIs reports whether every record added, merged alone, is its own whole row, as ingestion's scan
// tells it (fields.CopiesAsIs), and their top-level names are known (List): an export copies
// them into whole rows without reading them.
func (n *Names) AsIs() bool { return !n.unknown && !n.notAsIs }

// repeatsIn reports whether v, the value of a top-level member, is an object that has a name
// twice. Keys are compared as fastjson gives them, unescaped.
func repeatsIn(v *fastjson.Value) bool {
	o, err := v.Object()
	if err != nil {
		return false
	}
	var keys [][]byte
	o.Visit(func(key []byte, _ *fastjson.Value) { keys = append(keys, key) })
	return hasRepeat(keys)
}

// hasRepeat reports whether two of names are the same: for a few, each against those before it;
// for more, in byte order, into which it sorts them.
func hasRepeat(names [][]byte) bool {
	if len(names) <= 16 {
		for i := 1; i < len(names); i++ {
			for _, prev := range names[:i] {
				if bytes.Equal(names[i], prev) {
					return true
				}
			}
		}
		return false
	}
	slices.SortFunc(names, bytes.Compare)
	for i := 1; i < len(names); i++ {
		if bytes.Equal(names[i], names[i-1]) {
			return true
		}
	}
	return false
}

// begin starts a record, whose names add then adds; false when nothing is kept.
func (n *Names) begin() bool {
	if n.unknown {
		return false
	}
	if n.index == nil {
		n.index = map[string]int{}
	}
	n.records++
	return true
}

// add adds a top-level name of the record begun.
func (n *Names) add(key []byte) {
	if n.unknown {
		return
	}
	i, ok := n.index[string(key)]
	switch {
	case ok && n.last[i] == n.records:
		n.forget() // a name twice in one record
	case ok:
		n.last[i] = n.records
	case len(n.last) == MaxNames:
		n.forget()
	default:
		n.index[string(key)] = len(n.last)
		n.last = append(n.last, n.records)
	}
}

func (n *Names) forget() {
	n.unknown, n.index, n.last = true, nil, nil
}

// Merge adds what o collected.
func (n *Names) Merge(o *Names) {
	n.repeatedBelow = n.repeatedBelow || o.repeatedBelow
	n.notAsIs = n.notAsIs || o.notAsIs
	if n.unknown {
		return
	}
	if o.unknown {
		n.forget()
		return
	}
	if n.index == nil {
		n.index = map[string]int{}
	}
	for name := range o.index {
		if _, ok := n.index[name]; ok {
			continue
		}
		if len(n.last) == MaxNames {
			n.forget()
			return
		}
		n.index[name] = len(n.last)
		n.last = append(n.last, 0)
	}
}

// List returns the names in byte order, and whether they are known: false when some record had a
// name twice or the records had more than MaxNames, which tells an export nothing.
func (n *Names) List() ([]string, bool) {
	if n.unknown {
		return nil, false
	}
	out := make([]string, 0, len(n.index))
	for name := range n.index {
		out = append(out, name)
	}
	slices.Sort(out)
	return out, true
}
