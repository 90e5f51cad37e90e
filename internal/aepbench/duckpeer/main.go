// Command duckpeer is the benchmark's peer: the export of the embedded engine done by DuckDB on
// the same generated data, the way an engineer without the engine would do it (read_json, a
// group per identity, struct projection, COPY ... TO JSON). aepbench runs it, one step a
// process, and compares its rows with the engine's. It is a module of its own so that the
// provider never links DuckDB.
//
//	duckpeer load -data DIR -db FILE
//	duckpeer export (-data DIR | -db FILE) [-policy none|pdg] -fields LIST [-events -event-fields LIST] -out FILE [-keys FILE]
//
// Each step prints one JSON object on stdout: what it did, how many records, how many bytes it
// read, and its wall time in seconds (the fields aepbench's own steps report).
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// The generated files (internal/sampledata), and the order their batches were ingested in.
const (
	crmFile     = "crm_profiles.json"
	loyaltyFile = "loyalty_members.json"
	eventsFile  = "web_events.json"
)

// Threads is what DuckDB may use: the cores of the machine the benchmark is made for, as many
// as the engine uses there.
const threads = 2

type measurement struct {
	What    string  `json:"what"`
	People  int     `json:"people"`
	Records int64   `json:"records"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Note    string  `json:"note,omitempty"`
	// PeakRSS is this process's peak resident set in bytes, as Linux counts it for the process
	// since it was executed (VmHWM); 0 elsewhere. The benchmark's rusage of a child would count
	// the benchmark's own peak too (see aepbench's ownPeakRSS).
	PeakRSS int64 `json:"peak_rss,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: duckpeer load|export [flags]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	data := fs.String("data", "", "directory of the generated files")
	db := fs.String("db", "", "DuckDB database file")
	people := fs.Int("people", 0, "people in the data (reported)")
	fields := fs.String("fields", "", "fields of the export")
	policy := fs.String("policy", "none", "identity graph of the merge policy (timestampOrdered): none or pdg (pdg from -db only)")
	events := fs.Bool("events", false, "export: add each profile's eventList (pdg only)")
	eventFields := fs.String("event-fields", "", "fields of the eventList")
	out := fs.String("out", "", "where the export writes its rows")
	keys := fs.String("keys", "", "export: where to write the profiles' primary identities in row order (after the measurement)")
	_ = fs.Parse(os.Args[2:])
	ctx := context.Background()
	var m *measurement
	var err error
	switch os.Args[1] {
	case "load":
		m, err = load(ctx, *data, *db)
	case "export":
		m, err = export(ctx, exportOptions{data: *data, db: *db, policy: *policy, fields: *fields, events: *events,
			eventFields: *eventFields, out: *out, keys: *keys})
	default:
		err = fmt.Errorf("unknown step %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "duckpeer:", err)
		os.Exit(1)
	}
	m.People = *people
	m.PeakRSS = ownPeakRSS()
	if err := json.NewEncoder(os.Stdout).Encode(m); err != nil {
		os.Exit(1)
	}
}

// run executes one statement. With DUCKPEER_TRACE set to a file, each statement and the time it
// took are appended to it, so that a slow step can be found and the SQL run again by hand.
func run(ctx context.Context, db *sql.DB, stmt string) (sql.Result, error) {
	start := time.Now()
	res, err := db.ExecContext(ctx, stmt)
	if trace := os.Getenv("DUCKPEER_TRACE"); trace != "" {
		if f, ferr := os.OpenFile(trace, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); ferr == nil {
			fmt.Fprintf(f, "-- %.2f s\n%s;\n\n", time.Since(start).Seconds(), strings.TrimSpace(stmt))
			_ = f.Close()
		}
	}
	return res, err
}

// open opens a database (in memory when path is empty) with the benchmark's settings.
func open(ctx context.Context, path string) (*sql.DB, error) {
	c, err := duckdb.NewConnector(path, nil)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(c)
	// One connection: settings are per database, and the statements run one after another.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("SET threads = %d", threads)); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

// load creates a database with one table a batch (crm, loyalty, web), loaded from the files,
// as the engine ingests them.
func load(ctx context.Context, data, path string) (*measurement, error) {
	if data == "" || path == "" {
		return nil, errors.New("load needs -data and -db")
	}
	for _, p := range []string{path, path + ".wal"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	db, err := open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	tables := []struct {
		name, file string
		schema     *node
	}{
		{"crm", crmFile, profileSchema},
		{"loyalty", loyaltyFile, profileSchema},
		{"web", eventsFile, eventSchema},
	}
	start := time.Now()
	var records, size int64
	for _, t := range tables {
		file := filepath.Join(data, t.file)
		st, err := os.Stat(file)
		if err != nil {
			return nil, err
		}
		size += st.Size()
		if _, err := run(ctx, db, fmt.Sprintf("CREATE TABLE %s AS SELECT * FROM read_json(%s, format='newline_delimited', columns=%s)",
			t.name, literal(file), columns(t.schema.fields))); err != nil {
			return nil, fmt.Errorf("loading %s: %w", file, err)
		}
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t.name).Scan(&n); err != nil {
			return nil, err
		}
		records += n
	}
	if _, err := run(ctx, db, "CHECKPOINT"); err != nil {
		return nil, err
	}
	return &measurement{What: "DuckDB: load", Records: records, Bytes: size, Seconds: time.Since(start).Seconds()}, nil
}

// checkAndWriteKeys checks that no primary identity occurs twice in one batch (the export's SQL
// does not rank such fragments as the engine does), and writes the profiles' primary identities
// in row order to path, for aepbench's comparison.
func checkAndWriteKeys(ctx context.Context, db *sql.DB, sources []source, path string) error {
	var dups int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM ("+checkSQL(sources)+")").Scan(&dups); err != nil {
		return err
	}
	if dups > 0 {
		return fmt.Errorf("%d primary identities occur more than once in one batch: the export's SQL does not rank such fragments as the engine does", dups)
	}
	return writeKeys(ctx, db, keysSQL(sources), path)
}

func writeKeys(ctx context.Context, db *sql.DB, query, path string) error {
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(w)
	for rows.Next() {
		var k struct {
			NS string `json:"ns"`
			ID string `json:"id"`
		}
		if err := rows.Scan(&k.NS, &k.ID); err != nil {
			f.Close()
			return err
		}
		if err := enc.Encode(k); err != nil {
			f.Close()
			return err
		}
	}
	if err := rows.Err(); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type exportOptions struct {
	data, db, policy, fields string
	events                   bool
	eventFields              string
	out, keys                string
}

// export runs the export from the files in data or from the tables of the database db, and
// writes its rows to out as JSON Lines.
func export(ctx context.Context, o exportOptions) (*measurement, error) {
	if (o.data == "") == (o.db == "") || o.out == "" {
		return nil, errors.New("export needs -out and one of -data and -db")
	}
	sel, err := parseFields(o.fields)
	if err != nil {
		return nil, err
	}
	q, err := mergeQuery(sel)
	if err != nil {
		return nil, err
	}
	var evSel *selection
	if o.events {
		if evSel, err = parseFields(o.eventFields); err != nil {
			return nil, err
		}
	}
	sources := profileTables
	what := "DuckDB: export from tables"
	var size int64
	if o.data != "" {
		what, sources = "DuckDB: export from files", nil
		for _, f := range []string{crmFile, loyaltyFile} {
			file := filepath.Join(o.data, f)
			st, err := os.Stat(file)
			if err != nil {
				return nil, err
			}
			size += st.Size()
			sources = append(sources, source{file: file})
		}
	}
	switch {
	case o.policy == "pdg" && o.data != "":
		return nil, errors.New("export with pdg: from -db only (the tables keep each batch's order, which the files read in parallel do not)")
	case o.policy != "pdg" && o.events:
		return nil, errors.New("export: -events with pdg only")
	case o.policy != "pdg" && o.policy != "none":
		return nil, fmt.Errorf("export: policy %q: want none or pdg", o.policy)
	}
	db, err := open(ctx, o.db)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	start := time.Now()
	var rows int64
	if o.policy == "pdg" {
		rows, err = exportPDG(ctx, db, q, evSel, o.out)
	} else {
		query := noneSQL(sources, q)
		var res sql.Result
		if res, err = run(ctx, db, fmt.Sprintf("COPY (%s) TO %s (FORMAT json)", query, literal(o.out))); err != nil {
			err = fmt.Errorf("%w\n%s", err, query)
		} else {
			rows, err = res.RowsAffected()
		}
	}
	if err != nil {
		return nil, err
	}
	m := &measurement{What: what, Records: rows, Bytes: size, Seconds: time.Since(start).Seconds()}
	if o.keys != "" {
		if o.policy == "pdg" {
			err = writeKeys(ctx, db, pdgKeysSQL, o.keys)
		} else {
			err = checkAndWriteKeys(ctx, db, sources, o.keys)
		}
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

// ownPeakRSS is the VmHWM line of /proc/self/status in bytes, or 0 where there is none.
func ownPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
