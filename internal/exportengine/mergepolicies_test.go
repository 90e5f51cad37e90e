package exportengine

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

func TestSeededMergePolicies(t *testing.T) {
	e, _ := openTestEngine(t)
	list, err := e.ListMergePolicies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*aepwire.MergePolicy{}
	for _, p := range list {
		got[p.ID] = p
	}
	none, pdg := got[aepwire.MergePolicyDefaultNone], got[aepwire.MergePolicyDefaultPDG]
	if len(list) != 2 || none == nil || pdg == nil ||
		!none.Default || none.IdentityGraph.Type != "none" || none.AttributeMerge.Type != "timestampOrdered" || none.Version != 1 ||
		pdg.Default || pdg.IdentityGraph.Type != "pdg" || pdg.AttributeMerge.Type != "timestampOrdered" || pdg.Version != 1 ||
		none.Schema.Name != aepwire.ProfileSchemaName || none.UpdateEpoch == 0 {
		t.Errorf("seeded policies: %+v", list)
	}
}

func TestMergePolicyLifecycle(t *testing.T) {
	e, clock := openTestEngine(t)
	ctx := context.Background()
	crm := newDataset(t, e, aepwire.SchemaProfile, true)
	loyalty := newDataset(t, e, aepwire.SchemaProfile, true)

	p, err := e.CreateMergePolicy(ctx, aepwire.MergePolicy{Name: "Loyalty first", Default: true,
		IdentityGraph:  aepwire.IdentityGraph{Type: "Private Graph"}, // a legacy spelling
		AttributeMerge: aepwire.AttributeMerge{Type: "dataSetPrecedence", Order: []string{loyalty, crm}}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.IdentityGraph.Type != "pdg" || !p.Default || len(p.ID) != 36 || p.UpdateEpoch != clock.Now().Unix() {
		t.Errorf("created %+v", p)
	}
	old, _ := e.GetMergePolicy(ctx, aepwire.MergePolicyDefaultNone)
	if old.Default {
		t.Error("the old default policy is still the default")
	}

	clock.Advance(time.Minute)
	up, err := e.UpdateMergePolicy(ctx, p.ID, aepwire.MergePolicy{Name: "Timestamps", Default: true,
		IdentityGraph: aepwire.IdentityGraph{Type: "none"}, AttributeMerge: aepwire.AttributeMerge{Type: "timestampOrdered"}})
	if err != nil {
		t.Fatal(err)
	}
	if up.Version != 2 || up.Name != "Timestamps" || up.AttributeMerge.Order != nil || up.UpdateEpoch != clock.Now().Unix() {
		t.Errorf("updated %+v", up)
	}
	// Jobs may name the old version: its settings are kept.
	var v1 *aepwire.MergePolicy
	_ = e.store.Read(ctx, func(tx *sql.Tx) error {
		var err error
		v1, err = e.getMergePolicy(ctx, tx, e.home, p.ID, 1)
		return err
	})
	if v1 == nil || v1.AttributeMerge.Type != "dataSetPrecedence" || len(v1.AttributeMerge.Order) != 2 {
		t.Errorf("version 1 is %+v", v1)
	}

	if err := e.DeleteMergePolicy(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetMergePolicy(ctx, p.ID); !aepwire.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
	if err := e.DeleteMergePolicy(ctx, p.ID); !aepwire.IsNotFound(err) {
		t.Errorf("second delete: %v", err)
	}
}

func TestMergePolicyRefusals(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	crm := newDataset(t, e, aepwire.SchemaProfile, true)
	valid := func() aepwire.MergePolicy {
		return aepwire.MergePolicy{Name: "p", IdentityGraph: aepwire.IdentityGraph{Type: "none"},
			AttributeMerge: aepwire.AttributeMerge{Type: "timestampOrdered"}}
	}
	for _, tc := range []struct {
		name   string
		change func(p *aepwire.MergePolicy)
		want   string
	}{
		{"no name", func(p *aepwire.MergePolicy) { p.Name = "" }, "name is required"},
		{"graph", func(p *aepwire.MergePolicy) { p.IdentityGraph.Type = "full" }, `identityGraph.type "full" is not one of none, pdg`},
		{"merge", func(p *aepwire.MergePolicy) { p.AttributeMerge.Type = "random" }, `attributeMerge.type "random" is not one of`},
		{"precedence without order", func(p *aepwire.MergePolicy) { p.AttributeMerge.Type = "dataSetPrecedence" },
			"attributeMerge.order must list at least one dataset for dataSetPrecedence"},
		{"order with timestamps", func(p *aepwire.MergePolicy) { p.AttributeMerge.Order = []string{crm} }, "attributeMerge.order is only for dataSetPrecedence"},
		{"unknown dataset", func(p *aepwire.MergePolicy) {
			p.AttributeMerge = aepwire.AttributeMerge{Type: "dataSetPrecedence", Order: []string{crm, "000000000000000000000000"}}
		}, "attributeMerge.order names dataset 000000000000000000000000, which does not exist"},
		{"dataset twice", func(p *aepwire.MergePolicy) {
			p.AttributeMerge = aepwire.AttributeMerge{Type: "dataSetPrecedence", Order: []string{crm, crm}}
		}, "attributeMerge.order lists dataset " + crm + " twice"},
		{"schema", func(p *aepwire.MergePolicy) { p.Schema.Name = "_xdm.context.experienceevent" }, "is not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			tc.change(&p)
			_, err := e.CreateMergePolicy(ctx, p)
			if aepwire.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a 400 containing %q", err, tc.want)
			}
		})
	}
	// Five policies at most: two are seeded.
	for i := range 3 {
		if _, err := e.CreateMergePolicy(ctx, valid()); err != nil {
			t.Fatalf("policy %d: %v", i+3, err)
		}
	}
	if _, err := e.CreateMergePolicy(ctx, valid()); aepwire.StatusOf(err) != 400 || !strings.Contains(err.Error(), "already has 5 merge policies") {
		t.Errorf("a sixth policy: %v", err)
	}
}

func TestJobWithoutDefaultPolicy(t *testing.T) {
	env := newJobEnv(t, Options{})
	ctx := context.Background()
	if err := env.e.DeleteMergePolicy(ctx, aepwire.MergePolicyDefaultNone); err != nil {
		t.Fatal(err)
	}
	_, err := env.e.CreateExportJob(ctx, env.request(), "")
	if aepwire.StatusOf(err) != 400 || !strings.Contains(err.Error(), "no default merge policy") {
		t.Errorf("job without a default policy: %v", err)
	}
}
