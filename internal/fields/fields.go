// Package fields implements the `fields` grammar of AEP export jobs: a comma-separated list of
// dot paths that selects parts of profiles and events, with `a(b,c.d)` as shorthand for
// `a.b,a.c.d`. One parser serves the engine (which projects with it) and the provider (which
// validates at plan time), so both accept and refuse exactly the same lists.
package fields

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// Selector is a parsed field list: a tree of selected names. A nil *Selector selects everything.
type Selector struct {
	all      bool
	children map[string]*Selector
	order    []string // children in the order they were first named
}

// SyntaxError is a malformed field list: what is wrong, and where (the 1-based position of the
// character at fault, counting characters, not bytes).
type SyntaxError struct {
	Pos    int
	Reason string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("position %d: %s", e.Pos, e.Reason)
}

// Parse parses a field list. An empty list (or only whitespace) selects everything and returns nil.
func Parse(s string) (*Selector, error) {
	p := &parser{in: []rune(s)}
	p.skipSpace()
	if p.eof() {
		return nil, nil
	}
	root := &Selector{}
	if err := p.list(root, nil, false); err != nil {
		return nil, err
	}
	p.skipSpace()
	if !p.eof() {
		if p.peek() == ')' {
			return nil, p.errorf("')' has no matching '('")
		}
		return nil, p.errorf("unexpected %s", p.describe())
	}
	return root, nil
}

type parser struct {
	in  []rune
	pos int // index of the next rune
}

func (p *parser) eof() bool  { return p.pos >= len(p.in) }
func (p *parser) peek() rune { return p.in[p.pos] }

func (p *parser) skipSpace() {
	for !p.eof() && unicode.IsSpace(p.peek()) {
		p.pos++
	}
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Pos: p.pos + 1, Reason: fmt.Sprintf(format, args...)}
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

// list parses items separated by commas into root, each prefixed by prefix. Inside parentheses
// it stops before the closing ')'.
func (p *parser) list(root *Selector, prefix []string, nested bool) error {
	for {
		p.skipSpace()
		if err := p.item(root, prefix); err != nil {
			return err
		}
		p.skipSpace()
		if p.eof() || (nested && p.peek() == ')') {
			return nil
		}
		if p.peek() != ',' {
			if p.peek() == ')' {
				return p.errorf("')' has no matching '('")
			}
			return p.errorf("expected ',' between paths, found %s", p.describe())
		}
		p.pos++ // ','
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
	}
}

// item parses one path, with an optional parenthesised list after its last name.
func (p *parser) item(root *Selector, prefix []string) error {
	path := slices.Clone(prefix)
	for {
		name, err := p.name()
		if err != nil {
			return err
		}
		path = append(path, name)
		if p.eof() || p.peek() != '.' {
			break
		}
		p.pos++ // '.'
	}
	save := p.pos
	p.skipSpace()
	if p.eof() || p.peek() != '(' {
		p.pos = save
		root.add(path)
		return nil
	}
	p.pos++ // '('
	p.skipSpace()
	if p.eof() {
		return p.errorf("'(' is not closed")
	}
	if p.peek() == ')' {
		return p.errorf("empty parentheses: name at least one path inside them")
	}
	if err := p.list(root, path, true); err != nil {
		return err
	}
	if p.eof() {
		return p.errorf("'(' is not closed")
	}
	p.pos++ // ')'
	// After a closing parenthesis only a separator, another ')' or the end may follow.
	save = p.pos
	p.skipSpace()
	if !p.eof() && p.peek() != ',' && p.peek() != ')' {
		if p.pos == save && p.peek() == '.' {
			return p.errorf("a path cannot continue after ')': write a(b.c) rather than a(b).c")
		}
		return p.errorf("expected ',' after ')', found %s", p.describe())
	}
	p.pos = save
	return nil
}

// name parses one name of a path.
func (p *parser) name() (string, error) {
	start := p.pos
	for !p.eof() && isNameRune(p.peek()) {
		p.pos++
	}
	if p.pos > start {
		if !p.eof() && unicode.IsSpace(p.peek()) {
			// Whitespace may only stand next to commas and parentheses.
			end := p.pos
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
		return string(p.in[start:p.pos]), nil
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

func (s *Selector) add(path []string) {
	n := s
	for _, name := range path {
		if n.all {
			return // a parent is already selected whole
		}
		if n.children == nil {
			n.children = map[string]*Selector{}
		}
		c, ok := n.children[name]
		if !ok {
			c = &Selector{}
			n.children[name] = c
			n.order = append(n.order, name)
		}
		n = c
	}
	n.all, n.children, n.order = true, nil, nil
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
		for _, name := range n.order {
			p := name
			if prefix != "" {
				p = prefix + "." + name
			}
			walk(n.children[name], p)
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
	c, ok := s.children[name]
	if ok && c.all {
		return nil, true
	}
	return c, ok
}
