package exportengine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/jobs"
)

// The data directory holds personal data (the profiles' e-mail addresses, names, events), so
// everything under it is private to the user the engine runs as: directories 0700 and files 0600,
// asked for when they are made, so that no umask widens them. The store, the segment writer and
// the file locks make their own files the same way.
const (
	privateDir  fs.FileMode = 0o700
	privateFile fs.FileMode = 0o600
)

// privateKey is the engine_state row that says the data directory was made private once, so
// that Open walks it only the first time.
const privateKey = "private_permissions"

// narrow takes from path the permissions that want does not allow. A path that went meanwhile
// (a batch deleted by another engine) is not an error.
func narrow(path string, want fs.FileMode) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 || info.Mode().Perm()&^want == 0 {
		return nil
	}
	if err := os.Chmod(path, info.Mode().Perm()&want); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// makePrivate narrows what a version before private permissions left in the data directory:
// the directory itself and what is the engine's in it (ownEntries), every directory to 0700 and
// every file to 0600. It walks them once in the directory's life. Whatever else the directory
// holds is not the engine's to change (with data_dir = ".", a provider binary under .terraform,
// which stops running once it loses its mode bits), whether the directory is new or older.
func (e *Engine) makePrivate(ctx context.Context) error {
	var done bool
	err := e.store.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM engine_state WHERE key = ?)`, privateKey).Scan(&done)
	if err != nil || done {
		return err
	}
	if err := e.narrowOwn(); err != nil {
		return fmt.Errorf("making the data directory private: %w", err)
	}
	return e.store.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO engine_state (key, value) VALUES (?, 1) ON CONFLICT (key) DO NOTHING`, privateKey)
		return err
	})
}

// ownEntries are the names in a data directory that are the engine's, in this version or an
// earlier one (worker.lock, since moved under jobs/).
var ownEntries = []string{
	databaseFile, databaseFile + "-wal", databaseFile + "-shm", databaseFile + "-journal", databaseFile + ".open-lock",
	batchesDir, jobs.LocksDir, keptGraphsDir, workerLogFile, "worker.lock",
}

// narrowOwn narrows the data directory to 0700, and under it every directory of the engine's
// to 0700 and every file of the engine's to 0600.
func (e *Engine) narrowOwn() error {
	if err := narrow(e.dir, privateDir); err != nil {
		return err
	}
	for _, name := range ownEntries {
		err := filepath.WalkDir(filepath.Join(e.dir, name), func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			want := privateFile
			if d.IsDir() {
				want = privateDir
			}
			return narrow(path, want)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
