package fields

import "encoding/binary"

// A row that keeps two members of a record of a dozen still reads the others to skip them. A
// record's member starts, found once when it is stored (AppendMemberStarts), let a row jump from
// one top-level member to the next instead (AppendPlainRowAt).

// MaxMemberStarts is the most top-level members whose starts AppendMemberStarts keeps: an object
// with more has none kept, and its rows read it whole.
const MaxMemberStarts = 64

// AppendMemberStarts appends to dst where the top-level members of the JSON object obj start (the
// opening quote of each name), each as a uvarint: the first from obj's start, each other from the
// one before it. It reports false, with dst as it was, when obj is not an object it can walk, or
// has more than MaxMemberStarts members. It checks only what it needs to walk obj: obj is valid
// JSON.
func AppendMemberStarts(dst, obj []byte) ([]byte, bool) {
	start := len(dst)
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return dst, false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return dst, true
	}
	prev := 0
	for n := 0; ; n++ {
		if n == MaxMemberStarts {
			return dst[:start], false
		}
		dst = binary.AppendUvarint(dst, uint64(i-prev))
		prev = i
		_, _, value, ok := memberAt(obj, i)
		if ok {
			i, ok = skipValue(obj, value)
		}
		var last bool
		if ok {
			i, last, ok = nextMember(obj, i)
		}
		switch {
		case !ok:
			return dst[:start], false
		case last:
			return dst, true
		}
	}
}

// memberStarts reads the starts of an object's members, as AppendMemberStarts gives them, as a
// row comes to them.
type memberStarts struct {
	b    []byte // the starts not yet read
	at   int    // the start read last
	size int    // the object's
	// unique: no member object names a member twice (AppendPlainRowAt).
	unique bool
}

// next is the next member's start, and false at the end of the starts or at one the object cannot
// have: not after the one before it, or past its end. Such starts can only be damaged.
func (m *memberStarts) next() (int, bool) {
	d, k := binary.Uvarint(m.b)
	if k <= 0 || d == 0 || d >= uint64(m.size-m.at) {
		return 0, false
	}
	m.b = m.b[k:]
	m.at += int(d)
	return m.at, true
}
