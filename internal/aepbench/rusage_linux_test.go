//go:build linux

package main

import (
	"context"
	"runtime"
	"testing"
)

func TestParseVmHWM(t *testing.T) {
	status := "Name:\taepbench\nVmPeak:\t  812344 kB\nVmHWM:\t   19220 kB\nVmRSS:\t   18004 kB\n"
	if got := parseVmHWM(status); got != 19220<<10 {
		t.Errorf("parseVmHWM = %d, want %d", got, 19220<<10)
	}
	for _, bad := range []string{"", "VmRSS:\t 1 kB\n", "VmHWM:\t many kB\n", "VmHWM:\t 12 MB\n"} {
		if got := parseVmHWM(bad); got != 0 {
			t.Errorf("parseVmHWM(%q) = %d, want 0", bad, got)
		}
	}
}

// A step reports its own peak, not the driver's: a child that Go starts inherits its parent's
// high-water mark into its rusage, so that a small step started by a large driver would seem as
// large as the driver.
func TestAStepsPeakIsItsOwn(t *testing.T) {
	const held = 128 << 20
	ballast := make([]byte, held)
	for i := range ballast {
		ballast[i] = 1
	}
	m, err := child(context.Background(), "gen", "-data", t.TempDir(), "-people", "10", "-events-per-person", "1")
	if err != nil {
		t.Fatal(err)
	}
	if m.PeakRSS <= 0 || m.PeakRSS >= held/2 {
		t.Errorf("the step's peak resident set: %d MiB, want above 0 and well below the %d MiB its parent holds",
			m.PeakRSS>>20, held>>20)
	}
	runtime.KeepAlive(ballast)
}
