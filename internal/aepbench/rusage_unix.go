//go:build unix

package main

import (
	"os"
	"syscall"
)

// peakRSS is a finished process's peak resident set size in bytes as its rusage has it (what
// /usr/bin/time -v reports as its maximum resident set size). On Linux that is at least its
// parent's own peak when the child was started (see ownPeakRSS): a step that reports its own
// takes precedence.
func peakRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) * 1024 //nolint:unconvert // kilobytes on Linux; an int32 on 32-bit systems
	}
	return 0
}
