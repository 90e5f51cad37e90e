// Package store is the engine's SQLite database: opening it (in WAL mode, so that any number of
// readers run beside one writer, across processes), its transactions, and the migrations that
// bring its schema up to date. What the tables mean is the engine's business.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/filelock"
)

// Store is an open database. Write transactions begin IMMEDIATE, so that two writers queue on
// the busy timeout instead of failing when one upgrades a read lock.
type Store struct {
	db *sql.DB
	// writeMu serialises this process's writers, so that they queue in Go rather than in
	// SQLite's busy handler, which sleeps in steps and would add latency. Writers in other
	// processes still wait on the busy timeout.
	writeMu sync.Mutex
}

// busyTimeout bounds how long a statement waits for another process's write lock. Write
// transactions are short, so reaching it means something is stuck rather than merely busy.
const busyTimeoutMs = 60_000

// DSN is how the store opens the database file at path with database/sql's "sqlite" driver.
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMs))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Set("_txlock", "immediate")
	return "file:" + uriPath(path) + "?" + q.Encode()
}

// uriPath escapes what a path may hold that a "file:" URI reads otherwise: % begins an escape,
// ? the query and # the fragment. A data directory under ~/src/C#/infra would otherwise open
// the database ~/src/C, outside it, and one with %41 in its name another file again.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}

// Open opens (creating when needed) the database at path and brings its schema up to date. The
// database file is private to its user (0600), whatever the umask, and so are its -wal and -shm
// files, which SQLite gives the database file's permissions.
func Open(ctx context.Context, path string) (_ *Store, err error) {
	// Processes that open the database at once take turns to create it, switch it to WAL (its
	// first connection does) and migrate it: two connections switching a new file to WAL at
	// once can fail with SQLITE_BUSY at once, without waiting out the busy timeout. Once the file
	// is in WAL mode, connections only read that it is.
	lock, err := filelock.Wait(path+openLockSuffix, filelock.Exclusive)
	if err != nil {
		return nil, fmt.Errorf("opening engine database %s: %w", path, err)
	}
	defer func() { err = errors.Join(err, lock.Unlock()) }()
	if err := makePrivate(path); err != nil {
		return nil, fmt.Errorf("opening engine database %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("opening engine database %s: %w", path, err)
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("preparing engine database %s: %w", path, err)
	}
	return s, nil
}

// openLockSuffix names, beside the database, the lock that processes opening it take in turn.
const openLockSuffix = ".open-lock"

// privateFile is the permission of the database's files.
const privateFile fs.FileMode = 0o600

// makePrivate creates the database file at path with private permissions before SQLite would
// create it with its own, and narrows those of the files an older version left.
func makePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, privateFile)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		info, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if info.Mode().Perm()&^privateFile != 0 {
			if err := os.Chmod(p, info.Mode().Perm()&privateFile); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close releases the database.
func (s *Store) Close() error { return s.db.Close() }

// DB is the database, for reads outside a transaction.
func (s *Store) DB() *sql.DB { return s.db }

// Write runs fn in a write transaction and commits it when fn returns nil.
func (s *Store) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning write transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, ignoreDone(tx.Rollback()))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// Read runs fn in a read-only transaction: one consistent snapshot of the database.
func (s *Store) Read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}

// Scanner is a row to scan: a *sql.Row or *sql.Rows.
type Scanner = interface{ Scan(dest ...any) error }

// Querier runs queries: a *sql.DB or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// All runs a query and returns its rows, each read by scan.
func All[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// QueryStrings returns the single text column of a query's rows.
func QueryStrings(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	return All(ctx, q, func(row Scanner) (s string, err error) {
		err = row.Scan(&s)
		return s, err
	}, query, args...)
}
