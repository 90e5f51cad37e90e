// Package record is what the profile store keeps of an ingested record: its kind, its
// identities (the primary one first), an event's _id and time, and its body; and the checks
// that make a line of a batch file such a record, or say why not.
package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

// Kind is what a dataset's schema makes of its records.
type Kind uint8

const (
	Other    Kind = iota // any other schema: kept as files, never reaches the profile store
	Fragment             // XDM Individual Profile record
	Event                // XDM ExperienceEvent
	Union                // the profile union view: export destinations only
)

// SchemaKind is the kind of the records of a dataset of the given schema.
func SchemaKind(schemaID string) Kind {
	switch schemaID {
	case aepwire.SchemaProfile:
		return Fragment
	case aepwire.SchemaExperienceEvent:
		return Event
	case aepwire.SchemaProfileUnion:
		return Union
	}
	return Other
}

// AEP guardrails on record size; "over" means strictly greater.
const (
	maxProfileRecordBytes = 100 * 1024
	maxEventRecordBytes   = 10 * 1024
)

// MaxNamespaceBytes is the longest namespace an identity may have, in bytes: AEP's namespaces
// are short codes (ECID, Email, CRMID), and an export job counts its rows by namespace. AEP
// documents no limit.
const MaxNamespaceBytes = 256

// Codes of record errors, in the order the checks run: a record failing several checks reports
// the first.
const (
	CodeInvalidJSON   = "INGEST-1000"
	CodeNotObject     = "INGEST-1001"
	CodeTooLarge      = "INGEST-1002"
	CodeLongNamespace = "INGEST-1006"
	CodeNoIdentity    = "INGEST-1003"
	CodeNoEventID     = "INGEST-1004"
	CodeBadTimestamp  = "INGEST-1005"
)

// Identity is a (namespace, id) pair. Matching is exact and case-sensitive.
type Identity struct {
	NS, ID string
}

// Compare orders identities by namespace, then id, in byte order.
func (a Identity) Compare(b Identity) int {
	if c := strings.Compare(a.NS, b.NS); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

// Record is a validated record of a profile or event dataset, as the profile store keeps it.
type Record struct {
	Kind Kind
	// Seq orders the records of one batch: a later record counts as later.
	Seq uint64
	// Identities holds the record's distinct identities, its primary identity first.
	Identities []Identity
	// EventID is an event's _id.
	EventID string
	// Timestamp is an event's time in nanoseconds since the Unix epoch.
	Timestamp int64
	Body      []byte
	// Members, of a profile fragment, says where the body's top-level members start
	// (fields.AppendMemberStarts), so that an export can jump over those it does not keep; empty
	// when that is not known.
	Members []byte
}

// Primary is the record's primary identity.
func (r *Record) Primary() Identity { return r.Identities[0] }

// Error is why a record was refused: a code (Code...) and a reason a user can act on.
type Error struct {
	Code, Reason string
}

// Parser validates records. It is not safe for concurrent use.
type Parser struct {
	p          fastjson.Parser
	cands      []candidate       // scratch for a record's identities
	namespaces map[string]string // namespace names seen, shared by the records that have them
	// Names, when set, collects the top-level names of the profile fragments it accepts.
	Names *Names
	// starts holds the member starts of the records it returns, which keep them: when it is full,
	// another takes its place.
	starts []byte
	scan   plainScan // scratch for scanPlain
}

// startsBlock is the size of a Parser's blocks of member starts: a few thousand records'.
const startsBlock = 64 << 10

// Parse validates raw as a record of the given kind: the record, or why it is refused. The
// record's body aliases raw.
func (rp *Parser) Parse(raw []byte, kind Kind) (*Record, *Error) {
	if kind == Fragment || kind == Event {
		if r, ok := rp.scanPlain(raw, kind); ok {
			return r, nil
		}
	}
	return rp.parseTree(raw, kind)
}

// parseTree is Parse by way of fastjson's tree of raw's values: for any record, and the one way
// for those scanPlain does not accept, which it then refuses or accepts.
func (rp *Parser) parseTree(raw []byte, kind Kind) (*Record, *Error) {
	v, err := rp.parseValid(raw)
	if err != nil {
		return nil, &Error{CodeInvalidJSON, "not valid JSON: " + err.Error()}
	}
	if v.Type() != fastjson.TypeObject {
		return nil, &Error{CodeNotObject, fmt.Sprintf("the record is a JSON %s, not an object", jsonTypeName(v.Type()))}
	}
	if kind != Fragment && kind != Event {
		return &Record{Kind: kind, Body: raw}, nil
	}
	limit, what := maxProfileRecordBytes, "profile records"
	if kind == Event {
		limit, what = maxEventRecordBytes, "experience events"
	}
	if len(raw) > limit {
		return nil, &Error{CodeTooLarge, fmt.Sprintf("the record is %d bytes, over the %d KB limit of %s",
			len(raw), limit/1024, what)}
	}
	ids, long := rp.identities(v)
	if long != nil {
		return nil, long
	}
	if len(ids) == 0 {
		return nil, &Error{CodeNoIdentity, "the record has no identity: it needs an identityMap entry " +
			"or an identities[] entry with a non-empty string id"}
	}
	r := &Record{Kind: kind, Identities: ids, Body: raw}
	if kind == Event {
		id := v.Get("_id")
		if id == nil || id.Type() != fastjson.TypeString || len(id.GetStringBytes()) == 0 {
			return nil, &Error{CodeNoEventID, "the event has no _id: it needs a non-empty string _id"}
		}
		r.EventID = string(id.GetStringBytes())
		ts := v.Get("timestamp")
		if ts == nil || ts.Type() != fastjson.TypeString {
			return nil, &Error{CodeBadTimestamp, "the event has no timestamp: it needs an RFC 3339 date-time string"}
		}
		s := string(ts.GetStringBytes())
		if r.Timestamp, err = parseTimestamp(s); err != nil {
			return nil, &Error{CodeBadTimestamp, fmt.Sprintf("the event timestamp %s is not an RFC 3339 "+
				"date-time with an offset, such as 2026-01-31T12:00:00Z", aepwire.QuoteShort(s))}
		}
	}
	// Last: collecting the names unescapes the object's keys in place, and after that fastjson's
	// Get finds a name by its unescaped spelling, where the checks above find the first written
	// as asked.
	if kind == Fragment && rp.Names != nil {
		rp.Names.Add(v)
	}
	if kind == Fragment {
		r.Members = rp.memberStarts(raw, v)
	}
	return r, nil
}

// memberStarts returns where the top-level members of a fragment's body start, or nil when that
// is not kept (fields.AppendMemberStarts).
func (rp *Parser) memberStarts(raw []byte, v *fastjson.Value) []byte {
	start := rp.beginStarts()
	var ok bool
	if rp.starts, ok = appendNameStarts(rp.starts, raw, v); !ok {
		rp.starts, ok = fields.AppendMemberStarts(rp.starts[:start], raw)
	}
	return rp.endStarts(start, ok)
}

// beginStarts makes room in the parser's block for a record's member starts, and returns where
// they begin.
func (rp *Parser) beginStarts() int {
	if cap(rp.starts)-len(rp.starts) < binary.MaxVarintLen64*fields.MaxMemberStarts {
		rp.starts = make([]byte, 0, startsBlock)
	}
	return len(rp.starts)
}

// endStarts returns the member starts appended since start, or nil when they are not kept (not
// ok) or there are none.
func (rp *Parser) endStarts(start int, ok bool) []byte {
	if !ok || len(rp.starts) == start {
		rp.starts = rp.starts[:start]
		return nil
	}
	return rp.starts[start:len(rp.starts):len(rp.starts)]
}

// appendNameStarts is fields.AppendMemberStarts of raw, parsed as v, without reading raw again.
// fastjson parses a copy of raw from its first non-space byte on, and the names it gives of an
// object without escapes are views of that copy: a name's place in memory, less the first name's,
// is its place in raw less the first name's, and the first name is the first string of raw. Each
// name is checked in raw, between quotes where that places it, after the name before it. It
// reports false where it cannot tell: raw has a backslash (a name unescaped is no longer what the
// copy holds), a name is empty, or one is not where that places it.
func appendNameStarts(dst, raw []byte, v *fastjson.Value) ([]byte, bool) {
	o, err := v.Object()
	if err != nil || o.Len() == 0 || o.Len() > fields.MaxMemberStarts || bytes.IndexByte(raw, '\\') >= 0 {
		return dst, false
	}
	first := bytes.IndexByte(raw, '"') + 1 // the first name's first byte
	var base uintptr                       // where raw's first byte would be in the copy
	start, prev, ok := len(dst), 0, true
	o.Visit(func(key []byte, _ *fastjson.Value) {
		if !ok {
			return
		}
		p := uintptr(unsafe.Pointer(unsafe.SliceData(key)))
		if base == 0 {
			base = p - uintptr(first)
		}
		at := p - base // wraps around below the copy
		quote := int(at) - 1
		ok = len(key) > 0 && at > uintptr(prev+1) && at < uintptr(len(raw)) && uintptr(len(key)) < uintptr(len(raw))-at &&
			raw[quote] == '"' && raw[int(at)+len(key)] == '"' && bytes.Equal(raw[at:int(at)+len(key)], key)
		if ok {
			dst = binary.AppendUvarint(dst, uint64(quote-prev))
			prev = quote
		}
	})
	if !ok {
		return dst[:start], false
	}
	return dst, true
}

var errBadTimestamp = fmt.Errorf("bad timestamp")

func parseTimestamp(s string) (int64, error) {
	ns, ok := aepwire.ParseTimestamp(s)
	if !ok {
		return 0, errBadTimestamp
	}
	return ns, nil
}

// parseValid parses raw, which must be one strict JSON value: what validateJSON accepts, within
// fastjson's depth limit.
//
// Most of the records that scanPlain does not read are read once here, by fastjson's parser. It
// checks what the validator does, except escape sequences (it unescapes them later, leaving bad
// ones as written), control characters (nor does the validator: see validateJSON) and the syntax
// of numbers (it takes any run of digits, signs, dots and exponents, and NaN and Inf). So a record
// without a backslash or a byte below 0x20, which the parser takes and whose numbers are strict,
// is one the validator takes. Any other record is validated first, then parsed, as before; its
// error is the validator's.
func (rp *Parser) parseValid(raw []byte) (*fastjson.Value, error) {
	if err := checkUTF8(raw); err != nil {
		return nil, err
	}
	below := hasByteBelowSpace(raw)
	if !below && bytes.IndexByte(raw, '\\') < 0 {
		if v, err := rp.p.ParseBytes(raw); err == nil && strictNumbers(raw) {
			return v, nil
		}
	}
	if err := validateSyntax(raw, below); err != nil {
		return nil, err
	}
	return rp.p.ParseBytes(raw) // fails only past the parser's depth limit
}

// strictNumbers reports whether the numbers of raw are all written as JSON has them. raw is text
// that fastjson parsed and that has no backslash, so each quote opens or closes a string, and
// outside strings each run of bytes that are not structure or space is a literal fastjson took:
// true, false, null, or a number as written (NaN and Inf among them). It reads raw's bytes
// rather than walking the parsed values, which would unescape every object's keys on the way.
func strictNumbers(raw []byte) bool {
	for i := 0; i < len(raw); {
		switch c := raw[i]; {
		case c == '"':
			j := bytes.IndexByte(raw[i+1:], '"')
			if j < 0 {
				return false
			}
			i += j + 2
		case tokenEnd[c]:
			i++
		default:
			j := i + 1
			for j < len(raw) && !tokenEnd[raw[j]] {
				j++
			}
			if !literal(raw[i:j]) {
				return false
			}
			i = j
		}
	}
	return true
}

// literal reports whether tok, a run of bytes outside strings that are not structure or space, is
// true, false, null or a number as JSON writes one.
func literal(tok []byte) bool {
	switch string(tok) {
	case "true", "false", "null":
		return true
	}
	return fields.IsNumber(tok)
}

// tokenEnd marks the bytes that end a literal or a number: structure, quotes and space.
var tokenEnd = func() (t [256]bool) {
	for _, c := range []byte(" \t\n\r,:[]{}\"") {
		t[c] = true
	}
	return t
}()

// validateJSON checks that raw is one strict JSON value. fastjson's validator is strict except
// that it lets control characters through inside strings; such bytes are rare, so the slower
// standard library checks the values that have them.
func validateJSON(raw []byte) error {
	if err := checkUTF8(raw); err != nil {
		return err
	}
	return validateSyntax(raw, hasByteBelowSpace(raw))
}

// validateSyntax is validateJSON for text known to be UTF-8, where below is whether it has a byte
// below 0x20 (hasByteBelowSpace).
func validateSyntax(raw []byte, below bool) error {
	if !below {
		return fastjson.ValidateBytes(raw)
	}
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

// checkUTF8 refuses a record that is not UTF-8, as JSON text must be (RFC 8259). fastjson takes
// any byte in a string; a name of invalid UTF-8 would be written out with U+FFFD in its place, so
// that two names could come out as one.
func checkUTF8(raw []byte) error {
	if utf8.Valid(raw) {
		return nil
	}
	i := 0
	for i < len(raw) {
		r, size := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return fmt.Errorf("the text is not UTF-8 at byte %d: save the file as UTF-8", i+1)
}

// hasByteBelowSpace reports whether b has a byte below 0x20 (a control character or a tab).
// Validation looks at every byte of every record, and such bytes are rare.
func hasByteBelowSpace(b []byte) bool {
	below, _ := byteClasses(b)
	return below
}

// byteClasses reports whether b has a byte below 0x20, and whether it has one above printable
// ASCII (0x7f and up), eight bytes at a time. v - 0x20 in a byte borrows, setting its high bit
// where ^v has it too, only when the byte is below 0x20 or a borrow came from a lower byte that
// is. v&0x7f + 1 in a byte sets its high bit where its low seven bits are all ones (0x7f, and
// 0xff), and never carries into the next byte; v has it where the byte is 0x80 or above.
func byteClasses(b []byte) (below, above bool) {
	const spaces, highs, lows, ones = 0x2020202020202020, 0x8080808080808080, 0x7f7f7f7f7f7f7f7f, 0x0101010101010101
	var wide uint64
	i := 0
	for ; i+8 <= len(b); i += 8 {
		v := binary.LittleEndian.Uint64(b[i:])
		if (v-spaces)&^v&highs != 0 {
			return true, wide&highs != 0 || slices.ContainsFunc(b[i:], func(c byte) bool { return c >= 0x7f })
		}
		wide |= (v&lows + ones) | v
	}
	above = wide&highs != 0
	for ; i < len(b); i++ {
		below = below || b[i] < 0x20
		above = above || b[i] >= 0x7f
	}
	return below, above
}

// identities returns the distinct identities of a record with its primary identity first:
// the identityMap entry marked primary, else the identities[] entry marked primary (among several,
// the smallest namespace, then array order), else the first entry of the smallest namespace. A
// record with an identity whose namespace is over MaxNamespaceBytes is refused: long says why.
func (rp *Parser) identities(v *fastjson.Value) (_ []Identity, long *Error) {
	cands := rp.cands[:0]
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
				if len(key) > MaxNamespaceBytes {
					if long == nil {
						long = longNamespace("identityMap namespace", key)
					}
					continue
				}
				p := e.Get("primary")
				cands = append(cands, candidate{
					Identity: Identity{NS: rp.namespace(key), ID: string(id.GetStringBytes())},
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
			if len(code.GetStringBytes()) > MaxNamespaceBytes {
				if long == nil {
					long = longNamespace("identities[].namespace.code", code.GetStringBytes())
				}
				continue
			}
			p := e.Get("primary")
			cands = append(cands, candidate{
				Identity: Identity{NS: rp.namespace(code.GetStringBytes()), ID: string(id.GetStringBytes())},
				primary:  p != nil && p.Type() == fastjson.TypeTrue,
				source:   1, pos: len(cands),
			})
		}
	}
	rp.cands = cands // kept for the next record; its strings are the record's own
	if long != nil {
		return nil, long
	}
	return primaryFirst(cands), nil
}

// longNamespace is the refusal of a record with an identity in namespace ns, which is over
// MaxNamespaceBytes; field says where the record names it.
func longNamespace(field string, ns []byte) *Error {
	return &Error{CodeLongNamespace, fmt.Sprintf("the %s %s is %d bytes long, more than the %d bytes an identity "+
		"namespace may have; use the namespace's code, such as ECID, Email or CRMID", field,
		aepwire.QuoteShort(string(ns)), len(ns), MaxNamespaceBytes)}
}

// primaryFirst returns the distinct identities of a record's candidates, those of its
// identityMap first, then those of its identities[], in order: the primary one first, then the
// rest as they come.
func primaryFirst(cands []candidate) []Identity {
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
			better = a.NS < b.NS
		}
		if better {
			best = i
		}
	}
	ids := make([]Identity, 0, len(cands))
	ids = append(ids, cands[best].Identity)
	for i, c := range cands {
		if i != best && !slices.Contains(ids, c.Identity) {
			ids = append(ids, c.Identity)
		}
	}
	return ids
}

// candidate is an identity of a record, with what ranks it for primary.
type candidate struct {
	Identity
	primary bool
	source  int // 0 identityMap, 1 identities[]
	pos     int // order of appearance
}

// maxNamespaces bounds the namespace names a Parser keeps to share among its records.
const maxNamespaces = 256

// namespace returns name as a string, shared with the records before that had it: a batch has
// few namespaces and many records.
func (rp *Parser) namespace(name []byte) string {
	if s, ok := rp.namespaces[string(name)]; ok {
		return s
	}
	s := string(name)
	if len(rp.namespaces) < maxNamespaces {
		if rp.namespaces == nil {
			rp.namespaces = map[string]string{}
		}
		rp.namespaces[s] = s
	}
	return s
}

func jsonTypeName(t fastjson.Type) string {
	if t == fastjson.TypeTrue || t == fastjson.TypeFalse {
		return "boolean"
	}
	return t.String()
}
