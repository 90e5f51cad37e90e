package record

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// Most records are plain: UTF-8 without a backslash or a byte below 0x20. In such text every
// quote opens or closes a string, a string is what is written between them, and the only space
// is ' '. scanPlain validates a plain record and reads what the store keeps of it in one pass over
// its bytes, without building a tree of its values: what Parse's other way (fastjson's parser,
// then the checks on its values) finds, for the records that way accepts. Any record it does not
// accept, or cannot tell about, takes that other way, which says why it refuses one.

// maxScanDepth is how deep scanPlain goes into nested values; a record nested deeper takes the
// other way, whose parser has a depth limit of its own (300).
const maxScanDepth = 128

// plainScan is one plain record being read.
type plainScan struct {
	b []byte
	// tops are where the top-level names are: the index of each one's opening quote, and its
	// length.
	tops []span
	// With checkNames, a member object (the value of a top-level member, when an object) is
	// checked for a name twice, and repeated says whether one had it (see Names.Unique).
	checkNames, repeated bool
	// asIs: the fragment, merged alone, is its own whole row as far as read (fields.CopiesAsIs).
	// It is told for a fragment of a batch whose fragments so far all are, and whose names are
	// checked: a name twice at the top level makes the batch's names unknown, in a member object
	// repeated, and deeper down the objects are checked while it is.
	asIs bool
	// namesToCheck: the record has bytes above printable ASCII, which its names may have.
	namesToCheck bool
	// names are the names (views of b) of the objects being checked for a name twice: each
	// object's after those of the objects it is in.
	names [][]byte
	// The identities met: those of the identityMap, and those of identities[].
	mapIDs, listIDs []candidate
	// The first top-level _id and timestamp, when strings.
	eventID, timestamp []byte
	// Whether a top-level member of each name that counts was met.
	seenMap, seenList, seenID, seenTime bool
	// longNS: an identity's namespace is over MaxNamespaceBytes; the other way says so.
	longNS bool
	rp     *Parser
}

type span struct{ at, n int }

// scanPlain returns the record raw is, when raw is plain and a record of its kind (Fragment or
// Event), and false when Parse must read it the other way.
func (rp *Parser) scanPlain(raw []byte, kind Kind) (*Record, bool) {
	limit := maxProfileRecordBytes
	if kind == Event {
		limit = maxEventRecordBytes
	}
	if len(raw) > limit || !utf8.Valid(raw) {
		return nil, false
	}
	below, above := byteClasses(raw)
	if below || bytes.IndexByte(raw, '\\') >= 0 {
		return nil, false
	}
	s := &rp.scan
	checkNames := kind == Fragment && rp.Names != nil && rp.Names.checksBelow()
	*s = plainScan{b: raw, tops: s.tops[:0], mapIDs: s.mapIDs[:0], listIDs: s.listIDs[:0], names: s.names[:0], rp: rp,
		checkNames: checkNames, asIs: checkNames && !rp.Names.notAsIs, namesToCheck: above}
	i := s.space(0)
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	end, ok := s.object(i, 1, s.topMember)
	if !ok || s.space(end) != len(raw) || s.longNS {
		return nil, false
	}
	cands := append(append(rp.cands[:0], s.mapIDs...), s.listIDs...)
	for i := range cands {
		cands[i].pos = i
	}
	rp.cands = cands
	ids := primaryFirst(cands)
	if len(ids) == 0 {
		return nil, false
	}
	r := &Record{Kind: kind, Identities: ids, Body: raw}
	if kind == Event {
		if len(s.eventID) == 0 || s.timestamp == nil {
			return nil, false
		}
		ts, err := parseTimestamp(string(s.timestamp))
		if err != nil {
			return nil, false
		}
		r.EventID, r.Timestamp = string(s.eventID), ts
	}
	if kind == Fragment {
		if rp.Names != nil && rp.Names.begin() {
			for _, t := range s.tops {
				rp.Names.add(raw[t.at+1 : t.at+1+t.n])
			}
			if s.repeated {
				rp.Names.repeatBelow()
			}
			if !s.asIs || len(s.tops) > fields.MaxAsIsMembers {
				rp.Names.notAsIs = true
			}
		}
		r.Members = rp.keepStarts(s.tops)
	}
	return r, true
}

// keepStarts returns the member starts of a plain fragment whose top-level names are at tops, or
// nil when they are not kept: as memberStarts does. In plain text a member starts at its name's
// quote.
func (rp *Parser) keepStarts(tops []span) []byte {
	if len(tops) == 0 || len(tops) > fields.MaxMemberStarts {
		return nil
	}
	start, prev := rp.beginStarts(), 0
	for _, t := range tops {
		rp.starts = binary.AppendUvarint(rp.starts, uint64(t.at-prev))
		prev = t.at
	}
	return rp.endStarts(start, true)
}

// space skips the space at i: in plain text, only ' '. Most records have none between their
// tokens, and a row has none outside its strings (spaces).
func (s *plainScan) space(i int) int {
	if i < len(s.b) && s.b[i] == ' ' {
		return s.spaces(i)
	}
	return i
}

// spaces skips the spaces at i, which are there: a fragment with them is not as is.
func (s *plainScan) spaces(i int) int {
	s.asIs = false
	for i < len(s.b) && s.b[i] == ' ' {
		i++
	}
	return i
}

// str returns the end of the string whose opening quote is at i, just past its closing quote.
// Most strings of a record are short: it looks for the quote eight bytes at a time (a byte of
// v ^ quotes is zero where v has a quote: that byte less one borrows, setting its high bit, which
// ^x has too only for a zero byte or one a borrow reached, above the first zero), then leaves a
// long string's rest to bytes.IndexByte.
func (s *plainScan) str(i int) (int, bool) {
	const quotes, ones, highs = 0x2222222222222222, 0x0101010101010101, 0x8080808080808080
	b := s.b
	j := i + 1
	for n := 0; n < 4 && j+8 <= len(b); n++ {
		x := binary.LittleEndian.Uint64(b[j:]) ^ quotes
		if m := (x - ones) &^ x & highs; m != 0 {
			return j + bits.TrailingZeros64(m)/8 + 1, true
		}
		j += 8
	}
	k := bytes.IndexByte(b[j:], '"')
	if k < 0 {
		return i, false
	}
	return j + k + 1, true
}

// member is called with each member of an object: its name and where its value starts. It returns
// where the value ends.
type member func(name []byte, at, depth int) (int, bool)

// object validates the object at i, calling fn (or skipping, when nil) with each member's value,
// and returns where the object ends.
func (s *plainScan) object(i, depth int, fn member) (int, bool) {
	b := s.b
	i = s.space(i + 1)
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	// This object's names are checked from here on: a member object's while checkNames, a deeper
	// one's while asIs.
	from, check := len(s.names), depth == 2 && s.checkNames || depth > 2 && s.asIs
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		nameEnd, ok := s.str(i)
		if !ok {
			return i, false
		}
		name := b[i+1 : nameEnd-1]
		if depth == 1 {
			s.tops = append(s.tops, span{i, len(name)})
		}
		if s.asIs && s.namesToCheck && !fields.AsIsName(name) {
			s.asIs = false
		}
		if check {
			if len(s.names)-from == fields.MaxAsIsMembers {
				s.asIs = false
			}
			s.names = append(s.names, name)
		}
		i = s.space(nameEnd)
		if i >= len(b) || b[i] != ':' {
			return i, false
		}
		i = s.space(i + 1)
		if i < len(b) && b[i] == 'n' {
			s.asIs = false // a null member, which a merge drops
		}
		if fn != nil {
			i, ok = fn(name, i, depth)
		} else {
			i, ok = s.value(i, depth)
		}
		if !ok {
			return i, false
		}
		var end bool
		if i, end, ok = s.after(i, '}'); end || !ok {
			if ok && check {
				s.checkObjectNames(from, depth)
			}
			s.names = s.names[:from]
			return i, ok
		}
	}
}

// checkObjectNames checks the names of the object just read, depth deep, which start at from,
// for one that is there twice (in plain text a name is its bytes).
func (s *plainScan) checkObjectNames(from, depth int) {
	if hasRepeat(s.names[from:]) {
		s.asIs = false
		if depth == 2 {
			s.repeated, s.checkNames = true, false // one is enough for the batch
		}
	}
}

// array validates the array at i, calling fn (or skipping, when nil) with each element's start,
// and returns where the array ends.
func (s *plainScan) array(i, depth int, fn func(at, depth int) (int, bool)) (int, bool) {
	b := s.b
	i = s.space(i + 1)
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if fn != nil {
			i, ok = fn(i, depth)
		} else {
			i, ok = s.value(i, depth)
		}
		if !ok {
			return i, false
		}
		var end bool
		if i, end, ok = s.after(i, ']'); end || !ok {
			return i, ok
		}
	}
}

// after reads what follows a member or an element that ends at i: a comma, and it returns where
// the next one starts; or closing, and it returns where the object or array ends, and end.
func (s *plainScan) after(i int, closing byte) (next int, end, ok bool) {
	b := s.b
	i = s.space(i)
	switch {
	case i >= len(b):
		return i, false, false
	case b[i] == ',':
		return s.space(i + 1), false, true
	case b[i] == closing:
		return i + 1, true, true
	}
	return i, false, false
}

// value validates the value at i, a member's or an element's of a value depth deep, and returns
// where it ends.
func (s *plainScan) value(i, depth int) (int, bool) {
	b := s.b
	if i >= len(b) {
		return i, false
	}
	switch b[i] {
	case '"':
		return s.str(i)
	case '{':
		if depth >= maxScanDepth {
			return i, false
		}
		return s.object(i, depth+1, nil)
	case '[':
		if depth >= maxScanDepth {
			return i, false
		}
		return s.array(i, depth+1, nil)
	}
	j := i
	for j < len(b) && !tokenEnd[b[j]] {
		j++
	}
	if !literal(b[i:j]) {
		return i, false
	}
	return j, true
}

// isTrue reports whether the value at i, which is then validated, is the literal true.
func (s *plainScan) isTrue(i int) bool {
	return bytes.HasPrefix(s.b[i:], []byte("true"))
}

// topMember reads a member of the record: the first identityMap, identities, _id and timestamp
// are read for what they hold, when of the type that counts; the rest are skipped, but for what
// telling a fragment as is needs: segment memberships by namespace, and no member that a row's
// event list replaces.
func (s *plainScan) topMember(name []byte, at, depth int) (int, bool) {
	b := s.b
	var seen *bool
	switch string(name) {
	case "identityMap":
		seen = &s.seenMap
	case "identities":
		seen = &s.seenList
	case "_id":
		seen = &s.seenID
	case "timestamp":
		seen = &s.seenTime
	case fields.AsIsSegmentMembership:
		if s.asIs && at < len(b) && b[at] == '{' && depth < maxScanDepth {
			return s.object(at, depth+1, s.segmentNamespace)
		}
		s.asIs = false // not a map of namespaces: the merge makes one
	case fields.AsIsWithout:
		s.asIs = false
	}
	if seen == nil || *seen || at >= len(b) {
		return s.value(at, depth)
	}
	*seen = true // the first with the name counts, whatever its type
	switch {
	case seen == &s.seenMap && b[at] == '{':
		return s.object(at, depth+1, s.namespaceMember)
	case seen == &s.seenMap:
		s.asIs = false // not a map of namespaces: the merge makes one
	case seen == &s.seenList && b[at] == '[':
		return s.array(at, depth+1, func(at, depth int) (int, bool) {
			end, _, ok := s.entry(at, depth, 1, nil)
			return end, ok
		})
	case seen == &s.seenID && b[at] == '"':
		end, ok := s.str(at)
		if ok {
			s.eventID = b[at+1 : end-1]
		}
		return end, ok
	case seen == &s.seenTime && b[at] == '"':
		end, ok := s.str(at)
		if ok {
			s.timestamp = b[at+1 : end-1]
		}
		return end, ok
	}
	return s.value(at, depth)
}

// segmentNamespace reads a namespace of the segment memberships, which the merge keeps as it is
// only when its memberships are an object.
func (s *plainScan) segmentNamespace(_ []byte, at, depth int) (int, bool) {
	if at >= len(s.b) || s.b[at] != '{' {
		s.asIs = false
	}
	return s.value(at, depth)
}

// namespaceMember reads a member of the identityMap: a namespace and its array of entries. The
// merge keeps the entries as they are when there are any, each with an id, in increasing order of
// their ids.
func (s *plainScan) namespaceMember(name []byte, at, depth int) (int, bool) {
	if len(name) == 0 || at >= len(s.b) || s.b[at] != '[' {
		s.asIs = false
		return s.value(at, depth) // a namespace needs a name, and entries in an array
	}
	var prev []byte
	end, ok := s.array(at, depth+1, func(at, depth int) (int, bool) {
		end, id, ok := s.entry(at, depth, 0, name)
		if len(id) == 0 || prev != nil && string(id) <= string(prev) {
			s.asIs = false
		}
		prev = id
		return end, ok
	})
	if prev == nil {
		s.asIs = false // no entry: the merge drops the namespace
	}
	return end, ok
}

// entry reads an identity entry: of the identityMap (source 0) in namespace ns, or of
// identities[] (source 1), whose namespace is its namespace.code. An entry that is not an object,
// or whose first id, namespace or code is missing, not a string or empty, is skipped. It returns
// the entry's id, nil when it has none.
func (s *plainScan) entry(at, depth, source int, ns []byte) (int, []byte, bool) {
	b := s.b
	if at >= len(b) || b[at] != '{' {
		end, ok := s.value(at, depth)
		return end, nil, ok
	}
	if depth >= maxScanDepth {
		return at, nil, false
	}
	var id, code []byte
	var seenID, seenPrimary, seenNS, primary bool
	end, ok := s.object(at, depth+1, func(name []byte, at, depth int) (int, bool) {
		switch {
		case string(name) == "id" && !seenID:
			seenID = true
			if at < len(b) && b[at] == '"' {
				end, ok := s.str(at)
				id = b[at+1 : max(end-1, at+1)]
				return end, ok
			}
		case string(name) == "primary" && !seenPrimary:
			seenPrimary = true
			primary = s.isTrue(at)
		case string(name) == "namespace" && !seenNS && source == 1:
			seenNS = true
			if at < len(b) && b[at] == '{' && depth < maxScanDepth {
				seenCode := false
				return s.object(at, depth+1, func(name []byte, at, depth int) (int, bool) {
					if string(name) == "code" && !seenCode {
						seenCode = true
						if at < len(b) && b[at] == '"' {
							end, ok := s.str(at)
							code = b[at+1 : max(end-1, at+1)]
							return end, ok
						}
					}
					return s.value(at, depth)
				})
			}
		}
		return s.value(at, depth)
	})
	if !ok {
		return end, nil, false
	}
	if source == 1 {
		ns = code
	}
	if len(id) == 0 || len(ns) == 0 {
		return end, id, true
	}
	if len(ns) > MaxNamespaceBytes {
		s.longNS = true
		return end, id, true
	}
	c := candidate{Identity: Identity{NS: s.rp.namespace(ns), ID: string(id)}, primary: primary, source: source}
	if source == 0 {
		s.mapIDs = append(s.mapIDs, c)
	} else {
		s.listIDs = append(s.listIDs, c)
	}
	return end, id, true
}
