package main

import (
	"fmt"
	"strings"
)

// selection is a parsed fields list: the names selected below a node, or all of it.
type selection struct {
	all      bool
	children map[string]*selection
}

var selectAll = &selection{all: true}

// parseFields parses the export's fields grammar: comma-separated dot paths, where a(b,c.d)
// stands for a.b,a.c.d. An empty list selects everything.
func parseFields(s string) (*selection, error) {
	if strings.TrimSpace(s) == "" {
		return selectAll, nil
	}
	root := &selection{children: map[string]*selection{}}
	p := &fieldParser{in: s}
	if err := p.list(root, nil); err != nil {
		return nil, err
	}
	if p.pos < len(p.in) {
		return nil, fmt.Errorf("fields %q: unexpected %q at %d", s, p.in[p.pos], p.pos)
	}
	return root, nil
}

type fieldParser struct {
	in  string
	pos int
}

func (p *fieldParser) skipSpace() {
	for p.pos < len(p.in) && strings.ContainsRune(" \t\n\r", rune(p.in[p.pos])) {
		p.pos++
	}
}

func (p *fieldParser) list(root *selection, prefix []string) error {
	for {
		p.skipSpace()
		path := append([]string(nil), prefix...)
		for {
			start := p.pos
			for p.pos < len(p.in) && !strings.ContainsRune(".,() \t\n\r", rune(p.in[p.pos])) {
				p.pos++
			}
			if p.pos == start {
				return fmt.Errorf("fields %q: a name is missing at %d", p.in, start)
			}
			path = append(path, p.in[start:p.pos])
			if p.pos < len(p.in) && p.in[p.pos] == '.' {
				p.pos++
				continue
			}
			break
		}
		p.skipSpace()
		if p.pos < len(p.in) && p.in[p.pos] == '(' {
			p.pos++
			if err := p.list(root, path); err != nil {
				return err
			}
			if p.pos >= len(p.in) || p.in[p.pos] != ')' {
				return fmt.Errorf("fields %q: ')' is missing at %d", p.in, p.pos)
			}
			p.pos++
			p.skipSpace()
		} else {
			root.add(path)
		}
		if p.pos < len(p.in) && p.in[p.pos] == ',' {
			p.pos++
			continue
		}
		return nil
	}
}

func (s *selection) add(path []string) {
	for _, name := range path {
		if s.all {
			return
		}
		c, ok := s.children[name]
		if !ok {
			c = &selection{children: map[string]*selection{}}
			s.children[name] = c
		}
		s = c
	}
	s.all, s.children = true, nil
}

// child is what s selects below name, or nil.
func (s *selection) child(name string) *selection {
	if s.all {
		return selectAll
	}
	return s.children[name]
}
