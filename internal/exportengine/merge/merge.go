// Package merge merges the fragments of one profile into the profile, as a merge policy's
// attributeMerge ranks them: null counts as absent; objects merge key by key, recursively;
// identityMap is the union of all identities; each segment membership is the one qualified last;
// every other array is atomic.
package merge

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/record"
)

// Fragment is a fragment of a profile, with its rank.
type Fragment struct {
	Body []byte
	Rank Rank
	// Source names the fragment in errors: its batch.
	Source string
}

// Rank is a fragment's priority: the fragment of the lower Precedence wins (under
// dataSetPrecedence, its dataset's place in the policy's order; under timestampOrdered, 0 for
// all), then that of the later batch (Batch, its place in ingest order), then the later record of
// its batch (Seq).
type Rank struct {
	Precedence int
	Batch      int
	Seq        uint64
}

// Compare orders ranks by priority: -1 when a wins over b.
func (a Rank) Compare(b Rank) int {
	if c := cmp.Compare(a.Precedence, b.Precedence); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Batch, a.Batch); c != 0 {
		return c
	}
	return cmp.Compare(b.Seq, a.Seq)
}

// Merger merges the fragments of one profile. It reuses its parsers and arena from one profile to
// the next, so it is not safe for concurrent use: each export worker has its own.
type Merger struct {
	parsers []*fastjson.Parser
	arena   fastjson.Arena
	slots   []slot
	vals    []*fastjson.Value // the parsed fragments, in priority order
	// Scratch kept from one profile to the next: the objects of the nested merges under way
	// (mergeValues), and the names and entries of the identity map or segment memberships being
	// merged.
	objs     []*fastjson.Value
	maps     []*fastjson.Object
	names    []string
	segments []string
	entries  []entry
}

// entry is an identity of a namespace being merged, by its id.
type entry struct {
	id string
	v  *fastjson.Value
}

// alias is b as a string without a copy. The merger takes names and ids from the parsed
// fragments, whose bytes stay as they are until the next Merge: so do the profile's, which holds
// them.
func alias(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// slot gathers the values of one key across the objects being merged, in priority order.
type slot struct {
	key  string
	vals []*fastjson.Value
	from []int // which object each value came from
}

// Empty is the profile of no fragments, {}: an event-only profile's. Values of the previous
// profile become invalid.
func (m *Merger) Empty() *fastjson.Value {
	m.arena.Reset()
	return m.arena.NewObject()
}

// parse parses the i-th fragment of the current profile with a parser of its own, so that the
// values of all fragments stay valid together.
func (m *Merger) parse(i int, body []byte) (*fastjson.Value, error) {
	for len(m.parsers) <= i {
		m.parsers = append(m.parsers, &fastjson.Parser{})
	}
	return m.parsers[i].ParseBytes(body)
}

// Merge merges the fragments of one profile, which it sorts by rank, into the profile: the
// fragment of the highest priority wins conflicts. The profile is valid until the next Merge or
// Empty. Fragments must be JSON objects, as ingestion checks.
func (m *Merger) Merge(frags []Fragment) (*fastjson.Value, error) {
	m.arena.Reset()
	slices.SortFunc(frags, func(a, b Fragment) int { return a.Rank.Compare(b.Rank) })
	m.vals = m.vals[:0]
	for i := range frags {
		v, err := m.parse(i, frags[i].Body)
		if err != nil {
			return nil, fmt.Errorf("fragment of batch %s: %w", frags[i].Source, err)
		}
		if v.Type() != fastjson.TypeObject {
			return nil, fmt.Errorf("fragment of batch %s is a JSON %s, not an object", frags[i].Source, v.Type())
		}
		m.vals = append(m.vals, v)
	}
	return m.mergeObjects(m.vals, true), nil
}

// mergeObjects merges objects in priority order. Keys come out in the order they first appear,
// highest priority first.
func (m *Merger) mergeObjects(objs []*fastjson.Value, root bool) *fastjson.Value {
	out := m.arena.NewObject()
	start := len(m.slots)
	for i, v := range objs {
		o, _ := v.Object()
		o.Visit(func(key []byte, val *fastjson.Value) {
			s := m.slotFor(start, key)
			// A key repeated within one object: its last value counts, as JSON decoders do.
			if n := len(s.from); n > 0 && s.from[n-1] == i {
				s.vals[n-1] = val
				return
			}
			s.vals = append(s.vals, val)
			s.from = append(s.from, i)
		})
	}
	outObj, _ := out.Object()
	for k := start; k < len(m.slots); k++ {
		s := &m.slots[k]
		key := s.key // merging nested objects may move m.slots: do not use s after it
		cands := s.vals[:0]
		for _, v := range s.vals {
			if v.Type() != fastjson.TypeNull {
				cands = append(cands, v)
			}
		}
		if len(cands) == 0 {
			continue
		}
		var merged *fastjson.Value
		switch {
		case root && key == "identityMap":
			merged = m.mergeIdentityMap(cands)
		case root && key == "segmentMembership":
			merged = m.mergeSegmentMembership(cands)
		default:
			merged = m.mergeValues(cands)
		}
		outObj.Set(key, merged)
	}
	for k := start; k < len(m.slots); k++ {
		m.slots[k].vals, m.slots[k].from = m.slots[k].vals[:0], m.slots[k].from[:0]
	}
	m.slots = m.slots[:start]
	return out
}

func (m *Merger) slotFor(start int, key []byte) *slot {
	for k := start; k < len(m.slots); k++ {
		if m.slots[k].key == string(key) {
			return &m.slots[k]
		}
	}
	if len(m.slots) < cap(m.slots) {
		m.slots = m.slots[:len(m.slots)+1]
	} else {
		m.slots = append(m.slots, slot{})
	}
	s := &m.slots[len(m.slots)-1]
	s.key = alias(key)
	return s
}

// mergeValues merges the non-null values of one key, in priority order: the winner's type
// decides; a winning object merges with the lower values that are objects; anything else is the
// winner's value as it is (arrays are atomic).
func (m *Merger) mergeValues(cands []*fastjson.Value) *fastjson.Value {
	w := cands[0]
	if w.Type() != fastjson.TypeObject {
		return w
	}
	// The objects go on a stack that the nested merges share: each takes its own from start.
	start := len(m.objs)
	for _, c := range cands {
		if c.Type() == fastjson.TypeObject {
			m.objs = append(m.objs, c)
		}
	}
	merged := m.mergeObjects(m.objs[start:], false)
	m.objs = m.objs[:start]
	return merged
}

// objects are the values that are objects, in their order: what merges when the winner of a key
// is an object. They are the merger's until it next calls it.
func (m *Merger) objects(vals []*fastjson.Value) []*fastjson.Object {
	m.maps = m.maps[:0]
	for _, v := range vals {
		if o, err := v.Object(); err == nil {
			m.maps = append(m.maps, o)
		}
	}
	return m.maps
}

// mergeIdentityMap unites the identities of every fragment: per namespace, each id once (the
// highest-priority entry, without its null keys), sorted by id.
func (m *Merger) mergeIdentityMap(cands []*fastjson.Value) *fastjson.Value {
	maps := m.objects(cands)
	if len(maps) == 0 {
		return cands[0]
	}
	out := m.arena.NewObject()
	outObj, _ := out.Object()
	namespaces := m.names[:0]
	for _, o := range maps {
		o.Visit(func(key []byte, _ *fastjson.Value) {
			if !slices.Contains(namespaces, string(key)) {
				namespaces = append(namespaces, alias(key))
			}
		})
	}
	m.names = namespaces
	for _, ns := range namespaces {
		entries := m.entries[:0]
		for _, o := range maps {
			list := lastValue(o, ns)
			if list == nil || list.Type() != fastjson.TypeArray {
				continue
			}
			for _, e := range list.GetArray() {
				id := e.Get("id")
				if e.Type() != fastjson.TypeObject || id == nil || id.Type() != fastjson.TypeString || len(id.GetStringBytes()) == 0 {
					continue
				}
				key := alias(id.GetStringBytes())
				if slices.ContainsFunc(entries, func(x entry) bool { return x.id == key }) {
					continue
				}
				entries = append(entries, entry{key, m.withoutNulls(e)})
			}
		}
		m.entries = entries
		if len(entries) == 0 {
			continue
		}
		slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
		arr := m.arena.NewArray()
		for i, e := range entries {
			arr.SetArrayItem(i, e.v)
		}
		outObj.Set(ns, arr)
	}
	return out
}

// withoutNulls copies an object without its null-valued keys.
func (m *Merger) withoutNulls(v *fastjson.Value) *fastjson.Value {
	o, _ := v.Object()
	hasNull := false
	o.Visit(func(_ []byte, c *fastjson.Value) { hasNull = hasNull || c.Type() == fastjson.TypeNull })
	if !hasNull {
		return v
	}
	out := m.arena.NewObject()
	outObj, _ := out.Object()
	o.Visit(func(key []byte, c *fastjson.Value) {
		if c.Type() != fastjson.TypeNull {
			outObj.Set(string(key), c)
		}
	})
	return out
}

// mergeSegmentMembership keeps, for each segment of each namespace, the membership with the
// latest lastQualificationTime (ties, and memberships without a valid time, go by priority), whole.
func (m *Merger) mergeSegmentMembership(cands []*fastjson.Value) *fastjson.Value {
	maps := m.objects(cands)
	if len(maps) == 0 {
		return cands[0]
	}
	out := m.arena.NewObject()
	outObj, _ := out.Object()
	namespaces := m.names[:0]
	for _, o := range maps {
		o.Visit(func(key []byte, v *fastjson.Value) {
			if v.Type() == fastjson.TypeObject && !slices.Contains(namespaces, string(key)) {
				namespaces = append(namespaces, alias(key))
			}
		})
	}
	m.names = namespaces
	for _, ns := range namespaces {
		var inNsArray [4]*fastjson.Object
		inNs := inNsArray[:0]
		segments := m.segments[:0]
		for _, o := range maps {
			v := lastValue(o, ns)
			if v == nil || v.Type() != fastjson.TypeObject {
				continue
			}
			so, _ := v.Object()
			inNs = append(inNs, so)
			so.Visit(func(key []byte, _ *fastjson.Value) {
				if !slices.Contains(segments, string(key)) {
					segments = append(segments, alias(key))
				}
			})
		}
		m.segments = segments
		nsOut := m.arena.NewObject()
		nsObj, _ := nsOut.Object()
		for _, seg := range segments {
			var best *fastjson.Value
			var bestTime record.Instant
			bestValid := false
			for _, so := range inNs {
				e := lastValue(so, seg)
				if e == nil || e.Type() == fastjson.TypeNull {
					continue
				}
				t, valid := QualificationTime(e)
				if best == nil || (valid && (!bestValid || t.Compare(bestTime) > 0)) {
					best, bestTime, bestValid = e, t, valid
				}
			}
			if best != nil {
				nsObj.Set(seg, best)
			}
		}
		outObj.Set(ns, nsOut)
	}
	return out
}

// QualificationTime is a membership's lastQualificationTime as an instant, and whether it has a
// valid one. The instant may hold the membership's bytes: it is valid while they are.
func QualificationTime(membership *fastjson.Value) (record.Instant, bool) {
	v := membership.Get("lastQualificationTime")
	if v == nil || v.Type() != fastjson.TypeString {
		return record.Instant{}, false
	}
	return record.ParseInstant(alias(v.GetStringBytes()))
}

// lastValue is the value of the last occurrence of key in o (JSON allows repeated keys; the last
// one counts).
func lastValue(o *fastjson.Object, key string) *fastjson.Value {
	var last *fastjson.Value
	o.Visit(func(k []byte, v *fastjson.Value) {
		if bytes.Equal(k, []byte(key)) {
			last = v
		}
	})
	return last
}
