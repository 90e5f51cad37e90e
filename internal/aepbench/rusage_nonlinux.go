//go:build !linux

package main

// ownPeakRSS is 0 where the system does not tell a process its peak: the parent's rusage of it
// stands.
func ownPeakRSS() int64 { return 0 }
