package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxComponent is the engine's limit: a component of more identities is left out of exports.
const maxComponent = 50

// The tables of a loaded database: its batches in the order they were ingested, profile
// fragments first.
var (
	profileTables = []source{{table: "crm"}, {table: "loyalty"}}
	eventTable    = source{table: "web"}
)

// exportPDG runs the export with identity graph pdg from the loaded tables: the identities of
// every record, a node a distinct identity (numbered in (namespace, id) order, so that the smallest
// number is the smallest identity), a label a node, propagated through the records until no
// label changes (a component's label is then its smallest node), then one row a component with a
// fragment, merged like the export with `none`, with its events (when events selects their
// fields). It writes the rows to out; pdgKeysSQL then lists each row's smallest identity.
func exportPDG(ctx context.Context, db *sql.DB, q *profileQuery, events *selection, out string) (int64, error) {
	// The events that count: valid ones, each _id once, the later delivery (a replaced event
	// links nothing). (The window orders by rec, not rowid: DuckDB 1.5.6 fails with an internal
	// error on a QUALIFY ordered by rowid beside a column computed from it.)
	liveEvents := fmt.Sprintf(`CREATE TEMP TABLE live_events AS SELECT * FROM (
  SELECT %s AS rec, * FROM %s WHERE coalesce(_id, '') <> '' AND TRY_CAST("timestamp" AS TIMESTAMPTZ) IS NOT NULL
) QUALIFY row_number() OVER (PARTITION BY _id ORDER BY rec DESC) = 1`, eventTable.rank(len(profileTables)), eventTable.table)
	var recs []string
	for i, s := range profileTables {
		recs = append(recs, fmt.Sprintf("SELECT %s AS rec, list_distinct(list_transform(%s, lambda c: {ns: c.ns, id: c.id})) AS ids FROM %s",
			s.rank(i), identityCandidates(identityNamespaces, true), s.table))
	}
	recs = append(recs, fmt.Sprintf("SELECT rec, list_distinct(list_transform(%s, lambda c: {ns: c.ns, id: c.id})) AS ids FROM live_events",
		identityCandidates(eventNamespaces(), false)))
	setup := []string{
		liveEvents,
		// Each record's identities, and a number for each distinct identity.
		"CREATE TEMP TABLE rec_ident AS SELECT rec, unnest(ids) AS ident FROM (" + strings.Join(recs, " UNION ALL ") + ")",
		"CREATE TEMP TABLE nodes AS SELECT ident, row_number() OVER (ORDER BY ident.ns, ident.id) AS n FROM (SELECT DISTINCT ident FROM rec_ident)",
		"CREATE TEMP TABLE rec_node AS SELECT r.rec, n.n FROM rec_ident r JOIN nodes n ON n.ident = r.ident",
		"CREATE TEMP TABLE label AS SELECT n, n AS label FROM nodes",
	}
	for _, s := range setup {
		if _, err := run(ctx, db, s); err != nil {
			return 0, fmt.Errorf("%w\n%s", err, s)
		}
	}
	// A record takes the smallest label of its identities, an identity the smallest of its
	// records, until nothing changes.
	for {
		if _, err := run(ctx, db, "CREATE OR REPLACE TEMP TABLE rec_label AS "+
			"SELECT rn.rec, min(l.label) AS label FROM rec_node rn JOIN label l ON l.n = rn.n GROUP BY rn.rec"); err != nil {
			return 0, err
		}
		res, err := run(ctx, db, "UPDATE label SET label = m.label FROM "+
			"(SELECT rn.n, min(rl.label) AS label FROM rec_node rn JOIN rec_label rl ON rl.rec = rn.rec GROUP BY rn.n) m "+
			"WHERE label.n = m.n AND m.label < label.label")
		if err != nil {
			return 0, err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return 0, err
			}
			break
		}
	}
	if _, err := run(ctx, db, fmt.Sprintf("CREATE TEMP TABLE kept AS SELECT label FROM label GROUP BY label HAVING count(*) <= %d", maxComponent)); err != nil {
		return 0, err
	}
	query, err := pdgSQL(q, events)
	if err != nil {
		return 0, err
	}
	res, err := run(ctx, db, fmt.Sprintf("COPY (%s) TO %s (FORMAT json)", query, literal(out)))
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, query)
	}
	return res.RowsAffected()
}

func eventNamespaces() []string {
	var out []string
	for _, f := range eventSchema.field("identityMap").fields {
		out = append(out, f.name)
	}
	return out
}

// pdgSQL is the final query of exportPDG: a row a kept component with a fragment, in label order.
func pdgSQL(q *profileQuery, events *selection) (string, error) {
	frag := q.fragments(profileTables, "")
	evCTE, evCol, evJoin := "", "", ""
	if events != nil {
		ev, err := eventRow(events)
		if err != nil {
			return "", err
		}
		// Ordered by time, then _id (each _id is there once): a list of {time, _id, event}
		// sorted afterwards, which took DuckDB less than half as long as list(... ORDER BY ...).
		evCTE = fmt.Sprintf(`, ev AS (
  SELECT k, list_transform(list_sort(evs), lambda x: x.e) AS eventList FROM (
    SELECT rl.label AS k, list({t: TRY_CAST(w."timestamp" AS TIMESTAMPTZ), id: w._id, e: %s}) AS evs
    FROM live_events w JOIN rec_label rl ON rl.rec = w.rec
    GROUP BY rl.label
  )
)`, ev)
		evCol = `, coalesce(ev.eventList, []) AS "eventList"`
		evJoin = " LEFT JOIN ev ON ev.k = leaves.k"
	}
	return fmt.Sprintf(`WITH frag AS (
  %s
), keyed AS (
  SELECT rl.label AS k, frag.* FROM frag JOIN rec_label rl ON rl.rec = frag.prio JOIN kept ON kept.label = rl.label
), grouped AS (
  SELECT k, %s FROM keyed GROUP BY k
), leaves AS (
  SELECT k, %s FROM grouped
)%s
SELECT %s%s FROM leaves%s ORDER BY leaves.k`,
		frag, strings.Join(q.aggs, ", "), strings.Join(q.leaves, ", "), evCTE, strings.Join(q.outCols, ", "), evCol, evJoin), nil
}

// pdgKeysSQL lists each row's smallest identity in row order.
const pdgKeysSQL = `SELECT n.ident.ns, n.ident.id FROM (SELECT DISTINCT rl.label FROM rec_label rl JOIN kept ON kept.label = rl.label
WHERE rl.rec < (3::BIGINT << 40)) c JOIN nodes n ON n.n = c.label ORDER BY c.label`

// eventRow is an event of the eventList as events selects it: an object even when nothing in it
// is selected (written {}), as the engine writes it.
func eventRow(events *selection) (string, error) {
	var parts []string
	for _, f := range eventSchema.fields {
		s := events.child(f.name)
		if s == nil {
			continue
		}
		out, _, ok, err := project(f, s, "w."+ident(f.name), func(path string) string { return path })
		if err != nil {
			return "", err
		}
		if ok {
			parts = append(parts, ident(f.name)+": "+out)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, ident("nothing")+": NULL::INTEGER")
	}
	return "{" + strings.Join(parts, ", ") + "}", nil
}
