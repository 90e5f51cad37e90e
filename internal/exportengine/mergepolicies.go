package exportengine

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Profile service error codes.
const (
	codeProfileBadRequest = "UPS-1400"
	codePolicyNotFound    = "UPS-1404"
	codeJobNotFound       = "UPS-2404"
)

// maxMergePolicies is AEP's guardrail on merge policies per sandbox.
const maxMergePolicies = 5

func profileBadRequest(format string, args ...any) error {
	return aepwire.Errorf(http.StatusBadRequest, codeProfileBadRequest, "Bad request", format, args...)
}

func policyNotFound(id string) error {
	return aepwire.Errorf(http.StatusNotFound, codePolicyNotFound, "Merge policy not found", "no merge policy has the id %q", id)
}

// mergePolicyDef is what a merge policy version means to an export.
type mergePolicyDef struct {
	id             string
	version        int64
	identityGraph  string
	attributeMerge string
	order          []string
}

// normalizeMergePolicy checks a policy's settings and brings them to their canonical form,
// accepting the legacy spellings of older AEP documents.
func (e *Engine) normalizeMergePolicy(ctx context.Context, tx *sql.Tx, sb string, p *aepwire.MergePolicy) error {
	if strings.TrimSpace(p.Name) == "" {
		return profileBadRequest("name is required")
	}
	if p.Schema.Name == "" {
		p.Schema.Name = aepwire.ProfileSchemaName
	}
	if p.Schema.Name != aepwire.ProfileSchemaName {
		return profileBadRequest("schema.name %q is not supported: merge policies here are for %s", p.Schema.Name, aepwire.ProfileSchemaName)
	}
	switch strings.ToLower(p.IdentityGraph.Type) {
	case "none":
		p.IdentityGraph.Type = aepwire.IdentityGraphNone
	case "pdg", "private graph":
		p.IdentityGraph.Type = aepwire.IdentityGraphPDG
	default:
		return profileBadRequest("identityGraph.type %q is not one of none, pdg", p.IdentityGraph.Type)
	}
	switch p.AttributeMerge.Type {
	case aepwire.AttributeMergeTimestampOrdered:
		if len(p.AttributeMerge.Order) > 0 {
			return profileBadRequest("attributeMerge.order is only for dataSetPrecedence; remove it for timestampOrdered")
		}
	case aepwire.AttributeMergeDataSetPrecedence:
		if len(p.AttributeMerge.Order) == 0 {
			return profileBadRequest("attributeMerge.order must list at least one dataset for dataSetPrecedence")
		}
		seen := map[string]bool{}
		for _, id := range p.AttributeMerge.Order {
			if seen[id] {
				return profileBadRequest("attributeMerge.order lists dataset %s twice", id)
			}
			seen[id] = true
			if _, err := e.getDataset(ctx, tx, sb, id); aepwire.IsNotFound(err) {
				return profileBadRequest("attributeMerge.order names dataset %s, which does not exist", id)
			} else if err != nil {
				return err
			}
		}
	default:
		return profileBadRequest("attributeMerge.type %q is not one of timestampOrdered, dataSetPrecedence", p.AttributeMerge.Type)
	}
	if p.IsActiveOnEdge {
		return profileBadRequest("isActiveOnEdge is not supported by the embedded engine")
	}
	return nil
}

// CreateMergePolicy creates a merge policy at version 1. A new default policy takes the place of
// the old one.
func (e *Engine) CreateMergePolicy(ctx context.Context, p aepwire.MergePolicy) (*aepwire.MergePolicy, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	p.ID = newUUID()
	p.Version = 1
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		if err := e.normalizeMergePolicy(ctx, tx, sb, &p); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM merge_policies WHERE sandbox = ? AND latest = 1`, sb).Scan(&n); err != nil {
			return err
		}
		if n >= maxMergePolicies {
			return profileBadRequest("the sandbox already has %d merge policies, the most AEP allows: delete one first", n)
		}
		return e.insertPolicyVersion(ctx, tx, sb, &p)
	})
	if err != nil {
		return nil, err
	}
	return e.GetMergePolicy(ctx, p.ID)
}

func (e *Engine) insertPolicyVersion(ctx context.Context, tx *sql.Tx, sb string, p *aepwire.MergePolicy) error {
	if p.Default {
		if _, err := tx.ExecContext(ctx, `UPDATE merge_policies SET is_default = 0 WHERE sandbox = ? AND latest = 1 AND id <> ?`,
			sb, p.ID); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE merge_policies SET latest = 0 WHERE sandbox = ? AND id = ?`, sb, p.ID); err != nil {
		return err
	}
	order, err := json.Marshal(p.AttributeMerge.Order)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO merge_policies
		(sandbox, id, version, name, identity_graph, attribute_merge, dataset_order, is_default, update_epoch, latest)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
		sb, p.ID, p.Version, p.Name, p.IdentityGraph.Type, p.AttributeMerge.Type, string(order), p.Default, e.clock.Now().Unix())
	return err
}

// UpdateMergePolicy replaces a policy's settings with p's and bumps its version. Earlier versions
// stay readable for jobs that name them (the newest Quotas.PolicyVersions of them, and those a
// job waiting or running names).
func (e *Engine) UpdateMergePolicy(ctx context.Context, id string, p aepwire.MergePolicy) (*aepwire.MergePolicy, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	err = e.store.Write(ctx, func(tx *sql.Tx) error {
		cur, err := e.getMergePolicy(ctx, tx, sb, id, 0)
		if err != nil {
			return err
		}
		if err := e.normalizeMergePolicy(ctx, tx, sb, &p); err != nil {
			return err
		}
		p.ID, p.Version = id, cur.Version+1
		if err := e.insertPolicyVersion(ctx, tx, sb, &p); err != nil {
			return err
		}
		return e.prunePolicyVersions(ctx, tx, sb, id, p.Version)
	})
	if err != nil {
		return nil, err
	}
	return e.GetMergePolicy(ctx, id)
}

// DeleteMergePolicy deletes a policy with all its versions. Deleting the default policy leaves the
// sandbox without one: jobs must then name their policy.
func (e *Engine) DeleteMergePolicy(ctx context.Context, id string) error {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return err
	}
	return e.store.Write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM merge_policies WHERE sandbox = ? AND id = ?`, sb, id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return policyNotFound(id)
		}
		return nil
	})
}

// GetMergePolicy returns the latest version of a policy.
func (e *Engine) GetMergePolicy(ctx context.Context, id string) (*aepwire.MergePolicy, error) {
	return readInSandbox(ctx, e, func(tx *sql.Tx, sb string) (*aepwire.MergePolicy, error) {
		return e.getMergePolicy(ctx, tx, sb, id, 0)
	})
}

// ListMergePolicies returns the latest version of every policy, by name.
func (e *Engine) ListMergePolicies(ctx context.Context) ([]*aepwire.MergePolicy, error) {
	sb, err := e.sandboxOf(ctx)
	if err != nil {
		return nil, err
	}
	return store.All(ctx, e.store.DB(), e.scanPolicy, `SELECT `+policyColumns+` FROM merge_policies WHERE sandbox = ? AND latest = 1
		ORDER BY name, id`, sb)
}

const policyColumns = `sandbox, id, version, name, identity_graph, attribute_merge, dataset_order, is_default, is_active_on_edge,
	update_epoch`

// getMergePolicy reads one version of a policy of sandbox sb; version 0 is the latest.
func (e *Engine) getMergePolicy(ctx context.Context, tx *sql.Tx, sb, id string, version int64) (*aepwire.MergePolicy, error) {
	var row *sql.Row
	if version == 0 {
		row = tx.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM merge_policies WHERE sandbox = ? AND id = ? AND latest = 1`, sb, id)
	} else {
		row = tx.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM merge_policies WHERE sandbox = ? AND id = ? AND version = ?`,
			sb, id, version)
	}
	p, err := e.scanPolicy(row)
	if errors.Is(err, sql.ErrNoRows) {
		if version == 0 {
			return nil, policyNotFound(id)
		}
		if _, err := e.getMergePolicy(ctx, tx, sb, id, 0); err != nil {
			return nil, err // no such policy at all
		}
		return nil, aepwire.Errorf(http.StatusNotFound, codePolicyNotFound, "Merge policy version not found",
			"merge policy %q has no version %d", id, version)
	}
	return p, err
}

func (e *Engine) scanPolicy(row interface{ Scan(...any) error }) (*aepwire.MergePolicy, error) {
	p := &aepwire.MergePolicy{ImsOrgID: e.imsOrg, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}
	var sandbox, order string
	if err := row.Scan(&sandbox, &p.ID, &p.Version, &p.Name, &p.IdentityGraph.Type, &p.AttributeMerge.Type, &order,
		&p.Default, &p.IsActiveOnEdge, &p.UpdateEpoch); err != nil {
		return nil, err
	}
	p.Sandbox = sandboxInfo(sandbox)
	if err := json.Unmarshal([]byte(order), &p.AttributeMerge.Order); err != nil {
		return nil, fmt.Errorf("merge policy %s has an unreadable order: %w", p.ID, err)
	}
	if len(p.AttributeMerge.Order) == 0 {
		p.AttributeMerge.Order = nil
	}
	return p, nil
}

// defaultMergePolicy returns the latest version of the default policy of sandbox sb.
func (e *Engine) defaultMergePolicy(ctx context.Context, tx *sql.Tx, sb string) (*aepwire.MergePolicy, error) {
	p, err := e.scanPolicy(tx.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM merge_policies WHERE sandbox = ? AND latest = 1
		AND is_default = 1`, sb))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, profileBadRequest("mergePolicy is omitted and the sandbox has no default merge policy: " +
			"name one in mergePolicy.id, or make a policy the default")
	}
	return p, err
}

func definition(p *aepwire.MergePolicy) mergePolicyDef {
	return mergePolicyDef{id: p.ID, version: p.Version, identityGraph: p.IdentityGraph.Type,
		attributeMerge: p.AttributeMerge.Type, order: p.AttributeMerge.Order}
}
