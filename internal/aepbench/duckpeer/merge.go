package main

import (
	"fmt"
	"strings"
)

// The export as DuckDB SQL, following the engine's contract (merge policies with
// attributeMerge timestampOrdered):
//
//   - a profile is, with identity graph `none`, the fragments of one primary identity (a group
//     per identity), and with `pdg`, the fragments of a connected component of the graph that
//     every record's identities make (labels propagated until they settle; components of more
//     than 50 identities left out); rows are ordered by that identity, or by the component's
//     smallest;
//   - null is absent; the newest fragment wins each field it has (arg_max over the fragment's
//     rank: its batch, then, where the rows of a table give it, its place in the batch);
//   - objects merge field by field, recursively, so each selected leaf is merged on its own, and
//     an object none of whose leaves is left is absent;
//   - identityMap: per namespace, the entries of every fragment, newest first, each id once (its
//     newest entry), sorted by id;
//   - segmentMembership: per segment, the membership qualified last (ties: the newest fragment);
//   - every other array is atomic: the newest fragment's whole array;
//   - eventList: the component's events (each _id once, the later one), ordered by timestamp and
//     _id, projected by their own fields.
//
// What it leaves out, because the generated data does not need it: read from files, fragments of
// one profile in one batch are ranked alike (the data has at most one fragment of a primary
// identity in a batch, which the export checks); a selection inside an array; namespaces and
// segments other than the declared schema's.

// source is a batch: a JSON Lines file, or a table loaded from one. Later sources rank higher.
type source struct {
	file, table string
}

// rank is the priority of a record of the i-th source: its batch and, in a table, whose rows keep
// the order of the file, its place in the batch.
func (s source) rank(i int) string {
	if s.table != "" {
		return fmt.Sprintf("((%d::BIGINT << 40) + rowid)", i+1)
	}
	return fmt.Sprintf("%d::BIGINT", i+1)
}

// from is the relation of the source, reading the columns given.
func (s source) from(cols []*node) string {
	if s.table != "" {
		return s.table
	}
	return fmt.Sprintf("read_json(%s, format='newline_delimited', columns=%s)", literal(s.file), columns(cols))
}

// profileQuery is the merge of the selected fields: the aggregates of a group of fragments (one a
// merged leaf), the leaves made of them, the row's columns made of the leaves, and the columns to
// read.
type profileQuery struct {
	aggs, leaves, outCols []string
	readCols              []*node
}

func mergeQuery(sel *selection) (*profileQuery, error) {
	q := &profileQuery{}
	for _, f := range profileSchema.fields {
		s := sel.child(f.name)
		if s == nil && f.name != "identityMap" && f.name != "identities" {
			continue
		}
		col := f
		if s != nil {
			var out string
			var ok bool
			var err error
			switch f.name {
			case "identityMap":
				out, ok, err = q.identityMap(f, s)
			case "segmentMembership":
				out, ok, err = q.segmentMembership(f, s)
			default:
				out, ok, err = q.merge(f, s, ident(f.name))
			}
			if err != nil {
				return nil, err
			}
			if ok {
				q.outCols = append(q.outCols, out+" AS "+ident(f.name))
			}
			if f.name != "identityMap" {
				col = prune(f, s)
			}
		}
		q.readCols = append(q.readCols, col)
	}
	if len(q.outCols) == 0 {
		// Nothing selected: every row is {} (a null column, which reads back as absent).
		q.outCols = append(q.outCols, "NULL::INTEGER AS "+ident("nothing"))
	}
	return q, nil
}

// fragments is the union of the sources' fragments, with their rank (prio) and the columns q reads.
func (q *profileQuery) fragments(sources []source, extra string) string {
	names := make([]string, len(q.readCols))
	for i, c := range q.readCols {
		names[i] = ident(c.name)
	}
	var parts []string
	for i, s := range sources {
		parts = append(parts, fmt.Sprintf("SELECT %s AS prio, %s%s FROM %s", s.rank(i), extra, strings.Join(names, ", "), s.from(q.readCols)))
	}
	return strings.Join(parts, "\n  UNION ALL\n  ")
}

// noneSQL is the export with identity graph none: a row a primary identity.
func noneSQL(sources []source, q *profileQuery) string {
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
		q.fragments(sources, ""), primaryIdentity(),
		strings.Join(q.aggs, ", "), strings.Join(q.leaves, ", "), strings.Join(q.outCols, ", "))
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
		parts = append(parts, fmt.Sprintf("SELECT %d AS prio, identityMap, identities FROM %s", i+1, s.from(cols)))
	}
	return strings.Join(parts, " UNION ALL ")
}

// identityCandidates lists a record's identities as structs {r, ns, s, i, id}: r ranks how
// primary it is (0 marked in identityMap, 1 marked in identities[], 2 not marked), s its source
// (0 identityMap, 1 identities[]) and i its place there. Entries without a non-empty id and
// namespace do not count.
func identityCandidates(namespaces []string, withIdentities bool) string {
	var lists []string
	for _, ns := range namespaces {
		lists = append(lists, fmt.Sprintf(
			"list_transform(coalesce(identityMap.%s, []), lambda e, i: {r: if(e.\"primary\", 0, 2), ns: %s, s: 0, i: i, id: e.id})",
			ident(ns), literal(ns)))
	}
	if withIdentities {
		lists = append(lists,
			"list_transform(coalesce(identities, []), lambda e, i: {r: if(e.\"primary\", 1, 2), ns: e.namespace.code, s: 1, i: i, id: e.id})")
	}
	return fmt.Sprintf("list_filter(list_concat(%s), lambda c: c.id <> '' AND c.ns <> '')", strings.Join(lists, ", "))
}

// primaryIdentity is a fragment's primary identity {r, ns, s, i, id}, as the engine picks it: the
// identityMap entry marked primary, else the identities[] entry marked primary, else the first
// entry of the smallest namespace (identityMap first); among equals, the smallest namespace, then
// the first entry.
func primaryIdentity() string {
	return "list_min(" + identityCandidates(identityNamespaces, true) + ")"
}

// leaf adds an aggregate and the value made from it (post, with %s for the aggregate), and
// returns the leaf's name.
func (q *profileQuery) leaf(agg, post string) string {
	a := fmt.Sprintf("a%d", len(q.aggs))
	q.aggs = append(q.aggs, agg+" AS "+a)
	l := fmt.Sprintf("l%d", len(q.leaves))
	q.leaves = append(q.leaves, fmt.Sprintf(post, a)+" AS "+l)
	return l
}

// merge is the merged value of field n (at path) as sel selects it, made of leaves.
func (q *profileQuery) merge(n *node, sel *selection, path string) (string, bool, error) {
	out, _, ok, err := project(n, sel, path, func(path string) string { return q.leaf("arg_max("+path+", prio)", "%s") })
	return out, ok, err
}

// project is the value of field n (at path) as sel selects it: leafOf(path) for a selected
// scalar, list or whole object leaf by leaf; a struct of what is selected in an object, absent
// when none of its leaves is present. It returns the expression and its leaves.
func project(n *node, sel *selection, path string, leafOf func(path string) string) (string, []string, bool, error) {
	switch {
	case n.isStruct:
		var parts, leaves []string
		for _, f := range n.fields {
			s := sel.child(f.name)
			if s == nil {
				continue
			}
			out, ls, ok, err := project(f, s, path+"."+ident(f.name), leafOf)
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
	l := leafOf(path)
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

func (q *profileQuery) identityMap(n *node, sel *selection) (string, bool, error) {
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
		// The fragments' lists with their rank, then newest first (a list sorted afterwards:
		// DuckDB's ordered aggregates, list(... ORDER BY ...), took two to three times as long);
		// each id once (its first, newest entry), then sorted by id (the entry's first field),
		// and absent when nothing is left.
		all := "flatten(list_transform(list_sort(%[1]s, 'DESC'), lambda x: x.l))"
		l := q.leaf(fmt.Sprintf("list({p: prio, l: %s}) FILTER (WHERE %s IS NOT NULL)", col, col),
			"nullif(list_sort(list_filter("+all+", lambda e, i: coalesce(e.id, '') <> '' AND "+
				"list_position(list_transform("+all+", lambda x: x.id), e.id) = i)), [])")
		parts = append(parts, ident(f.name)+": "+l)
		leaves = append(leaves, l)
	}
	if len(parts) == 0 {
		return "", false, nil
	}
	return structOrNull(parts, leaves), true, nil
}

func (q *profileQuery) segmentMembership(n *node, sel *selection) (string, bool, error) {
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
			l := q.leaf(fmt.Sprintf("arg_max(%[1]s, {valid: TRY_CAST(%[1]s.lastQualificationTime AS TIMESTAMPTZ) IS NOT NULL, "+
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
