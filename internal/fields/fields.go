// Package fields implements the `fields` grammar of AEP export jobs: a comma-separated list of
// dot paths that selects parts of profiles and events, with `a(b,c.d)` as shorthand for
// `a.b,a.c.d`. One parser serves the engine (which projects with it) and the provider (which
// validates at plan time), so both accept and refuse exactly the same lists.
//
// A list comes from whoever calls the API, so parsing costs time and memory in proportion to its
// length, whatever its shape, and a list is refused past MaxLength characters or MaxDepth names
// deep before it can cost much of either.
package fields

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a field list. A real list names at most a few hundred paths of a dozen names each;
// these leave room for many times that, and bound what one request can make the parser hold.
const (
	// MaxLength is the most characters a list may have.
	MaxLength = 64 << 10
	// MaxDepth is the most names a path may have, counting the names before each '(' it is in:
	// a(b(c.d)) is 4 deep.
	MaxDepth = 64
)

// Selector is a parsed field list: a tree of selected names. A nil *Selector selects everything.
type Selector struct {
	all  bool
	kids []child // in the order first named
	// index finds a child by name once there are too many to look through.
	index map[string]int
	// members are the top-level members that plain rows treat apart; nil for none.
	members *plainMembers
}

// plainMembers name top-level members that plain rows treat apart; "" names none. identityMap
// and segmentMembership are read as an identity map and as segment memberships are merged (see
// WithMergedMembers); without is left out (see WithoutMember).
type plainMembers struct {
	identityMap, segmentMembership, without string
}

// plainMembers are the members that s's plain rows treat apart.
func (s *Selector) plainMembers() plainMembers {
	if s.members == nil {
		return plainMembers{}
	}
	return *s.members
}

// child is a name selected below a selector, and what is selected below it.
type child struct {
	name string
	sel  *Selector
}

// whole is every name selected whole: one value shared by all of them, so that a list of many
// leaves costs a slice entry each, not a node each. It is never changed.
var whole = &Selector{all: true}

// indexAbove is how many children a selector looks through before it builds an index.
const indexAbove = 8

// SyntaxError is a malformed field list: what is wrong, and where (the 1-based position of the
// character at fault, counting characters, not bytes). A list beyond MaxLength or MaxDepth is
// refused the same way, at the character that crosses the limit.
type SyntaxError struct {
	Pos    int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("position %d: %s", e.Pos, e.Reason)
}

// Parse parses a field list. An empty list (or only whitespace) selects everything and returns nil.
func Parse(s string) (*Selector, error) {
	return parse(s, MaxLength, MaxDepth)
}

// parse is Parse with other limits (the benchmarks lift them, to measure the parser alone).
func parse(s string, maxLength, maxDepth int) (*Selector, error) {
	if len(s) > maxLength && longerThan(s, maxLength) {
		return nil, &SyntaxError{Pos: maxLength + 1, Reason: fmt.Sprintf(
			"the list is longer than %d characters, the most it may have; select a parent path whole (a rather than a.b,a.c,...) "+
				"or fewer paths", maxLength)}
	}
	p := &parser{in: s, maxDepth: maxDepth}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	root := &Selector{}
	if err := p.list(root); err != nil {
		return nil, err
	}
	return root, nil
}

// longerThan reports whether s has more than n characters, reading no further than it must.
func longerThan(s string, n int) bool {
	i := 0
	for ; n > 0 && i < len(s); n-- {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return i < len(s)
}

// parser reads the list in one pass, without recursion: an open '(' is a frame on a stack, and
// each name is added to the tree as it is read, so that a path's prefix is never copied.
type parser struct {
	in       string
	pos      int // byte offset of the next character
	maxDepth int
}

// frame is an open parenthesis: the selector its paths go below (nil when a path before it is
// already selected whole, so that nothing below it needs keeping), and how many names deep that is.
type frame struct {
	node  *Selector
	depth int
}

func (p *parser) eof() bool { return p.pos >= len(p.in) }

// peek is the next character; an invalid byte reads as utf8.RuneError, one character long.
func (p *parser) peek() rune {
	if c := p.in[p.pos]; c < utf8.RuneSelf {
		return rune(c)
	}
	r, _ := utf8.DecodeRuneInString(p.in[p.pos:])
	return r
}

// next moves past the next character.
func (p *parser) next() {
	if p.in[p.pos] < utf8.RuneSelf {
		p.pos++
		return
	}
	_, size := utf8.DecodeRuneInString(p.in[p.pos:])
	p.pos += size
}

func (p *parser) skipSpace() {
	for !p.eof() && unicode.IsSpace(p.peek()) {
		p.next()
	}
}

// errorf is a syntax error at the next character.
func (p *parser) errorf(format string, args ...any) error {
	return p.errorAt(p.pos, format, args...)
}

func (p *parser) errorAt(offset int, format string, args ...any) error {
	return &SyntaxError{Pos: utf8.RuneCountInString(p.in[:offset]) + 1, Reason: fmt.Sprintf(format, args...)}
}

// describe names the next character for an error message.
func (p *parser) describe() string {
	if p.eof() {
		return "end of the list"
	}
	return fmt.Sprintf("%q", p.peek())
}

func isNameRune(r rune) bool {
	return r != '.' && r != ',' && r != '(' && r != ')' && !unicode.IsSpace(r)
}

// list parses the whole list into root: paths separated by commas, each with an optional
// parenthesised list after its last name, whose paths continue it.
func (p *parser) list(root *Selector) error {
	open := []frame{{node: root}}
	for {
		// One path, from the names of the innermost open parenthesis.
		p.skipSpace()
		top := open[len(open)-1]
		node, depth := top.node, top.depth
		var parent *Selector
		var at int
		for {
			start := p.pos
			name, err := p.name()
			if err != nil {
				return err
			}
			if depth++; depth > p.maxDepth {
				return p.errorAt(start, "the path is more than %d names deep, the most a path may be (a(b.c) counts as a.b.c); "+
					"select a parent path whole instead", p.maxDepth)
			}
			if node != nil {
				parent = node
				node, at = node.descend(name)
			}
			if p.eof() || p.peek() != '.' {
				break
			}
			p.next() // '.'
		}
		save := p.pos
		p.skipSpace()
		if !p.eof() && p.peek() == '(' {
			p.next()
			p.skipSpace()
			if p.eof() {
				return p.errorf("'(' is not closed")
			}
			if p.peek() == ')' {
				return p.errorf("empty parentheses: name at least one path inside them")
			}
			open = append(open, frame{node: node, depth: depth})
			continue
		}
		p.pos = save
		if node != nil {
			parent.kids[at].sel = whole // and whatever was selected below it goes
		}

		// What may follow a path: a comma and another path, the end of the list, or ')' closing
		// the innermost parenthesis, after which the same may follow.
		for {
			p.skipSpace()
			nested := len(open) > 1
			if p.eof() {
				if nested {
					return p.errorf("'(' is not closed")
				}
				return nil
			}
			if nested && p.peek() == ')' {
				p.next()
				open = open[:len(open)-1]
				save := p.pos
				p.skipSpace()
				if !p.eof() && p.peek() != ',' && p.peek() != ')' {
					if p.pos == save && p.peek() == '.' {
						return p.errorf("a path cannot continue after ')': write a(b.c) rather than a(b).c")
					}
					return p.errorf("expected ',' after ')', found %s", p.describe())
				}
				p.pos = save
				continue
			}
			if p.peek() != ',' {
				if p.peek() == ')' {
					return p.errorf("')' has no matching '('")
				}
				return p.errorf("expected ',' between paths, found %s", p.describe())
			}
			p.next() // ','
			p.skipSpace()
			if p.eof() {
				return p.errorf("a path is missing after ','")
			}
			if p.peek() == ',' {
				return p.errorf("a path is missing between two commas")
			}
			if nested && p.peek() == ')' {
				return p.errorf("a path is missing after ','")
			}
			break
		}
	}
}

// name parses one name of a path.
func (p *parser) name() (string, error) {
	start := p.pos
	for !p.eof() && isNameRune(p.peek()) {
		p.next()
	}
	if p.pos > start {
		end := p.pos
		if !p.eof() && unicode.IsSpace(p.peek()) {
			// Whitespace may only stand next to commas and parentheses.
			p.skipSpace()
			if !p.eof() && isNameRune(p.peek()) {
				p.pos = end
				return "", p.errorf("whitespace inside a path; names cannot contain spaces")
			}
			if !p.eof() && p.peek() == '.' {
				p.pos = end
				return "", p.errorf("whitespace inside a path; remove it around '.'")
			}
			p.pos = end
		}
		name := p.in[start:end]
		if !utf8.ValidString(name) {
			name = validName(name)
		}
		return name, nil
	}
	switch {
	case p.eof():
		return "", p.errorf("a name is missing at the end of the list")
	case p.peek() == '.':
		if p.pos > 0 && p.in[p.pos-1] == '.' {
			return "", p.errorf("a name is missing between two dots")
		}
		return "", p.errorf("a path cannot start with '.'")
	case p.peek() == '(':
		return "", p.errorf("'(' must follow a name, as in a(b,c)")
	case p.peek() == ')':
		return "", p.errorf("a name is missing before ')'")
	case p.peek() == ',':
		return "", p.errorf("a name is missing before ','")
	case unicode.IsSpace(p.peek()):
		return "", p.errorf("whitespace inside a path; remove it around '.'")
	}
	return "", p.errorf("a name is missing before %s", p.describe())
}

// validName replaces each byte of invalid UTF-8 with U+FFFD: a name is made of characters, and
// such a byte reads as one.
func validName(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// descend returns the selector of a name below s, adding it when it is new: nil when the name is
// already selected whole (nothing below it needs keeping), and where it stands in s.kids.
func (s *Selector) descend(name string) (*Selector, int) {
	if i, ok := s.lookup(name); ok {
		if c := s.kids[i].sel; c != whole {
			return c, i
		}
		return nil, i
	}
	c := &Selector{}
	s.add(name, c)
	return c, len(s.kids) - 1
}

// lookup finds a child by name.
func (s *Selector) lookup(name string) (int, bool) {
	if s.index != nil {
		i, ok := s.index[name]
		return i, ok
	}
	for i, k := range s.kids {
		if k.name == name {
			return i, true
		}
	}
	return 0, false
}

// String renders the selector as a normalised list of dot paths: every path in full, in the order
// first named, without the parenthesised shorthand. Parse(s.String()) selects the same.
func (s *Selector) String() string {
	if s == nil {
		return ""
	}
	var paths []string
	var walk func(n *Selector, prefix string)
	walk = func(n *Selector, prefix string) {
		if n.all {
			paths = append(paths, prefix)
			return
		}
		for _, k := range n.kids {
			p := k.name
			if prefix != "" {
				p = prefix + "." + k.name
			}
			walk(k.sel, p)
		}
	}
	walk(s, "")
	return strings.Join(paths, ",")
}

// Child returns the selector of a name below s, or nil when the name is not selected. When s
// selects everything, so does the child: ok reports whether anything is selected.
func (s *Selector) Child(name string) (child *Selector, ok bool) {
	if s == nil || s.all {
		return nil, true
	}
	i, ok := s.lookup(name)
	if !ok {
		return nil, false
	}
	if c := s.kids[i].sel; !c.all {
		return c, true
	}
	return nil, true
}
