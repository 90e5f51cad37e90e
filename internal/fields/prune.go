package fields

import (
	"encoding/binary"
	"maps"
	"math/bits"
	"slices"
)

// Reading a record whole to project a few of its names wastes most of the work on values that no
// projection keeps: AppendPruned cuts a record down to what a selector may keep before anything
// parses it, skipping the rest as bytes, without building values.

// AppendPruned appends the JSON object obj with only the members that s selects, and reports
// whether obj was an object it could read. Below a selected name it prunes objects the same way;
// arrays, scalars, and the values of names written with escapes, it keeps whole. Members keep
// their order and their bytes, repeated names included, so that projecting the pruned object
// gives what projecting obj gives, and so does merging pruned objects key by key. On false, dst
// is returned as it was: the caller reads obj whole, and meets whatever is wrong with it there.
func (s *Selector) AppendPruned(dst, obj []byte) ([]byte, bool) {
	if s == nil || s.all {
		return append(dst, obj...), true
	}
	return s.appendPruned(dst, obj, -1)
}

// AppendPrunedUntil is AppendPruned for an object obj that is valid JSON and repeats no top-level
// name, where selected is CountAmong of a list that holds every top-level name of obj: once it
// has met selected of s's names (written without escapes), it takes the rest of obj as read. A
// negative selected reads obj whole.
func (s *Selector) AppendPrunedUntil(dst, obj []byte, selected int) ([]byte, bool) {
	if s == nil || s.all {
		return append(dst, obj...), true
	}
	return s.appendPruned(dst, obj, selected)
}

func (s *Selector) appendPruned(dst, obj []byte, selected int) ([]byte, bool) {
	start := len(dst)
	i := skipSpace(obj, 0)
	dst, i, ok := s.appendPrunedObject(dst, obj, i, selected)
	if !ok || skipSpace(obj, i) != len(obj) {
		return dst[:start], false
	}
	return dst, true
}

// CountAmong is how many of s's top-level names are among names, which is sorted: what a record
// whose top-level names are among names can have of them, for AppendPrunedUntil and
// AppendPlainRowUntil. It is -1 for a selector that selects everything.
func (s *Selector) CountAmong(names []string) int {
	if s == nil || s.all {
		return -1
	}
	n := 0
	for _, k := range s.kids {
		if _, ok := slices.BinarySearch(names, k.name); ok {
			n++
		}
	}
	return n
}

// objectEnd is where the valid JSON object b ends: past its closing brace, before the spaces
// after it.
func objectEnd(b []byte) (int, bool) {
	end := len(b)
	for end > 0 && (b[end-1] == ' ' || b[end-1] == '\n' || b[end-1] == '\t' || b[end-1] == '\r') {
		end--
	}
	return end, end > 0 && b[end-1] == '}'
}

// appendPrunedObject prunes the object at b[i], which must start with '{', and returns where it
// ends. With stop >= 0, b is a valid JSON object that has no more than stop of s's names, none
// twice: once that many are met, the object's end is b's.
func (s *Selector) appendPrunedObject(dst, b []byte, i int, stop int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '{' {
		return dst, i, false
	}
	dst = append(dst, '{')
	first := true
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return append(dst, '}'), i + 1, true
	}
	met := 0 // selected names met, written without escapes
	for {
		if stop >= 0 && met >= stop {
			end, ok := objectEnd(b)
			if !ok {
				return dst, end, false
			}
			return append(dst, '}'), end, true
		}
		keyStart := i
		end, escaped, value, ok := memberAt(b, i)
		if !ok {
			return dst, i, false
		}
		key := b[keyStart+1 : end-1]
		i = value
		// A name written with escapes is compared by no one here: its value is kept whole, which
		// projection then keeps or drops as it would.
		var child *Selector
		keep := escaped
		if !escaped {
			var k int
			if k, keep = s.lookupBytes(key); keep {
				child = s.kids[k].sel
				met++
			}
		}
		switch {
		case !keep:
			if i, ok = skipValue(b, i); !ok {
				return dst, i, false
			}
		default:
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, b[keyStart:end]...)
			dst = append(dst, ':')
			if child != nil && !child.all && i < len(b) && b[i] == '{' {
				if dst, i, ok = child.appendPrunedObject(dst, b, i, -1); !ok {
					return dst, i, false
				}
				break
			}
			valueStart := i
			if i, ok = skipValue(b, i); !ok {
				return dst, i, false
			}
			dst = append(dst, b[valueStart:i]...)
		}
		var last bool
		if i, last, ok = nextMember(b, i); !ok {
			return dst, i, false
		}
		if last {
			return append(dst, '}'), i, true
		}
	}
}

// memberAt reads the name of the member at b[i] and the colon after it: where the name's string
// ends, whether it has escapes, and where the member's value starts.
func memberAt(b []byte, i int) (end int, escaped bool, value int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false, i, false
	}
	if end, escaped, ok = skipString(b, i); !ok {
		return i, false, i, false
	}
	j := skipSpace(b, end)
	if j >= len(b) || b[j] != ':' {
		return i, false, j, false
	}
	return end, escaped, skipSpace(b, j+1), true
}

// nextMember moves past the ',' or the '}' after a member's value, and reports which it was.
func nextMember(b []byte, i int) (next int, last, ok bool) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, false, false
	}
	switch b[i] {
	case ',':
		return skipSpace(b, i+1), false, true
	case '}':
		return i + 1, true, true
	}
	return i, false, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns where the string at b[i] (at its opening quote) ends, past its closing
// quote, and whether it holds escapes. Strings of records are short, too short for searching to
// pay for starting: it reads eight bytes a step (quoteOrBackslash), and a byte a step at the end.
func skipString(b []byte, i int) (end int, escaped, ok bool) {
	for i++; i < len(b); i++ {
		if i+8 <= len(b) {
			m := quoteOrBackslash(binary.LittleEndian.Uint64(b[i:]))
			if m == 0 {
				i += 7
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		} else if class[b[i]]&inString == 0 {
			continue
		}
		if b[i] == '"' {
			return i + 1, escaped, true
		}
		escaped = true
		i++ // the escaped byte; \uXXXX's digits are no quotes
	}
	return len(b), escaped, false
}

// quoteOrBackslash has the high bit set of the first byte of w (in little-endian order) that is
// a quote or a backslash, and of no byte before it; 0 when no byte is either. Bytes after the
// first may be marked wrongly (a borrow runs up from it), so only the lowest mark counts.
func quoteOrBackslash(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q := w ^ ('"' * ones)
	s := w ^ ('\\' * ones)
	return ((q-ones)&^q | (s-ones)&^s) & highs
}

// The bytes that skipping a value stops at.
const (
	inString  = 1 // a quote or a backslash
	structure = 2 // a quote or a bracket
)

var class = func() (t [256]uint8) {
	t['"'] = inString | structure
	t['\\'] = inString
	for _, c := range "{}[]" {
		t[c] = structure
	}
	return t
}()

// skipValue returns where the value at b[i] ends. It checks no more than it needs to find the
// end: the value is read whole later, or dropped.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		end, _, ok := skipString(b, i)
		return end, ok
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			if class[b[i]]&structure == 0 {
				continue
			}
			switch b[i] {
			case '"':
				end, _, ok := skipString(b, i)
				if !ok {
					return end, false
				}
				i = end - 1
			case '{', '[':
				depth++
			default:
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return i, false
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\n', '\t', '\r':
			return i, i > start
		}
		i++
	}
	return i, i > start
}

// With returns a selector that selects what s selects and name whole. It changes neither s nor
// any selector s shares.
func (s *Selector) With(name string) *Selector {
	if s == nil || s.all {
		return s
	}
	out := s.clone()
	if i, ok := out.lookup(name); ok {
		out.kids[i].sel = whole
		return out
	}
	out.add(name, whole)
	return out
}

// WholeBelow returns a selector that selects what s selects, except that below name it selects
// whole every value depth names down: with depth 1, name.a.b selects name.a whole. It changes
// neither s nor any selector s shares.
func (s *Selector) WholeBelow(name string, depth int) *Selector {
	if s == nil || s.all {
		return s
	}
	i, ok := s.lookup(name)
	if !ok {
		return s
	}
	out := s.clone()
	out.kids[i].sel = out.kids[i].sel.cut(depth)
	return out
}

// cut is s with everything depth names down selected whole.
func (s *Selector) cut(depth int) *Selector {
	if s.all {
		return s
	}
	if depth == 0 {
		return whole
	}
	out := s.clone()
	for i := range out.kids {
		out.kids[i].sel = out.kids[i].sel.cut(depth - 1)
	}
	return out
}

func (s *Selector) clone() *Selector {
	out := &Selector{all: s.all, kids: append([]child(nil), s.kids...), members: s.members}
	if s.index != nil {
		out.index = maps.Clone(s.index)
	}
	return out
}

// add selects a new name below s.
func (s *Selector) add(name string, sel *Selector) {
	s.kids = append(s.kids, child{name, sel})
	i := len(s.kids) - 1
	switch {
	case s.index != nil:
		s.index[name] = i
	case len(s.kids) > indexAbove:
		s.index = make(map[string]int, 2*len(s.kids))
		for j, k := range s.kids {
			s.index[k.name] = j
		}
	}
}
