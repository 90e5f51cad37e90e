//go:build !unix

package exportengine

import "os"

// Without mmap, bodies are read with ReadAt (see segment.bodyAt).
func mapFile(*os.File, int64) ([]byte, error) { return nil, nil }
func unmapFile([]byte) error                  { return nil }
func releaseMapped([]byte)                    {}
