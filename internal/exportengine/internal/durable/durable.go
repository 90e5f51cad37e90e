// Package durable makes what the engine wrote survive a crash of the machine: a file's bytes,
// and the names a directory holds.
package durable

import (
	"errors"
	"os"
)

// SyncFile makes the bytes written to the file at path durable.
func SyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
