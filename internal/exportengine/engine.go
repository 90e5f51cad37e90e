// Package exportengine is a local implementation of the parts of Adobe Experience Platform that
// profile exports involve: Catalog datasets and batches, batch ingestion, the profile store, merge
// policies and the export-jobs endpoint. It is a library with no global state: everything it
// needs is passed to Open, and several engines (in one process or in several) may share a data
// directory.
package exportengine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Clock tells the engine the time. Tests pass a fake one.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// SystemClock is the wall clock.
var SystemClock Clock = systemClock{}

// Options configure an engine.
type Options struct {
	// DataDir holds the engine's database and data files. It is created when missing.
	DataDir string
	// Clock defaults to SystemClock.
	Clock Clock
	// ImsOrg is the organisation the engine reports in the objects it returns.
	ImsOrg string
	// RunBytes bounds the records a batch's ingestion holds in memory before it sorts them and
	// writes them out as one run of the batch's profile segment. Zero means 64 MiB.
	RunBytes int
}

// DefaultImsOrg is the organisation of an engine opened without one.
const DefaultImsOrg = "embedded@AdobeOrg"

// Engine is an open data directory.
type Engine struct {
	dir      string
	clock    Clock
	imsOrg   string
	runBytes int
	store    *store
}

// databaseFile is the name of the engine's SQLite database inside the data directory.
const databaseFile = "aep.db"

// Open opens (creating when needed) the data directory and brings its database schema up to date.
func Open(ctx context.Context, opts Options) (*Engine, error) {
	if opts.DataDir == "" {
		return nil, errors.New("exportengine: data directory is empty")
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolving data directory %q: %w", opts.DataDir, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	e := &Engine{dir: dir, clock: opts.Clock, imsOrg: opts.ImsOrg, runBytes: opts.RunBytes}
	if e.clock == nil {
		e.clock = SystemClock
	}
	if e.imsOrg == "" {
		e.imsOrg = DefaultImsOrg
	}
	e.store, err = openStore(ctx, filepath.Join(dir, databaseFile))
	if err != nil {
		return nil, err
	}
	if err := e.collectOrphanBatchDirs(ctx); err != nil {
		_ = e.store.close()
		return nil, fmt.Errorf("cleaning up the data directory: %w", err)
	}
	return e, nil
}

// DataDir is the absolute path of the engine's data directory.
func (e *Engine) DataDir() string { return e.dir }

// Close releases the database.
func (e *Engine) Close() error { return e.store.close() }

func (e *Engine) nowMs() int64 { return e.clock.Now().UnixMilli() }
