// Package durable makes what the engine wrote survive a crash of the machine: a file's bytes,
// and the names a directory holds.
package durable

import (
	"errors"
	"os"
)

// SyncDir makes the names created, renamed or removed in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

// SyncFile makes the bytes written to the file at path durable.
func SyncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}
