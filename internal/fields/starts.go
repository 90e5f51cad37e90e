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

// A profile fragment is as is when, merged alone, it is its own whole row: the plain row of a
// whole selector that WithMergedMembers(AsIsIdentityMap, AsIsSegmentMembership) made,
// WithoutMember(AsIsWithout) or not, is the fragment's bytes as they are (CopiesAsIs). Ingestion
// tells which fragments are in its one pass over each (the record package's scan), and an export
// copies the fragments of a batch whose fragments all are, without reading them.

// The names a fragment is as is for: a merge's identity map and segment memberships, and the
// member a row's own event list replaces.
const (
	AsIsIdentityMap       = "identityMap"
	AsIsSegmentMembership = "segmentMembership"
	AsIsWithout           = "eventList"
)

// MaxAsIsMembers is the most members any object of a fragment that is as is may have: a plain row
// looks for a name twice only among so many.
const MaxAsIsMembers = maxPlainMembers

// AsIsName reports whether a name may be in a fragment that is as is: a plain row keeps names of
// printable ASCII only.
func AsIsName(name []byte) bool { return plainName(name) }

// CopiesAsIs reports whether s's plain row of a fragment that is as is is the fragment's bytes.
func (s *Selector) CopiesAsIs() bool {
	if s == nil || !s.all {
		return false
	}
	pm := s.plainMembers()
	return pm.identityMap == AsIsIdentityMap && pm.segmentMembership == AsIsSegmentMembership &&
		(pm.without == "" || pm.without == AsIsWithout)
}
