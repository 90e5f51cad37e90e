package fields

import (
	"encoding/binary"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// AppendProjection appends the JSON of v as s selects it, and reports whether anything was
// selected. Selecting a name keeps its value whole and keeps its parents with only the selected
// children; a path that crosses an array applies to every element, elements with nothing selected
// are dropped, and so is an array with nothing left; a path that matches nothing selects nothing.
// A selected null is kept.
func (s *Selector) AppendProjection(dst []byte, v *fastjson.Value) ([]byte, bool) {
	if s == nil || s.all {
		return AppendValue(dst, v), true
	}
	start := len(dst)
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		selectedAny := false
		o.Visit(func(key []byte, child *fastjson.Value) {
			i, ok := s.lookupBytes(key)
			if !ok {
				return
			}
			c := s.kids[i].sel
			mark := len(dst)
			if selectedAny {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, key)
			dst = append(dst, ':')
			var selected bool
			if dst, selected = c.AppendProjection(dst, child); selected {
				selectedAny = true
			} else {
				dst = dst[:mark]
			}
		})
		if !selectedAny {
			return dst[:start], false
		}
		return append(dst, '}'), true
	case fastjson.TypeArray:
		dst = append(dst, '[')
		selectedAny := false
		for _, elem := range v.GetArray() {
			mark := len(dst)
			if selectedAny {
				dst = append(dst, ',')
			}
			var selected bool
			if dst, selected = s.AppendProjection(dst, elem); selected {
				selectedAny = true
			} else {
				dst = dst[:mark]
			}
		}
		if !selectedAny {
			return dst[:start], false
		}
		return append(dst, ']'), true
	}
	// A scalar or null below which more names are asked for: nothing is there.
	return dst, false
}

// AppendRow appends v projected as an export row: an object, `{}` when nothing is selected.
func (s *Selector) AppendRow(dst []byte, v *fastjson.Value) []byte {
	if v == nil || v.Type() != fastjson.TypeObject {
		return append(dst, "{}"...)
	}
	out, ok := s.AppendProjection(dst, v)
	if !ok {
		return append(dst, "{}"...)
	}
	return out
}

// AppendValue appends v as JSON. Strings and numbers keep the bytes they were parsed from; object
// keys are escaped as JSON requires.
func AppendValue(dst []byte, v *fastjson.Value) []byte {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(key []byte, child *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = AppendString(dst, key)
			dst = append(dst, ':')
			dst = AppendValue(dst, child)
		})
		return append(dst, '}')
	case fastjson.TypeArray:
		dst = append(dst, '[')
		for i, elem := range v.GetArray() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendValue(dst, elem)
		}
		return append(dst, ']')
	case fastjson.TypeString:
		// fastjson quotes a string with a quote, a backslash or a control character as Go does,
		// which is not always JSON (\x7f, \a, \v, \x01, \U0001xxxx); such strings are written here,
		// and the rest as they are, as fastjson writes them.
		s := v.GetStringBytes()
		if hasSpecial(s) {
			return AppendString(dst, s)
		}
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	return v.MarshalTo(dst)
}

// hasSpecial reports whether s has a byte that fastjson does not write as it is: a quote, a
// backslash or a control character. It reads eight bytes at a time.
func hasSpecial(s []byte) bool {
	for ; len(s) >= 8; s = s[8:] {
		if w := binary.LittleEndian.Uint64(s); controlQuoteOrBackslash(w) != 0 {
			return true
		}
	}
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// controlQuoteOrBackslash is non-zero when a byte of w is a control character (below 0x20), a
// quote or a backslash, and 0 when none is. (A borrow from the first such byte may mark bytes
// after it; without one, none is marked.)
func controlQuoteOrBackslash(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return ((w-0x20*ones)&^w)&highs | quoteOrBackslash(w)
}

// plainASCII reports whether s is printable ASCII without a quote or a backslash: what
// AppendString writes as it is. It reads eight bytes at a time.
func plainASCII(s []byte) bool {
	const highs = 0x8080808080808080
	for ; len(s) >= 8; s = s[8:] {
		if w := binary.LittleEndian.Uint64(s); w&highs != 0 || controlQuoteOrBackslash(w) != 0 {
			return false
		}
	}
	for _, c := range s {
		if c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string: quotes, backslashes and control characters escaped,
// other characters as they are (a byte of invalid UTF-8 becomes U+FFFD).
func AppendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	if plainASCII(s) { // most names and strings
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, string(utf8.RuneError)...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// lookupBytes is lookup for a key fastjson holds as bytes, without copying it.
func (s *Selector) lookupBytes(key []byte) (int, bool) {
	if s.index != nil {
		i, ok := s.index[string(key)]
		return i, ok
	}
	for i, k := range s.kids {
		if k.name == string(key) {
			return i, true
		}
	}
	return 0, false
}
