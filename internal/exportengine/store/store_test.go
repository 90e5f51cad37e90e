package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func openTestStore(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMigrationsBringNewStoreToLatestVersion(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "aep.db"))
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != len(migrations) {
		t.Fatalf("schema version = %d, want %d", v, len(migrations))
	}
	var mode string
	if err := s.DB().QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" {
		t.Errorf("journal_mode = %q, want wal", mode)
	}
	// A directory that may hold segments of version 4 says so, and is newer than the providers
	// that read only the versions before (schema version 5).
	var segments int
	if err := s.DB().QueryRowContext(ctx, `SELECT value FROM engine_state WHERE key = 'profile_segment_version'`).Scan(&segments); err != nil || segments != 4 {
		t.Errorf("profile_segment_version %d, %v; want 4", segments, err)
	}
	if v <= 5 {
		t.Errorf("schema version %d: a provider of schema version 5, which reads no segment of version 4, would open it", v)
	}
}

func TestMigrationsApplyOnlyMissingSteps(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "aep.db")

	// A database left at version 0 by hand, as an older provider would have left it with fewer
	// steps: only schema_migrations exists.
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	for range 2 { // the second open must find nothing to do
		s, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var rows int
		if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != len(migrations) {
			t.Errorf("schema_migrations has %d rows, want one per step (%d)", rows, len(migrations))
		}
		_ = s.Close()
	}
}

// Opening a database that is up to date only reads it: another process's write transaction (an
// export's commit, an ingestion) does not hold it up. Were it to wait, Open would fail after the
// busy timeout.
func TestOpenOfAnUpToDateDatabaseTakesNoWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aep.db")
	if err := openTestStore(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock, until the end of the test
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (1000, 0)`); err != nil {
		t.Fatal(err)
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open while another connection writes: %v", err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Errorf("schema version %d, %v; want %d (the other connection's write is not committed)", v, err, len(migrations))
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "aep.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	future := len(migrations) + 1
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, future); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	_, err = Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d, newer than this provider knows", future)) {
		t.Fatalf("Open of a newer data directory: err = %v, want a schema version error", err)
	}
}

// A write transaction commits only when its function returns nil; a read commits nothing.
func TestWriteCommitsOrRollsBack(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, filepath.Join(t.TempDir(), "aep.db"))
	insert := func(key string, fail error) error {
		return s.Write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO engine_state (key, value) VALUES (?, 1)`, key); err != nil {
				return err
			}
			return fail
		})
	}
	refused := errors.New("refused")
	if err := insert("kept", nil); err != nil {
		t.Fatal(err)
	}
	if err := insert("dropped", refused); !errors.Is(err, refused) {
		t.Fatalf("a failed write returned %v, want its function's error", err)
	}
	var keys []string
	err := s.Read(ctx, func(tx *sql.Tx) error {
		var err error
		keys, err = QueryStrings(ctx, tx, `SELECT key FROM engine_state WHERE key IN ('kept', 'dropped') ORDER BY key`)
		return err
	})
	if err != nil || strings.Join(keys, ",") != "kept" {
		t.Errorf("keys %v, %v; want only the committed one", keys, err)
	}
	// A read is rolled back: nothing it does stays.
	_ = s.Read(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO engine_state (key, value) VALUES ('x', 1)`)
		return err
	})
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM engine_state WHERE key = 'x'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("a read transaction left a row (%d, %v)", n, err)
	}
}

// A database's path may hold what a "file:" URI reads otherwise (#, ?, %): the database is the
// file at that path, private, and nothing is made beside it.
func TestOpenTakesThePathAsItIs(t *testing.T) {
	parent := t.TempDir()
	for _, name := range []string{"C#", "what?", "per%41cent", "sp ace#?%"} {
		dir := filepath.Join(parent, name, ".aep")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "aep.db")
		s := openTestStore(t, path)
		if err := s.Write(context.Background(), func(tx *sql.Tx) error {
			_, err := tx.Exec(`CREATE TABLE t (x)`)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if info, err := os.Stat(path); err != nil || info.Size() == 0 || info.Mode().Perm() != privateFile {
			t.Errorf("%s: %v, %v; want the database there, private", path, info, err)
		}
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := "C# per%41cent sp ace#?% what?"; strings.Join(names, " ") != want {
		t.Errorf("beside the data directories: %q, want only them (%s)", names, want)
	}
}
