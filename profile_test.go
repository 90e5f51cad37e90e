package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestStartProfileWritesOneProfilePerProcess(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(profileEnv, dir)
	startProfile("provider")()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("want one profile in %s, found %d", dir, len(entries))
	}
	want := fmt.Sprintf("provider-%d.pprof", os.Getpid())
	if entries[0].Name() != want {
		t.Errorf("profile named %s, want %s", entries[0].Name(), want)
	}
	info, err := os.Stat(filepath.Join(dir, want))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() == 0 {
		t.Errorf("profile %s is empty", want)
	}
}

func TestStartProfileWithoutTheVariableWritesNothing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(profileEnv, "")
	t.Chdir(dir)
	startProfile("provider")()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("wrote %d files without %s", len(entries), profileEnv)
	}
}

func TestStartProfileInAMissingDirectoryOnlyLosesTheProfile(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "missing")
	t.Setenv(profileEnv, missing)
	startProfile("worker")()
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("%s: %v, want it still missing", missing, err)
	}
	// Profiling was not left on: the next profile is written whole.
	t.Setenv(profileEnv, base)
	startProfile("worker")()
	info, err := os.Stat(filepath.Join(base, fmt.Sprintf("worker-%d.pprof", os.Getpid())))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() == 0 {
		t.Error("the profile after a failed one is empty")
	}
}
