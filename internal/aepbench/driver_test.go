package main

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// The test binary stands in for aepbench: the driver runs its steps as children of itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "step" {
		if err := runStep(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "aepbench step:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The whole benchmark at a small size, so that `make test` keeps it compiling and working:
// generation, floors, ingestion and both exports, each in a process of its own.
func TestDriverAtSmallSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the benchmark steps as processes")
	}
	if err := drive(context.Background(), driverOptions{sizes: "200,400", dataDir: t.TempDir(), eventsPerPerson: 3}); err != nil {
		t.Fatal(err)
	}
}
