package exportengine

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Sandboxes are AEP's: every dataset, batch, merge policy and export job belongs to one, and no
// call sees or changes an object of another sandbox, which reads as not found. A call works in
// the sandbox its context names (aepwire.WithSandbox: the server's x-sandbox-name), or else in
// the engine's own (Options.Sandbox). Ids (datasets, batches, export jobs) are unique across
// sandboxes; merge policy ids are a sandbox's own, as the default policies' are the same in each.

// maxSandboxName is the longest sandbox name AEP's sandbox service accepts.
const maxSandboxName = 256

// CheckSandboxName checks a sandbox name as AEP spells them: lower-case letters, digits and
// hyphens, starting with a letter or digit. The error says how to spell one.
func CheckSandboxName(name string) error {
	ok := name != "" && len(name) <= maxSandboxName && name[0] != '-'
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-'
	}
	if !ok {
		return fmt.Errorf("sandbox name %q is not valid: use lower-case letters, digits and hyphens, at most %d "+
			"characters, such as prod or dev-team", name, maxSandboxName)
	}
	return nil
}

// sandboxOf is the sandbox a call works in, which it makes sure exists (with its default merge
// policies): the one ctx names, or else the engine's own.
func (e *Engine) sandboxOf(ctx context.Context) (string, error) {
	name, ok := aepwire.SandboxOf(ctx)
	if !ok {
		return e.home, nil // made to exist when the engine opened
	}
	if err := CheckSandboxName(name); err != nil {
		return "", aepwire.Errorf(http.StatusBadRequest, "SANDBOX-1400", "Bad request", "x-sandbox-name: %v", err)
	}
	return name, e.ensureSandbox(ctx, name)
}

// readInSandbox reads one value in a read-only transaction, in the sandbox a call works in (see
// sandboxOf).
func readInSandbox[T any](ctx context.Context, e *Engine, read func(tx *sql.Tx, sb string) (T, error)) (T, error) {
	var v T
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return v, err
	}
	err = e.store.Read(ctx, func(tx *sql.Tx) error {
		var err error
		v, err = read(tx, sb)
		return err
	})
	return v, err
}

// ensureSandbox makes a sandbox exist. A new sandbox starts as AEP's do, with the two default
// merge policies; they are created once, so that a sandbox whose defaults were deleted keeps none.
func (e *Engine) ensureSandbox(ctx context.Context, name string) error {
	if _, ok := e.sandboxes.Load(name); ok {
		return nil
	}
	// Looked for first, so that a sandbox that exists costs no write lock.
	var exists bool
	if err := e.store.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sandboxes WHERE name = ?)`, name).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		err := e.store.Write(ctx, func(tx *sql.Tx) error {
			r, err := tx.ExecContext(ctx, `INSERT INTO sandboxes (name, created_ms) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`,
				name, e.nowMs())
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n == 0 {
				return nil // created meanwhile, by another engine
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO merge_policies
				(sandbox, id, version, name, identity_graph, attribute_merge, is_default, update_epoch) VALUES
				(?, ?, 1, 'Default timestamp-ordered', ?, ?, 1, ?),
				(?, ?, 1, 'Timestamp-ordered with private graph', ?, ?, 0, ?)`,
				name, aepwire.MergePolicyDefaultNone, aepwire.IdentityGraphNone, aepwire.AttributeMergeTimestampOrdered, e.clock.Now().Unix(),
				name, aepwire.MergePolicyDefaultPDG, aepwire.IdentityGraphPDG, aepwire.AttributeMergeTimestampOrdered, e.clock.Now().Unix())
			return err
		})
		if err != nil {
			return err
		}
	}
	e.sandboxes.Store(name, true)
	return nil
}

// claimUnowned gives the rows that belong to no sandbox to the engine's own: what a data
// directory written before sandboxes holds (and a new one's default policies). The first engine
// that opens such a directory claims it; an engine that opens it later, in another sandbox, sees
// none of it.
func (e *Engine) claimUnowned(ctx context.Context) error {
	var claimed bool
	if err := e.store.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sandboxes)`).Scan(&claimed); err != nil || claimed {
		return err
	}
	return e.store.Write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sandboxes)`).Scan(&claimed); err != nil || claimed {
			return err // claimed meanwhile, by another engine
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO sandboxes (name, created_ms) VALUES (?, ?)`, e.home, e.nowMs()); err != nil {
			return err
		}
		for _, table := range []string{"datasets", "batches", "merge_policies", "export_jobs"} {
			if _, err := tx.ExecContext(ctx, `UPDATE `+table+` SET sandbox = ? WHERE sandbox = ''`, e.home); err != nil {
				return err
			}
		}
		return nil
	})
}

// sandboxInfo is how a merge policy names its sandbox. The engine knows no sandbox types: the
// default sandbox, prod, is the production one, as in a new AEP organisation.
func sandboxInfo(name string) *aepwire.Sandbox {
	if name == aepwire.DefaultSandbox {
		return &aepwire.Sandbox{SandboxName: name, Type: "production", Default: true}
	}
	return &aepwire.Sandbox{SandboxName: name, Type: "development"}
}
