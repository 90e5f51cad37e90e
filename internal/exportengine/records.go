package exportengine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// recordKind is what a dataset's schema makes of its records.
type recordKind uint8

const (
	kindOther    recordKind = iota // any other schema: kept as files, never reaches the profile store
	kindFragment                   // XDM Individual Profile record
	kindEvent                      // XDM ExperienceEvent
	kindUnion                      // the profile union view: export destinations only
)

func schemaKind(schemaID string) recordKind {
	switch schemaID {
	case aepwire.SchemaProfile:
		return kindFragment
	case aepwire.SchemaExperienceEvent:
		return kindEvent
	case aepwire.SchemaProfileUnion:
		return kindUnion
	}
	return kindOther
}

// AEP guardrails on record size; "over" means strictly greater.
const (
	maxProfileRecordBytes = 100 * 1024
	maxEventRecordBytes   = 10 * 1024
)

// Codes of record errors, in the order the checks run: a record failing several checks reports
// the first.
const (
	codeInvalidJSON  = "INGEST-1000"
	codeNotObject    = "INGEST-1001"
	codeTooLarge     = "INGEST-1002"
	codeNoIdentity   = "INGEST-1003"
	codeNoEventID    = "INGEST-1004"
	codeBadTimestamp = "INGEST-1005"
	codeNoFiles      = "INGEST-1100"
	codeUnreadable   = "INGEST-1101"
)

// identity is an (namespace, id) pair. Matching is exact and case-sensitive.
type identity struct {
	ns, id string
}

func (a identity) compare(b identity) int {
	if c := compareStrings(a.ns, b.ns); c != 0 {
		return c
	}
	return compareStrings(a.id, b.id)
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// record is a validated record of a profile or event dataset, as the profile store keeps it.
type record struct {
	kind recordKind
	// seq orders the records of one batch: a later record counts as later.
	seq uint64
	// identities holds the record's distinct identities, its primary identity first.
	identities []identity
	eventID    string
	// timestamp is the event's time in nanoseconds since the Unix epoch.
	timestamp int64
	body      []byte
}

func (r *record) primary() identity { return r.identities[0] }

// recordError is why a record was refused.
type recordError struct {
	code, reason string
}

// recordParser validates records. It is not safe for concurrent use.
type recordParser struct {
	p fastjson.Parser
}

// parse validates raw as a record of the given kind. The returned record's body aliases raw.
func (rp *recordParser) parse(raw []byte, kind recordKind) (*record, *recordError) {
	if err := validateJSON(raw); err != nil {
		return nil, &recordError{codeInvalidJSON, "not valid JSON: " + err.Error()}
	}
	v, err := rp.p.ParseBytes(raw)
	if err != nil { // unreachable after validation, but the parser has its own limits (depth)
		return nil, &recordError{codeInvalidJSON, "not valid JSON: " + err.Error()}
	}
	if v.Type() != fastjson.TypeObject {
		return nil, &recordError{codeNotObject, fmt.Sprintf("the record is a JSON %s, not an object", jsonTypeName(v.Type()))}
	}
	if kind != kindFragment && kind != kindEvent {
		return &record{kind: kind, body: raw}, nil
	}
	limit, what := maxProfileRecordBytes, "profile records"
	if kind == kindEvent {
		limit, what = maxEventRecordBytes, "experience events"
	}
	if len(raw) > limit {
		return nil, &recordError{codeTooLarge, fmt.Sprintf("the record is %d bytes, over the %d KB limit of %s",
			len(raw), limit/1024, what)}
	}
	ids := recordIdentities(v)
	if len(ids) == 0 {
		return nil, &recordError{codeNoIdentity, "the record has no identity: it needs an identityMap entry " +
			"or an identities[] entry with a non-empty string id"}
	}
	r := &record{kind: kind, identities: ids, body: raw}
	if kind == kindEvent {
		id := v.Get("_id")
		if id == nil || id.Type() != fastjson.TypeString || len(id.GetStringBytes()) == 0 {
			return nil, &recordError{codeNoEventID, "the event has no _id: it needs a non-empty string _id"}
		}
		r.eventID = string(id.GetStringBytes())
		ts := v.Get("timestamp")
		if ts == nil || ts.Type() != fastjson.TypeString {
			return nil, &recordError{codeBadTimestamp, "the event has no timestamp: it needs an RFC 3339 date-time string"}
		}
		s := string(ts.GetStringBytes())
		if r.timestamp, err = parseTimestamp(s); err != nil {
			return nil, &recordError{codeBadTimestamp, fmt.Sprintf("the event timestamp %q is not an RFC 3339 "+
				"date-time with an offset, such as 2026-01-31T12:00:00Z", s)}
		}
	}
	return r, nil
}

var errBadTimestamp = fmt.Errorf("bad timestamp")

func parseTimestamp(s string) (int64, error) {
	ns, ok := aepwire.ParseTimestamp(s)
	if !ok {
		return 0, errBadTimestamp
	}
	return ns, nil
}

// validateJSON checks that raw is one strict JSON value. fastjson's validator is strict except
// that it lets control characters through inside strings; such bytes are rare, so the slower
// standard library checks the values that have them.
func validateJSON(raw []byte) error {
	for _, c := range raw {
		if c < 0x20 && c != '\t' {
			if !json.Valid(raw) {
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if bytes.IndexByte(raw, '\t') >= 0 && !json.Valid(raw) {
		return fmt.Errorf("invalid character in string")
	}
	return fastjson.ValidateBytes(raw)
}

// recordIdentities returns the distinct identities of a record with its primary identity first:
// the identityMap entry marked primary, else the identities[] entry marked primary (among several,
// the smallest namespace, then array order), else the first entry of the smallest namespace.
func recordIdentities(v *fastjson.Value) []identity {
	type candidate struct {
		identity
		primary bool
		source  int // 0 identityMap, 1 identities[]
		pos     int // order of appearance
	}
	var cands []candidate
	if m := v.Get("identityMap"); m != nil && m.Type() == fastjson.TypeObject {
		o, _ := m.Object()
		o.Visit(func(key []byte, list *fastjson.Value) {
			// A namespace needs a name, as identities[] entries need a namespace.code.
			if len(key) == 0 || list.Type() != fastjson.TypeArray {
				return
			}
			for _, e := range list.GetArray() {
				id := e.Get("id")
				if e.Type() != fastjson.TypeObject || id == nil || id.Type() != fastjson.TypeString || len(id.GetStringBytes()) == 0 {
					continue
				}
				p := e.Get("primary")
				cands = append(cands, candidate{
					identity: identity{ns: string(key), id: string(id.GetStringBytes())},
					primary:  p != nil && p.Type() == fastjson.TypeTrue,
					source:   0, pos: len(cands),
				})
			}
		})
	}
	if list := v.Get("identities"); list != nil && list.Type() == fastjson.TypeArray {
		for _, e := range list.GetArray() {
			id, code := e.Get("id"), e.Get("namespace", "code")
			if e.Type() != fastjson.TypeObject || id == nil || id.Type() != fastjson.TypeString || len(id.GetStringBytes()) == 0 ||
				code == nil || code.Type() != fastjson.TypeString || len(code.GetStringBytes()) == 0 {
				continue
			}
			p := e.Get("primary")
			cands = append(cands, candidate{
				identity: identity{ns: string(code.GetStringBytes()), id: string(id.GetStringBytes())},
				primary:  p != nil && p.Type() == fastjson.TypeTrue,
				source:   1, pos: len(cands),
			})
		}
	}
	if len(cands) == 0 {
		return nil
	}
	best := 0
	for i := 1; i < len(cands); i++ {
		a, b := cands[i], cands[best]
		var better bool
		switch {
		case a.primary != b.primary:
			better = a.primary
		case a.primary && a.source != b.source:
			better = a.source < b.source
		default:
			// Same rank: the smallest namespace wins, then the earlier entry (identityMap entries
			// come first, so they win ties of unmarked entries across the two sources).
			better = a.ns < b.ns
		}
		if better {
			best = i
		}
	}
	ids := make([]identity, 0, len(cands))
	ids = append(ids, cands[best].identity)
	for i, c := range cands {
		if i != best && !slices.Contains(ids, c.identity) {
			ids = append(ids, c.identity)
		}
	}
	return ids
}

func jsonTypeName(t fastjson.Type) string {
	if t == fastjson.TypeTrue || t == fastjson.TypeFalse {
		return "boolean"
	}
	return t.String()
}
