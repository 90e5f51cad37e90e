package exportengine

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// refusedFor checks that err is a refusal of status that names the quota's flag, or says what to do.
func refusedFor(t *testing.T, what string, err error, status int, says string) {
	t.Helper()
	if aepwire.StatusOf(err) != status || !strings.Contains(err.Error(), says) {
		t.Errorf("%s: %v; want a %d that says %q", what, err, status, says)
	}
}

// A sandbox holds at most Quotas.Datasets datasets and Quotas.LoadingBatches batches open
// (loading, or processing); another sandbox's count is its own, and a batch ingested gives its
// place back.
func TestSandboxQuotasOfDatasetsAndLoadingBatches(t *testing.T) {
	e := openEngine(t, Options{DataDir: t.TempDir(), Quotas: Quotas{Datasets: 2, LoadingBatches: 2}})
	ctx := context.Background()
	dev := aepwire.WithSandbox(ctx, "dev")
	req := aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}}
	var ds string
	for range 2 {
		d, err := e.CreateDataset(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		ds = d.ID
	}
	_, err := e.CreateDataset(ctx, req)
	refusedFor(t, "a third dataset", err, http.StatusBadRequest, "holds 2 datasets")
	refusedFor(t, "a third dataset", err, http.StatusBadRequest, "-max-datasets")
	if _, err := e.CreateDataset(dev, req); err != nil {
		t.Errorf("another sandbox's first dataset: %v", err)
	}

	batch := aepwire.BatchRequest{DatasetID: ds}
	first, err := e.CreateBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	second, err := e.CreateBatch(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.CreateBatch(ctx, batch)
	refusedFor(t, "a third batch loading", err, http.StatusBadRequest, "has 2 batches loading or being ingested")
	refusedFor(t, "a third batch loading", err, http.StatusBadRequest, "complete (POST /batches/{id}?action=COMPLETE)")
	// A batch completed and waiting for its ingestion (AcceptBatch) is still open.
	if _, err := e.store.DB().ExecContext(ctx, `UPDATE batches SET status = ? WHERE id = ?`, aepwire.BatchProcessing, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.CreateBatch(ctx, batch)
	refusedFor(t, "a third batch beside one processing", err, http.StatusBadRequest, "has 2 batches loading or being ingested")
	if err := e.UploadBatchFile(ctx, second.ID, ds, "p.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"a@x.io"}]}}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CompleteBatch(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.CreateBatch(ctx, batch); err != nil {
		t.Errorf("a batch after one was completed: %v", err)
	}
}

// A sandbox has at most Quotas.PendingJobs export jobs waiting or running: past it a job is a 429,
// to be tried again; the same job asked for again (its idempotency key) is not refused, and a job
// cancelled gives its place back.
func TestSandboxQuotaOfPendingJobs(t *testing.T) {
	env := newJobEnv(t, Options{Quotas: Quotas{PendingJobs: 1}}) // no runner: jobs stay NEW
	ctx := context.Background()
	first, err := env.e.CreateExportJob(ctx, env.request(), "key-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = env.e.CreateExportJob(ctx, env.request(), "")
	refusedFor(t, "a second job waiting", err, http.StatusTooManyRequests, "has 1 export jobs waiting or running")
	if again, err := env.e.CreateExportJob(ctx, env.request(), "key-1"); err != nil || again.ID != first.ID {
		t.Errorf("the first job asked for again: %+v, %v", again, err)
	}
	if err := env.e.CancelExportJob(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := env.e.CreateExportJob(ctx, env.request(), ""); err != nil {
		t.Errorf("a job after the first was cancelled: %v", err)
	}
}

// An update keeps the newest Quotas.PolicyVersions versions of a merge policy, and those a job
// waiting or running names.
func TestMergePolicyKeepsItsNewestVersionsAndThoseOfWaitingJobs(t *testing.T) {
	env := newJobEnv(t, Options{Quotas: Quotas{PolicyVersions: 2}})
	ctx := context.Background()
	p := aepwire.MergePolicy{Name: "p", Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName},
		IdentityGraph: aepwire.IdentityGraph{Type: "none"}, AttributeMerge: aepwire.AttributeMerge{Type: "timestampOrdered"}}
	created, err := env.e.CreateMergePolicy(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	update := func() {
		t.Helper()
		if _, err := env.e.UpdateMergePolicy(ctx, created.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	update() // version 2, which the job below names
	req := env.request()
	req.MergePolicy = &aepwire.MergePolicyRef{ID: created.ID}
	if _, err := env.e.CreateExportJob(ctx, req, ""); err != nil {
		t.Fatal(err)
	}
	update()
	update()
	update() // version 5
	rows, err := env.e.store.DB().QueryContext(ctx, `SELECT version FROM merge_policies WHERE id = ? ORDER BY version`, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int64{2, 4, 5}) {
		t.Errorf("versions kept %v, want [2 4 5]: the newest two, and the waiting job's", versions)
	}
}
