package main

import (
	"fmt"
	"strings"
)

// The export as DuckDB SQL: the profile fragments of each batch (a file, or a table loaded from
// it), a primary identity for each fragment, one group per primary identity (merge policy
// `timestampOrdered` with identity graph `none`), the selected fields merged, rows ordered by
// primary identity. The merge follows the engine's contract:
//
//   - null is absent; a later batch wins each field it has (arg_max over the batch's priority,
//     which ignores nulls);
//   - objects merge field by field, recursively, so each selected leaf is merged on its own, and
//     an object none of whose leaves is left is absent;
//   - identityMap: per namespace, the entries of every fragment, newest first, each id once (its
//     newest entry), sorted by id;
//   - segmentMembership: per segment, the membership qualified last (ties: the newest batch);
//   - every other array is atomic: the newest fragment's whole array.
//
// What it leaves out, because the generated data does not need it: within one batch, fragments
// of one profile are not ranked by their order in the file (the data has at most one fragment of
// a primary identity per batch, which the load step checks); a selection inside an array is not
// supported; the namespaces and segments are those of the declared schema.

// source is a batch of profile fragments: a JSON Lines file, or a table loaded from one. Later
// sources rank higher.
type source struct {
	file, table string
}

// exportSQL is the query of an export with the given fields from sources, in batch order.
func exportSQL(sources []source, sel *selection) (string, error) {
	b := &sqlBuilder{}
	var outCols []string
	var readCols []*node
	for _, f := range profileSchema.fields {
		s := sel.child(f.name)
		need := s != nil || f.name == "identityMap" || f.name == "identities"
		if !need {
			continue
		}
		col := f
		if s != nil {
			var out string
			var ok bool
			var err error
			switch f.name {
			case "identityMap":
				out, ok, err = b.identityMap(f, s)
			case "segmentMembership":
				out, ok, err = b.segmentMembership(f, s)
			default:
				out, ok, err = b.merge(f, s, ident(f.name))
			}
			if err != nil {
				return "", err
			}
			if ok {
				outCols = append(outCols, out+" AS "+ident(f.name))
			}
			if f.name != "identityMap" {
				col = prune(f, s)
			}
		}
		readCols = append(readCols, col)
	}
	if len(outCols) == 0 {
		// Nothing selected: every row is {} (DuckDB needs a column: an object with nothing in it
		// is written as null, which reads back as absent).
		outCols = append(outCols, "NULL::INTEGER AS "+ident("nothing"))
	}
	names := make([]string, len(readCols))
	for i, c := range readCols {
		names[i] = ident(c.name)
	}
	var frags []string
	for i, s := range sources {
		from := s.table
		if s.file != "" {
			from = fmt.Sprintf("read_json(%s, format='newline_delimited', columns=%s)", literal(s.file), columns(readCols))
		}
		frags = append(frags, fmt.Sprintf("SELECT %d AS prio, %s FROM %s", i+1, strings.Join(names, ", "), from))
	}
	return fmt.Sprintf(`WITH frag AS (
  %s
), keyed AS (
  SELECT %s AS k, * FROM frag
), grouped AS (
  SELECT k.ns AS ns, k.id AS id, %s FROM keyed WHERE k IS NOT NULL GROUP BY k.ns, k.id
), leaves AS (
  SELECT ns, id, %s FROM grouped
)
SELECT %s FROM leaves ORDER BY ns, id`,
		strings.Join(frags, "\n  UNION ALL\n  "), primaryIdentity(),
		strings.Join(b.aggs, ", "), strings.Join(b.leaves, ", "), strings.Join(outCols, ", ")), nil
}

// keysSQL lists the profiles' primary identities in row order, and checkSQL counts the primary
// identities that occur more than once within one batch (which exportSQL does not rank).
func keysSQL(sources []source) string {
	return fmt.Sprintf("SELECT DISTINCT k.ns AS ns, k.id AS id FROM (SELECT %s AS k FROM (%s)) WHERE k IS NOT NULL ORDER BY ns, id",
		primaryIdentity(), identitySources(sources))
}

func checkSQL(sources []source) string {
	return fmt.Sprintf("SELECT count(*) FROM (SELECT prio, %s AS k FROM (%s)) WHERE k IS NOT NULL GROUP BY prio, k HAVING count(*) > 1",
		primaryIdentity(), identitySources(sources))
}

func identitySources(sources []source) string {
	cols := []*node{profileSchema.field("identityMap"), profileSchema.field("identities")}
	var parts []string
	for i, s := range sources {
		from := s.table
		if s.file != "" {
			from = fmt.Sprintf("read_json(%s, format='newline_delimited', columns=%s)", literal(s.file), columns(cols))
		}
		parts = append(parts, fmt.Sprintf("SELECT %d AS prio, identityMap, identities FROM %s", i+1, from))
	}
	return strings.Join(parts, " UNION ALL ")
}

// primaryIdentity is a fragment's primary identity {ns, id}, as the engine picks it: the
// identityMap entry marked primary, else the identities[] entry marked primary, else the first
// entry of the smallest namespace (identityMap first); among equals, the smallest namespace, then
// the first entry. Entries without a non-empty id or namespace do not count.
func primaryIdentity() string {
	var lists []string
	for _, ns := range identityNamespaces {
		lists = append(lists, fmt.Sprintf(
			"list_transform(coalesce(identityMap.%s, []), lambda e, i: {r: if(e.\"primary\", 0, 2), ns: %s, s: 0, i: i, id: e.id})",
			ident(ns), literal(ns)))
	}
	lists = append(lists,
		"list_transform(coalesce(identities, []), lambda e, i: {r: if(e.\"primary\", 1, 2), ns: e.namespace.code, s: 1, i: i, id: e.id})")
	return fmt.Sprintf("list_min(list_filter(list_concat(%s), lambda c: c.id <> '' AND c.ns <> ''))", strings.Join(lists, ", "))
}

// sqlBuilder collects the aggregates of the merge (one a merged leaf) and the leaf values made
// from them; the row is then built from the leaves.
type sqlBuilder struct {
	aggs   []string
	leaves []string
}

// leaf adds an aggregate and the value made from it (post, with %s for the aggregate), and
// returns the leaf's name.
func (b *sqlBuilder) leaf(agg, post string) string {
	a := fmt.Sprintf("a%d", len(b.aggs))
	b.aggs = append(b.aggs, agg+" AS "+a)
	l := fmt.Sprintf("l%d", len(b.leaves))
	b.leaves = append(b.leaves, fmt.Sprintf(post, a)+" AS "+l)
	return l
}

// merge is the merged value of field n (at path) as sel selects it, built from leaves: an
// expression of the last layer, and the leaves it is made of, so that an object with no leaf left
// can be made absent.
func (b *sqlBuilder) merge(n *node, sel *selection, path string) (string, bool, error) {
	out, _, ok, err := b.mergeLeaves(n, sel, path)
	return out, ok, err
}

func (b *sqlBuilder) mergeLeaves(n *node, sel *selection, path string) (string, []string, bool, error) {
	switch {
	case n.isStruct:
		var parts, leaves []string
		for _, f := range n.fields {
			s := sel.child(f.name)
			if s == nil {
				continue
			}
			out, ls, ok, err := b.mergeLeaves(f, s, path+"."+ident(f.name))
			if err != nil {
				return "", nil, false, err
			}
			if ok {
				parts = append(parts, ident(f.name)+": "+out)
				leaves = append(leaves, ls...)
			}
		}
		if len(parts) == 0 {
			return "", nil, false, nil
		}
		return structOrNull(parts, leaves), leaves, true, nil
	case !sel.all:
		if n.elem != nil {
			return "", nil, false, fmt.Errorf("fields: %s: a selection inside an array is not supported by the DuckDB peer", path)
		}
		return "", nil, false, nil // names below a scalar select nothing
	}
	l := b.leaf("arg_max("+path+", prio)", "%s")
	return l, []string{l}, true, nil
}

// structOrNull is a struct of parts, or null when all of leaves are null.
func structOrNull(parts, leaves []string) string {
	nulls := make([]string, len(leaves))
	for i, l := range leaves {
		nulls[i] = l + " IS NULL"
	}
	return fmt.Sprintf("CASE WHEN %s THEN NULL ELSE {%s} END", strings.Join(nulls, " AND "), strings.Join(parts, ", "))
}

func (b *sqlBuilder) identityMap(n *node, sel *selection) (string, bool, error) {
	var parts, leaves []string
	for _, f := range n.fields {
		s := sel.child(f.name)
		if s == nil {
			continue
		}
		if !s.all {
			return "", false, fmt.Errorf("fields: identityMap.%s: a selection inside an array is not supported by the DuckDB peer", f.name)
		}
		col := "identityMap." + ident(f.name)
		// Newest fragment first; each id once (its first, newest entry), then sorted by id (the
		// entry's first field), and absent when nothing is left.
		l := b.leaf(fmt.Sprintf("flatten(list(%s ORDER BY prio DESC) FILTER (WHERE %s IS NOT NULL))", col, col),
			"nullif(list_sort(list_filter(%[1]s, lambda e, i: coalesce(e.id, '') <> '' AND "+
				"list_position(list_transform(%[1]s, lambda x: x.id), e.id) = i)), [])")
		parts = append(parts, ident(f.name)+": "+l)
		leaves = append(leaves, l)
	}
	if len(parts) == 0 {
		return "", false, nil
	}
	return structOrNull(parts, leaves), true, nil
}

func (b *sqlBuilder) segmentMembership(n *node, sel *selection) (string, bool, error) {
	var nsParts, all []string
	for _, ns := range n.fields {
		nsSel := sel.child(ns.name)
		if nsSel == nil {
			continue
		}
		var parts, leaves []string
		for _, seg := range ns.fields {
			s := nsSel.child(seg.name)
			if s == nil {
				continue
			}
			if !s.all {
				return "", false, fmt.Errorf("fields: segmentMembership.%s.%s: a selection inside a membership is not supported by the DuckDB peer", ns.name, seg.name)
			}
			col := "segmentMembership." + ident(ns.name) + "." + ident(seg.name)
			l := b.leaf(fmt.Sprintf("arg_max(%[1]s, {valid: TRY_CAST(%[1]s.lastQualificationTime AS TIMESTAMPTZ) IS NOT NULL, "+
				"t: coalesce(TRY_CAST(%[1]s.lastQualificationTime AS TIMESTAMPTZ), TIMESTAMPTZ '1970-01-01 00:00:00+00'), p: prio})", col), "%s")
			parts = append(parts, ident(seg.name)+": "+l)
			leaves = append(leaves, l)
		}
		if len(parts) == 0 {
			continue
		}
		nsParts = append(nsParts, ident(ns.name)+": "+structOrNull(parts, leaves))
		all = append(all, leaves...)
	}
	if len(nsParts) == 0 {
		return "", false, nil
	}
	return structOrNull(nsParts, all), true, nil
}

// prune is n with only what sel selects, for reading no more of the files than the export needs.
func prune(n *node, sel *selection) *node {
	if sel.all || !n.isStruct {
		return n
	}
	out := &node{name: n.name, isStruct: true}
	for _, f := range n.fields {
		if s := sel.child(f.name); s != nil {
			out.fields = append(out.fields, prune(f, s))
		}
	}
	if len(out.fields) == 0 {
		return n // DuckDB wants a struct with fields; what is read is not used
	}
	return out
}
