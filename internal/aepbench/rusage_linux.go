//go:build linux

package main

import (
	"os"
	"strconv"
	"strings"
)

// ownPeakRSS is this process's peak resident set size in bytes since it was executed: the
// high-water mark of its memory map (VmHWM). A parent's rusage of it does not tell that: a child
// that Go starts shares its parent's memory map until it executes, and Linux keeps that map's
// high-water mark as the child's maximum resident set, so that every step would report at least
// the driver's own.
func ownPeakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	return parseVmHWM(string(b))
}

// parseVmHWM reads the "VmHWM:  1234 kB" line of a /proc/<pid>/status, in bytes; 0 without one.
func parseVmHWM(status string) int64 {
	for line := range strings.Lines(status) {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, ok := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		if n, err := strconv.ParseInt(strings.TrimSpace(kb), 10, 64); ok && err == nil {
			return n << 10
		}
		return 0
	}
	return 0
}
