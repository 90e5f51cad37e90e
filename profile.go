package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// profileEnv names a directory into which every process of the provider (each one Terraform
// starts, and the engine's worker) writes a CPU profile of its life, as <role>-<pid>.pprof: a
// Terraform command starts several, and the cost of each start is what the profile is for.
const profileEnv = "AEP_PROVIDER_CPU_PROFILE_DIR"

// startProfile starts the CPU profile that profileEnv asks for and returns what stops it; without
// the variable it does nothing. A profile that cannot be written only loses the profile.
func startProfile(role string) (stop func()) {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", role, os.Getpid())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "CPU profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "CPU profile:", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
