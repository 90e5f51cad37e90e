package fields

import "math/bits"

// Most profiles of an export have one fragment, and most fragments are plain: no null, no name
// repeated within an object, no escape in what a projection keeps. Merging such a fragment alone
// gives it back as it is, and projecting it keeps bytes it already has: AppendPlainRow writes
// the row straight from the fragment's bytes, without parsing it into values, and leaves
// anything else to the long way.

// maxPlainMembers is the most members an object kept whole may have for AppendPlainRow to look
// for repeated names in it; a larger one takes the long way.
const maxPlainMembers = 32

// AppendPlainRow appends what AppendRow appends for the object obj parsed, after a merge of obj
// alone, and reports whether it could tell that from obj's bytes. It can when, in what s keeps
// of obj: no object repeats a name; no name has an escape or a byte outside printable ASCII; no
// string has an escape or a control character; and no selected name has an array below which s
// selects further names. Merging obj alone drops null members of objects (outside arrays), which
// it drops too; identityMap and segmentMembership, which a merge changes further, it reads as the
// merge does when s says so (WithMergedMembers), and otherwise they are the caller's to keep out
// of s.
// A whole selector (every name, as the nil selector has it) that WithMergedMembers made names
// both members: a whole row reads them as the merge does, and any other whole selector is the
// long way.
// On false, dst is returned as it was. A nil selector is always the long way.
func (s *Selector) AppendPlainRow(dst, obj []byte) ([]byte, bool) {
	return s.AppendPlainRowUntil(dst, obj, -1)
}

// AppendPlainRowUntil is AppendPlainRow for an object obj that is valid JSON and repeats no
// top-level name, where selected is CountAmong of a list that holds every top-level name of obj:
// once it has met selected of s's names, it takes the rest of obj as read. A negative selected
// reads obj whole.
func (s *Selector) AppendPlainRowUntil(dst, obj []byte, selected int) ([]byte, bool) {
	return s.appendPlainRow(dst, obj, nil, selected, true, false)
}

// AppendPlainRowAt is AppendPlainRowUntil for an object obj whose top-level members start where
// starts says (AppendMemberStarts of obj): it jumps over the members s does not select rather
// than reading them. Empty starts read obj as AppendPlainRowUntil does. The starts must be obj's:
// a start is checked only where the row comes to it by reading (the first member's, and the one
// after a member it keeps), where one that is not a member's start gives false; a start jumped to
// is taken as it is. (Where they are stored, a checksum covers them with the body.)
//
// With unique, no member object of obj (the value of a top-level member, when an object) has a
// name twice (compared unescaped), and such an object is read, with starts, only until it has met
// every name s selects in it: the row goes on from the next member's start. Without it, such an
// object is read to its end, where a name met twice gives false.
func (s *Selector) AppendPlainRowAt(dst, obj, starts []byte, selected int, unique bool) ([]byte, bool) {
	return s.appendPlainRow(dst, obj, starts, selected, true, unique)
}

// AppendPlainDocumentRow is AppendPlainRow for a document that is not merged, such as an event:
// it appends what AppendRow appends for the object obj parsed as it is, and reports whether it
// could tell that from obj's bytes. Null members are kept where s selects them whole, as
// AppendRow keeps them, and an identity map is a member like any other. A whole selector keeps
// the document whole.
func (s *Selector) AppendPlainDocumentRow(dst, obj []byte) ([]byte, bool) {
	return s.appendPlainRow(dst, obj, nil, -1, false, false)
}

// appendPlainRow is the plain row of obj, merged alone or as it is, with its members' starts when
// they are known (and unique as AppendPlainRowAt has it).
func (s *Selector) appendPlainRow(dst, obj, starts []byte, selected int, merged, unique bool) ([]byte, bool) {
	if s == nil {
		return dst, false
	}
	start := len(dst)
	if s.all {
		return s.appendPlainWholeRow(dst, obj, merged)
	}
	var jump *memberStarts
	js := memberStarts{b: starts, size: len(obj), unique: unique}
	if len(starts) > 0 {
		jump = &js
	}
	dst, i, kept, ok := s.appendPlainObject(dst, obj, skipSpace(obj, 0), selected, merged, jump, false)
	if !ok || skipSpace(obj, i) != len(obj) {
		return dst[:start], false
	}
	if !kept {
		dst = append(dst[:start], "{}"...)
	}
	return dst, true
}

// appendPlainObject appends the object at b[i] projected by s (which is not whole), and returns
// where the object ends and whether anything was selected; nothing is appended when nothing was.
// With stop >= 0, b is a valid JSON object that has no more than stop of s's names, none twice:
// once that many are met, the object's end is b's. Merged, the object is as a merge of it alone
// leaves it; otherwise as it is. With jump, the object is b, whose members start where jump says:
// a member not selected is jumped over, not read, and so is the rest of a member object once it
// has met the names s selects in it, when jump.unique says that it names none of them twice.
//
// With left, the object at b[i] is such a member's value, whose end is not looked for once stop
// of s's names are met: it returns -1 for the end, and its caller goes on from the next member's
// start.
func (s *Selector) appendPlainObject(dst, b []byte, i int, stop int, merged bool, jump *memberStarts, left bool) (_ []byte, _ int, kept, ok bool) {
	if i >= len(b) || b[i] != '{' || len(s.kids) > 64 {
		return dst, i, false, false
	}
	start := len(dst)
	dst = append(dst, '{')
	pm := s.plainMembers()
	var seen uint64 // the selected names met
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst[:start], i + 1, false, true
	}
	jumped := false // to the member at i, whose start is read
	for {
		if stop >= 0 && bits.OnesCount64(seen) >= stop {
			if left {
				i = -1
			} else if i, ok = objectEnd(b); !ok {
				return dst[:start], i, false, false
			}
			if !kept {
				return dst[:start], i, false, true
			}
			return append(dst, '}'), i, true, true
		}
		if jump != nil && !jumped {
			if at, ok := jump.next(); !ok || at != i {
				return dst[:start], i, false, false // b is not where its starts say
			}
		}
		jumped = false
		key, next, ok := memberName(b, i)
		if !ok {
			return dst[:start], i, false, false
		}
		i = next
		k, selected := s.lookupBytes(key)
		if selected && !plainName(key) {
			return dst[:start], i, false, false
		}
		if selected && pm.without != "" && string(key) == pm.without {
			if seen&(1<<k) != 0 {
				return dst[:start], i, false, false
			}
			seen |= 1 << k
			selected = false // met, and left out
		}
		// gone: the member's value is not read to its end, and the next member is where jump says.
		gone := false
		if !selected {
			if jump != nil {
				gone = true
			} else if i, ok = skipValue(b, i); !ok {
				return dst[:start], i, false, false
			}
		} else {
			if seen&(1<<k) != 0 {
				return dst[:start], i, false, false
			}
			seen |= 1 << k
			var mark int
			dst, mark = openMember(dst, key, kept)
			child := s.kids[k].sel
			var got bool
			switch {
			case merged && pm.identityMap != "" && string(key) == pm.identityMap:
				dst, i, got, ok = appendPlainIdentities(dst, b, i, child)
			case merged && pm.segmentMembership != "" && string(key) == pm.segmentMembership:
				dst, i, got, ok = appendPlainSegments(dst, b, i, child)
			case i < len(b) && b[i] == 'n' && (merged || !child.all):
				// A null member is gone after a merge, whatever is selected below it; below a
				// null, nothing is there.
				i, ok = skipValue(b, i)
			case child.all:
				dst, i, ok = appendWhole(dst, b, i, merged)
				got = true
			case i < len(b) && b[i] == '{' && jump != nil && jump.unique:
				dst, i, got, ok = child.appendPlainObject(dst, b, i, len(child.kids), merged, nil, true)
				gone = i < 0
			case i < len(b) && b[i] == '{':
				dst, i, got, ok = child.appendPlainObject(dst, b, i, -1, merged, nil, false)
			case i < len(b) && b[i] == '[':
				ok = false // names below an array: the long way
			default:
				i, ok = skipValue(b, i) // names below a scalar: nothing is there
			}
			if !ok {
				return dst[:start], i, false, false
			}
			if got {
				kept = true
			} else {
				dst = dst[:mark]
			}
		}
		if gone {
			if len(jump.b) > 0 {
				if i, ok = jump.next(); !ok {
					return dst[:start], i, false, false
				}
				jumped = true
				continue
			}
			// The last member: the object ends where b does.
			if i, ok = objectEnd(b); !ok || !kept {
				return dst[:start], i, false, ok
			}
			return append(dst, '}'), i, true, true
		}
		var end bool
		if dst, i, end, ok = endMember(dst, b, i, start, kept); !ok || end {
			return dst, i, kept && ok, ok
		}
	}
}

// appendPlainWholeRow is the plain row of obj with every member selected whole: obj as it is, or
// as a merge of it alone leaves it, where its identity map and segment memberships are read as
// the merge reads them (a whole selector that WithMergedMembers did not make takes the long way
// for merged rows), without the member WithoutMember names.
func (s *Selector) appendPlainWholeRow(dst, obj []byte, merged bool) ([]byte, bool) {
	pm := s.plainMembers()
	if merged && (pm.identityMap == "" || pm.segmentMembership == "") {
		return dst, false
	}
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return dst, false
	}
	start := len(dst)
	dst, i, ok := appendObjectWhole(dst, obj, i, merged, merged, &pm)
	if !ok || skipSpace(obj, i) != len(obj) {
		return dst[:start], false
	}
	return dst, true
}

// WithoutMember returns s for AppendPlainRow where the top-level member name is left out of the
// row, selected or not: the member the row's own eventList replaces.
func (s *Selector) WithoutMember(name string) *Selector {
	if s == nil {
		return nil
	}
	out := s.clone()
	pm := s.plainMembers()
	pm.without = name
	out.members = &pm
	return out
}

// WithMergedMembers returns s for AppendPlainRow where the fragment's top-level members named
// identityMap and segmentMembership (either may be "") merge as an identity map and as segment
// memberships do. An identity map: in each namespace, entries without a non-empty string id are
// dropped, entries with the same id are kept once, and the rest are ordered by id, without their
// null members; a plain row keeps such a map only where that changes nothing
// (appendPlainIdentities), and takes the long way otherwise. Segment memberships: a map of
// namespaces, where a namespace whose value is an object keeps its memberships but the null ones,
// each as it is, and any other namespace is dropped (which membership wins by its qualification
// time matters only between fragments). For a nil s, it returns a selector of every name whole,
// whose plain rows are whole profiles.
func (s *Selector) WithMergedMembers(identityMap, segmentMembership string) *Selector {
	if s == nil {
		s = whole // every name, as the nil selector selects
	}
	out := s.clone()
	pm := s.plainMembers()
	pm.identityMap, pm.segmentMembership = identityMap, segmentMembership
	out.members = &pm
	return out
}

// appendPlainSegments appends the segment memberships at b[i] projected by sel, as a merge of
// them alone leaves them (WithMergedMembers): a namespace that is not an object is dropped.
func appendPlainSegments(dst, b []byte, i int, sel *Selector) (_ []byte, _ int, kept, ok bool) {
	return appendPlainNamespaces(dst, b, i, sel, func(dst, b []byte, i int) ([]byte, int, bool, bool) {
		if i >= len(b) || b[i] != '{' {
			i, ok := skipValue(b, i)
			return dst, i, false, ok
		}
		dst, i, ok := appendPlainMemberships(dst, b, i)
		return dst, i, true, ok
	})
}

// appendPlainNamespaces appends a map of namespaces at b[i] projected by sel, when it is an object
// whose namespaces are plain names, not repeated, and sel keeps it whole or keeps namespaces
// whole (names below a namespace take the long way). value appends a kept namespace's value as
// the merge leaves it, and reports whether the merge keeps it at all (got) and whether it could
// tell (ok).
func appendPlainNamespaces(dst, b []byte, i int, sel *Selector,
	value func(dst, b []byte, i int) (_ []byte, _ int, got, ok bool)) (_ []byte, _ int, kept, ok bool) {
	if i >= len(b) || b[i] != '{' {
		return dst, i, false, false
	}
	start := len(dst)
	dst = append(dst, '{')
	var names plainNames
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if sel.all { // the merge makes an empty map of an empty map, and a whole one keeps it
			return append(dst, '}'), i + 1, true, true
		}
		return dst[:start], i + 1, false, true
	}
	for {
		key, next, ok := memberName(b, i)
		if !ok || !names.add(key) {
			return dst[:start], i, false, false
		}
		i = next
		keep := sel.all
		if !keep {
			k, selected := sel.lookupBytes(key)
			if selected && !sel.kids[k].sel.all {
				return dst[:start], i, false, false
			}
			keep = selected
		}
		if keep {
			var mark int
			dst, mark = openMember(dst, key, kept)
			var got bool
			if dst, i, got, ok = value(dst, b, i); !ok {
				return dst[:start], i, false, false
			}
			if got {
				kept = true
			} else {
				dst = dst[:mark]
			}
		} else if i, ok = skipValue(b, i); !ok {
			return dst[:start], i, false, false
		}
		// A map selected whole stays, if only as {}, when the merge drops every namespace of it.
		var end bool
		if dst, i, end, ok = endMember(dst, b, i, start, kept || sel.all); !ok || end {
			return dst, i, (kept || sel.all) && ok, ok
		}
	}
}

// appendPlainMemberships appends a namespace's memberships at b[i] (an object) as a merge of
// them alone leaves them: without the null ones, and each other one as it is, nulls and all.
func appendPlainMemberships(dst, b []byte, i int) ([]byte, int, bool) {
	return appendObjectWhole(dst, b, i, true, false, nil)
}

// appendPlainIdentities appends the identity map at b[i] projected by sel, when a merge of it
// alone leaves it as it is (appendPlainNamespaces): each namespace sel keeps is an array of one
// or more entries in increasing order of their ids (entryID), each kept whole.
func appendPlainIdentities(dst, b []byte, i int, sel *Selector) (_ []byte, _ int, kept, ok bool) {
	return appendPlainNamespaces(dst, b, i, sel, func(dst, b []byte, i int) ([]byte, int, bool, bool) {
		dst, i, ok := appendPlainEntries(dst, b, i)
		return dst, i, true, ok
	})
}

// appendPlainEntries appends the array of a namespace's identities at b[i] whole, when it holds
// one or more entries in strictly increasing order of their ids.
func appendPlainEntries(dst, b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return dst, i, false
	}
	if j := skipSpace(b, i+1); j < len(b) && b[j] == ']' {
		return dst, i, false // no entry: the merge drops the namespace
	}
	var prev []byte
	n := 0
	return appendArray(dst, b, i, func(at int) bool {
		id, ok := entryID(b, at)
		if !ok || n > 0 && string(id) <= string(prev) {
			return false
		}
		prev, n = id, n+1
		return true
	})
}

// entryID returns the id of the identity entry at b[i], when a merge keeps the entry as it is:
// an object with one member "id", a non-empty string without escapes, and no null member.
func entryID(b []byte, i int) ([]byte, bool) {
	if i >= len(b) || b[i] != '{' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	var id []byte
	for {
		key, next, ok := memberName(b, i)
		if !ok || next >= len(b) || b[next] == 'n' {
			return nil, false
		}
		end, ok := skipValue(b, next)
		if !ok {
			return nil, false
		}
		if string(key) == "id" {
			if id != nil || b[next] != '"' {
				return nil, false
			}
			sEnd, escaped, ok := skipString(b, next)
			if !ok || escaped || sEnd-next <= 2 {
				return nil, false
			}
			id = b[next+1 : sEnd-1]
		}
		var last bool
		if i, last, ok = nextMember(b, end); !ok {
			return nil, false
		}
		if last {
			return id, id != nil
		}
	}
}

// plainNames are the names of an object's members met so far.
type plainNames struct {
	names [maxPlainMembers][]byte
	n     int
}

// add notes a name, and reports whether it is plain (plainName), not met before, and within the
// first maxPlainMembers.
func (p *plainNames) add(key []byte) bool {
	if p.n == len(p.names) || !plainName(key) {
		return false
	}
	for _, prev := range p.names[:p.n] {
		if string(prev) == string(key) {
			return false
		}
	}
	p.names[p.n] = key
	p.n++
	return true
}

// endMember moves past the comma or the closing brace after a member's value at b[i]. At the
// brace it ends the object begun at dst[start]: closed, or dropped when nothing was kept. On a
// malformed object, what was appended since start is dropped.
func endMember(dst, b []byte, i, start int, kept bool) (_ []byte, _ int, end, ok bool) {
	i, end, ok = nextMember(b, i)
	switch {
	case !ok:
		return dst[:start], i, false, false
	case !end:
		return dst, i, false, true
	case !kept:
		return dst[:start], i, true, true
	}
	return append(dst, '}'), i, true, true
}

// openMember appends a member's name and colon, after a comma when a member was kept before it,
// and returns where it started: a member whose value comes to nothing is taken back to there.
func openMember(dst, key []byte, kept bool) ([]byte, int) {
	mark := len(dst)
	if kept {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, '"', ':'), mark
}

// memberName reads the name of a member at b[i] and the colon after it, and returns the name and
// where its value starts. A name with an escape is refused: it is compared only the long way.
func memberName(b []byte, i int) ([]byte, int, bool) {
	end, escaped, value, ok := memberAt(b, i)
	if !ok || escaped {
		return nil, i, false
	}
	return b[i+1 : end-1], value, true
}

// plainName reports whether a name that memberName read (so without escapes, quotes or
// backslashes) is written back as it is: printable ASCII, which AppendString neither escapes nor
// replaces.
func plainName(key []byte) bool {
	for _, c := range key {
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// appendWhole appends the value at b[i] whole. Merged, it is the value of a member (not null)
// as merging it alone leaves it: objects without their null members; arrays, which a merge keeps
// whole, as they are. Otherwise it is a value inside such an array, nulls and all.
func appendWhole(dst, b []byte, i int, merged bool) ([]byte, int, bool) {
	if i >= len(b) {
		return dst, i, false
	}
	switch b[i] {
	case '{':
		return appendPlainWhole(dst, b, i, merged)
	case '[':
		return appendAtomic(dst, b, i)
	}
	return appendScalar(dst, b, i)
}

// appendPlainWhole appends the object at b[i] whole; merged drops its null members, as a merge
// does (outside arrays), and keeps them otherwise.
func appendPlainWhole(dst, b []byte, i int, merged bool) ([]byte, int, bool) {
	return appendObjectWhole(dst, b, i, merged, merged, nil)
}

// appendObjectWhole appends the object at b[i] whole, without its null members when dropNulls,
// and its members' values whole, merged or not (appendWhole). top is nil but for a row's own
// object: there its names must be plain (plainName), and the members it names are treated apart,
// the identity map and segment memberships as a merge reads them (merged only) and without left
// out.
func appendObjectWhole(dst, b []byte, i int, dropNulls, merged bool, top *plainMembers) ([]byte, int, bool) {
	start := len(dst)
	dst = append(dst, '{')
	var names plainNames
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return append(dst, '}'), i + 1, true
	}
	kept := false
	for {
		key, next, ok := memberName(b, i)
		if !ok || !names.add(key) || top != nil && !plainName(key) {
			return dst[:start], i, false
		}
		i = next
		var mark int
		dst, mark = openMember(dst, key, kept)
		got := true
		switch {
		case top != nil && top.without != "" && string(key) == top.without:
			i, ok = skipValue(b, i)
			got = false
		case top != nil && merged && top.identityMap != "" && string(key) == top.identityMap:
			dst, i, got, ok = appendPlainIdentities(dst, b, i, whole)
		case top != nil && merged && top.segmentMembership != "" && string(key) == top.segmentMembership:
			dst, i, got, ok = appendPlainSegments(dst, b, i, whole)
		case dropNulls && i < len(b) && b[i] == 'n':
			if i, ok = skipValue(b, i); ok && string(b[next:i]) != "null" {
				ok = false
			}
			got = false
		default:
			dst, i, ok = appendWhole(dst, b, i, merged)
		}
		if !ok {
			return dst[:start], i, false
		}
		if got {
			kept = true
		} else {
			dst = dst[:mark]
		}
		var end bool
		if i, end, ok = nextMember(b, i); !ok {
			return dst[:start], i, false
		}
		if end {
			return append(dst, '}'), i, true
		}
	}
}

// appendAtomic appends the array at b[i] as it is, without its whitespace.
func appendAtomic(dst, b []byte, i int) ([]byte, int, bool) {
	return appendArray(dst, b, i, nil)
}

// appendArray is appendAtomic where each element, at b[at], must also pass accept (when set).
func appendArray(dst, b []byte, i int, accept func(at int) bool) ([]byte, int, bool) {
	start := len(dst)
	dst = append(dst, '[')
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return append(dst, ']'), i + 1, true
	}
	for {
		if accept != nil && !accept(i) {
			return dst[:start], i, false
		}
		var ok bool
		if dst, i, ok = appendWhole(dst, b, i, false); !ok {
			return dst[:start], i, false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return dst[:start], i, false
		}
		switch b[i] {
		case ',':
			dst = append(dst, ',')
			i = skipSpace(b, i+1)
		case ']':
			return append(dst, ']'), i + 1, true
		default:
			return dst[:start], i, false
		}
	}
}

// appendScalar appends the string, number, true, false or null at b[i] as it is written: a
// string without escapes, a number with JSON's syntax.
func appendScalar(dst, b []byte, i int) ([]byte, int, bool) {
	if i < len(b) && b[i] == '"' {
		end, escaped, ok := skipString(b, i)
		if !ok || escaped {
			return dst, i, false
		}
		for _, c := range b[i+1 : end-1] {
			if c < 0x20 {
				return dst, i, false // written back escaped the long way
			}
		}
		return append(dst, b[i:end]...), end, true
	}
	end, ok := skipValue(b, i)
	if !ok {
		return dst, i, false
	}
	switch tok := string(b[i:end]); {
	case tok == "true" || tok == "false" || tok == "null" || IsNumber(b[i:end]):
		return append(dst, b[i:end]...), end, true
	}
	return dst, i, false
}

// IsNumber reports whether b is a number as JSON writes one:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func IsNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
