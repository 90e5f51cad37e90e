package exportengine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	created, err := e.CreateDataset(ctx, aepwire.DatasetRequest{
		Name:      "kept",
		SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		Tags:      map[string][]string{"team": {"growth"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	e, err = Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, err := e.GetDataset(ctx, created.ID)
	if err != nil {
		t.Fatalf("GetDataset after reopen: %v", err)
	}
	if got.Name != "kept" || got.Tags["team"][0] != "growth" || got.Created != created.Created {
		t.Errorf("after reopen got %+v, want %+v", got, created)
	}
}

// The helper process: when the test binary runs with this variable set, it is one of several
// writers on a shared data directory rather than a test run.
const writerEnv = "EXPORTENGINE_TEST_WRITER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(writerEnv); spec != "" {
		os.Exit(runWriter(spec))
	}
	if os.Getenv(WorkerEnv) != "" {
		os.Exit(WorkerMain(Options{}))
	}
	os.Exit(m.Run())
}

// runWriter creates n datasets named <name>-<i> in dir; spec is "dir|name|n".
func runWriter(spec string) int {
	parts := strings.Split(spec, "|")
	n, _ := strconv.Atoi(parts[2])
	ctx := context.Background()
	e, err := Open(ctx, Options{DataDir: parts[0]})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 1
	}
	defer e.Close()
	for i := range n {
		if _, err := e.CreateDataset(ctx, aepwire.DatasetRequest{
			Name:      fmt.Sprintf("%s-%d", parts[1], i),
			SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
		}); err != nil {
			fmt.Fprintln(os.Stderr, "create:", err)
			return 1
		}
	}
	return 0
}

func TestTwoProcessesWriteAtOnce(t *testing.T) {
	dir := t.TempDir() // fresh: both processes also race to create and migrate it
	const perProcess = 150
	names := []string{"alpha", "beta"}
	cmds := make([]*exec.Cmd, len(names))
	outs := make([]*strings.Builder, len(names))
	for i, name := range names {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", writerEnv, dir, name, perProcess))
		outs[i] = &strings.Builder{}
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i] = cmd
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("writer %s failed: %v\n%s", names[i], err, outs[i])
		}
	}

	ctx := context.Background()
	e, err := Open(ctx, Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, name := range names {
		var n int
		if err := e.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM datasets WHERE name LIKE ?`, name+"-%").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != perProcess {
			t.Errorf("writer %s: %d datasets stored, want %d", name, n, perProcess)
		}
	}
	var steps int
	if err := e.store.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&steps); err != nil {
		t.Fatal(err)
	}
	if steps != store.Versions() {
		t.Errorf("schema_migrations has %d rows after a concurrent first open, want %d", steps, store.Versions())
	}
}
