package exportengine

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// expectPrivate checks that every directory under dir is 0700 and every file 0600.
func expectPrivate(t *testing.T, dir string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		seen[filepath.Base(path)] = true
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s is %o, want %o", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// Everything the engine writes under its data directory is private to its user, whatever the
// umask: the database, uploads, segments, exported files, lock files.
func TestDataDirectoryIsPrivate(t *testing.T) {
	withUmask(t, 0)
	env := newJobEnv(t, Options{RunJobs: true})
	ingestLines(t, env.e, env.crm, `{"identityMap":{"email":[{"id":"a@example.com","primary":true}]}}`)
	job := wait(t, env.e, env.create(t, env.e).ID)
	if job.Status != "SUCCEEDED" {
		t.Fatalf("job %s %v", job.Status, job.Errors)
	}
	seen := expectPrivate(t, env.dataDir)
	for _, name := range []string{databaseFile, databaseFile + "-wal", "records.json", "profile.seg", "part-00000.json", "1.lock"} {
		if !seen[name] {
			t.Errorf("no %s under the data directory", name)
		}
	}
}

// A data directory written before private permissions is made private when an engine opens it.
func TestOpenMakesAnOlderDataDirectoryPrivate(t *testing.T) {
	withUmask(t, 0o022)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "aep")
	files := filepath.Join(dir, batchesDir, "cccccccccccccccccccccccccccccccc", batchFileDir)
	if err := os.MkdirAll(files, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(files, "part-00000.json"), filepath.Join(dir, workerLogFile)} {
		if err := os.WriteFile(path, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeLegacyDatabase(t, dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}

	e := openEngine(t, Options{DataDir: dir})
	expectPrivate(t, dir)
	if _, err := e.GetBatch(ctx, "cccccccccccccccccccccccccccccccc"); err != nil {
		t.Errorf("the older directory's batch: %v", err)
	}
	if _, err := e.ListDatasets(aepwire.WithSandbox(ctx, "dev")); err != nil {
		t.Fatal(err)
	}
}

// A data directory may hold files of others (data_dir = "."): the engine's files in it are
// private, and theirs keep their permissions (a provider binary its execute bits), whether the
// directory is new or was written by a version before private permissions (or, which is the
// same to the engine, by another process that opened it first a moment before).
func TestOpenLeavesOthersFilesAsTheyAre(t *testing.T) {
	withUmask(t, 0o022)
	for _, older := range []bool{false, true} {
		t.Run(map[bool]string{false: "new", true: "older"}[older], func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, ".terraform", "providers", "terraform-provider-x")
			if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			want := map[string]fs.FileMode{bin: 0o755, filepath.Dir(bin): 0o755, filepath.Join(dir, databaseFile): privateFile,
				filepath.Join(dir, batchesDir): privateDir, dir: privateDir}
			if older {
				writeLegacyDatabase(t, dir)
				log := filepath.Join(dir, workerLogFile)
				if err := os.WriteFile(log, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				want[log] = privateFile
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			openEngine(t, Options{DataDir: dir})
			for path, want := range want {
				if info, err := os.Stat(path); err != nil || info.Mode().Perm() != want {
					t.Errorf("%s: %v, %v; want %o", path, info, err, want)
				}
			}
		})
	}
}

// An export through the identity graph keeps its sorts' files under its output batch while it
// runs, private like everything else, and leaves none when it ends.
func TestExportScratchIsPrivateAndRemoved(t *testing.T) {
	withUmask(t, 0)
	dataDir := t.TempDir()
	during := make(chan map[string]bool, 1)
	hooks := Hooks{BeforeExportChunk: func(_ context.Context, seq int) {
		if seq == 0 {
			during <- expectPrivate(t, dataDir)
		}
	}}
	// Runs of 4 KiB: the sorts spill to files.
	env := newJobEnv(t, Options{DataDir: dataDir, RunJobs: true, SortRunBytes: 4096, Hooks: hooks})
	env.ingestSample(t, 600) // more profiles than a chunk holds: the first chunk leaves while the sorts are read
	req := env.request()
	req.MergePolicy = &aepwire.MergePolicyRef{ID: aepwire.MergePolicyDefaultPDG}
	j, err := env.e.CreateExportJob(context.Background(), req, "")
	if err != nil {
		t.Fatal(err)
	}
	if job := wait(t, env.e, j.ID); job.Status != aepwire.JobSucceeded {
		t.Fatalf("job %s %v", job.Status, job.Errors)
	}
	seen := <-during
	for _, name := range []string{stitchScratchDir, "identities"} {
		if !seen[name] {
			t.Errorf("no %s under the data directory while the export ran", name)
		}
	}
	runs := 0
	for name := range seen {
		if strings.HasPrefix(name, "run-") {
			runs++
		}
	}
	if runs == 0 {
		t.Error("no sort's run files under the data directory while the export ran")
	}
	for name := range expectPrivate(t, dataDir) {
		if name == stitchScratchDir || name == "identities" || strings.HasPrefix(name, "run-") {
			t.Errorf("%s is left after the export", name)
		}
	}
}
