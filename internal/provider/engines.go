package provider

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine"
)

// engineRegistry keeps one open engine per data directory and sandbox for the life of the
// process. Terraform configures the provider once per operation, but a process that serves many
// operations (the acceptance tests) would otherwise open the same database again and again.
type engineRegistry struct {
	mu      sync.Mutex
	engines map[engineKey]*exportengine.Engine
}

type engineKey struct{ dir, sandbox string }

func newEngineRegistry() *engineRegistry {
	return &engineRegistry{engines: map[engineKey]*exportengine.Engine{}}
}

func (r *engineRegistry) open(ctx context.Context, dataDir, sandbox string) (*exportengine.Engine, error) {
	dir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	key := engineKey{dir, sandbox}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.engines[key]; ok {
		return e, nil
	}
	// Export jobs run in a worker process of this same executable, so that they outlive the
	// provider (which Terraform stops after each command) and one worker serves every run.
	e, err := exportengine.Open(ctx, exportengine.Options{DataDir: dir, Sandbox: sandbox, Spawn: func() error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		return exportengine.SpawnWorker(exe, dir)
	}})
	if err != nil {
		return nil, err
	}
	r.engines[key] = e
	return e, nil
}
