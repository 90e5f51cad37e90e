package exportengine

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/exportengine/store"
)

// Two sandboxes of one data directory: nothing of one is visible or changeable from the other,
// whether the other is named by the context (as the server does) or is another engine's own
// sandbox (as two provider configurations do).
func TestSandboxesSeeOnlyTheirOwnObjects(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true})
	prod := env.e
	ctx := context.Background()
	dev := aepwire.WithSandbox(ctx, "dev")

	batch := ingestLines(t, prod, env.crm, `{"_id":"p1","identityMap":{"email":[{"id":"prod@example.com","primary":true}]},"person":{"name":{"firstName":"Prod"}}}`)
	policy, err := prod.CreateMergePolicy(ctx, aepwire.MergePolicy{Name: "prod only", IdentityGraph: aepwire.IdentityGraph{Type: "none"},
		AttributeMerge: aepwire.AttributeMerge{Type: aepwire.AttributeMergeTimestampOrdered}})
	if err != nil {
		t.Fatal(err)
	}
	job := env.create(t, prod)
	wait(t, prod, job.ID)

	notFound := func(what string, err error) {
		t.Helper()
		if aepwire.StatusOf(err) != 404 {
			t.Errorf("%s from dev: %v, want 404", what, err)
		}
	}
	_, err = prod.GetDataset(dev, env.crm)
	notFound("GetDataset", err)
	_, err = prod.UpdateDataset(dev, env.crm, aepwire.DatasetPatch{Description: new(string)})
	notFound("UpdateDataset", err)
	notFound("DeleteDataset", prod.DeleteDataset(dev, env.crm))
	_, err = prod.GetBatch(dev, batch.ID)
	notFound("GetBatch", err)
	_, err = prod.CompleteBatch(dev, batch.ID)
	notFound("CompleteBatch", err)
	notFound("UploadBatchFile", prod.UploadBatchFile(dev, batch.ID, env.crm, "more.json", strings.NewReader("{}")))
	_, err = prod.ListBatchFiles(dev, batch.ID)
	notFound("ListBatchFiles", err)
	_, err = prod.OpenBatchFile(dev, batch.ID, "records.json")
	notFound("OpenBatchFile", err)
	notFound("DeleteBatch", prod.DeleteBatch(dev, batch.ID))
	_, err = prod.GetMergePolicy(dev, policy.ID)
	notFound("GetMergePolicy", err)
	_, err = prod.UpdateMergePolicy(dev, policy.ID, *policy)
	notFound("UpdateMergePolicy", err)
	notFound("DeleteMergePolicy", prod.DeleteMergePolicy(dev, policy.ID))
	_, err = prod.GetExportJob(dev, job.ID)
	notFound("GetExportJob", err)
	_, err = prod.WaitExportJob(dev, job.ID, nil)
	notFound("WaitExportJob", err)
	notFound("CancelExportJob", prod.CancelExportJob(dev, job.ID))

	if list, err := prod.ListDatasets(dev); err != nil || len(list) != 0 {
		t.Errorf("dev lists datasets %v (%v), want none", list, err)
	}
	if list, err := prod.ListBatches(dev, env.crm); err != nil || len(list) != 0 {
		t.Errorf("dev lists batches %v (%v), want none", list, err)
	}
	if list, err := prod.ListExportJobs(dev, aepwire.ExportJobQuery{}); err != nil || len(list.Records) != 0 {
		t.Errorf("dev lists jobs %v (%v), want none", list, err)
	}
	// A new sandbox starts with AEP's two default policies, its own.
	policies, err := prod.ListMergePolicies(dev)
	if err != nil || len(policies) != 2 {
		t.Fatalf("dev lists policies %v (%v), want its two defaults", policies, err)
	}
	for _, p := range policies {
		if p.Sandbox == nil || p.Sandbox.SandboxName != "dev" || p.Sandbox.Type != "development" || p.Sandbox.Default {
			t.Errorf("dev policy %s names sandbox %+v", p.ID, p.Sandbox)
		}
	}
	if err := prod.DeleteMergePolicy(dev, aepwire.MergePolicyDefaultNone); err != nil {
		t.Fatal(err)
	}
	if p, err := prod.GetMergePolicy(ctx, aepwire.MergePolicyDefaultNone); err != nil || !p.Default || p.Sandbox.SandboxName != "prod" {
		t.Errorf("deleting dev's default policy touched prod's: %+v, %v", p, err)
	}
	// Nothing of prod's can be named from dev: a batch into its dataset, a job onto its
	// destination or with its policy.
	if _, err := prod.CreateBatch(dev, aepwire.BatchRequest{DatasetID: env.crm}); aepwire.StatusOf(err) != 400 ||
		!strings.Contains(err.Error(), "names no dataset") {
		t.Errorf("dev batch into a prod dataset: %v", err)
	}
	if _, err := prod.CreateExportJob(dev, env.request(), ""); aepwire.StatusOf(err) != 400 || !strings.Contains(err.Error(), "names no dataset") {
		t.Errorf("dev job onto a prod destination: %v", err)
	}
	if _, err := prod.CreateMergePolicy(dev, aepwire.MergePolicy{Name: "order", IdentityGraph: aepwire.IdentityGraph{Type: "none"},
		AttributeMerge: aepwire.AttributeMerge{Type: aepwire.AttributeMergeDataSetPrecedence, Order: []string{env.crm}}}); aepwire.StatusOf(err) != 400 {
		t.Errorf("dev policy ordering a prod dataset: %v", err)
	}

	// prod still has all of it.
	if _, err := prod.GetDataset(ctx, env.crm); err != nil {
		t.Errorf("prod's dataset after dev's attempts: %v", err)
	}
	if got, err := prod.GetBatch(ctx, batch.ID); err != nil || got.Status != aepwire.BatchSuccess {
		t.Errorf("prod's batch after dev's attempts: %+v, %v", got, err)
	}
	if _, err := prod.GetMergePolicy(ctx, policy.ID); err != nil {
		t.Errorf("prod's policy after dev's attempts: %v", err)
	}
	if got, err := prod.GetExportJob(ctx, job.ID); err != nil || got.Status != "SUCCEEDED" {
		t.Errorf("prod's job after dev's attempts: %+v, %v", got, err)
	}
}

// An export reads only its own sandbox's profiles, whichever engine's runner runs it; ids of
// jobs and batches are unique across sandboxes, and an idempotency key is a sandbox's own.
func TestExportReadsOnlyItsSandbox(t *testing.T) {
	env := newJobEnv(t, Options{RunJobs: true})
	prod := env.e
	ctx := context.Background()
	ingestLines(t, prod, env.crm, `{"_id":"p1","identityMap":{"email":[{"id":"prod@example.com","primary":true}]},"person":{"name":{"firstName":"Prod"}}}`)

	// Another engine on the data directory, in its own sandbox, as a second provider
	// configuration would open it. The prod engine's runner runs every job: a runner of another
	// engine would be seen only by polling, on a clock that the test does not move.
	devEngine := openEngine(t, Options{DataDir: env.dataDir, Clock: env.clock, Sandbox: "dev"})
	devEnv := &jobEnv{e: devEngine, dest: newDataset(t, devEngine, aepwire.SchemaProfileUnion, false),
		crm: newDataset(t, devEngine, aepwire.SchemaProfile, true)}
	ingestLines(t, devEngine, devEnv.crm, `{"_id":"d1","identityMap":{"email":[{"id":"dev@example.com","primary":true}]},"person":{"name":{"firstName":"Dev"}}}`)

	prodJob, err := prod.CreateExportJob(ctx, env.request(), "same-key")
	if err != nil {
		t.Fatal(err)
	}
	// The dev job is created through the prod engine, naming dev in the context, as the server
	// does: the prod engine's runner runs it in dev.
	devCtx := aepwire.WithSandbox(ctx, "dev")
	devJob, err := prod.CreateExportJob(devCtx, devEnv.request(), "same-key")
	if err != nil {
		t.Fatal(err)
	}
	if devJob.ID == prodJob.ID {
		t.Fatalf("one idempotency key in two sandboxes gave one job %d", devJob.ID)
	}
	prodDone := wait(t, prod, prodJob.ID)
	waitCtx, cancel := context.WithTimeout(devCtx, time.Minute)
	defer cancel()
	devDone, err := prod.WaitExportJob(waitCtx, devJob.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if prodDone.Status != "SUCCEEDED" || devDone.Status != "SUCCEEDED" {
		t.Fatalf("jobs ended %s %v and %s %v", prodDone.Status, prodDone.Errors, devDone.Status, devDone.Errors)
	}
	if prodDone.Destination.BatchID == devDone.Destination.BatchID {
		t.Errorf("both jobs wrote batch %s", prodDone.Destination.BatchID)
	}
	rows := map[string][]string{
		"prod": exportedRows(t, prod, prodDone.Destination.BatchID),
		"dev":  exportedRows(t, devEngine, devDone.Destination.BatchID),
	}
	for sandbox, own := range map[string]string{"prod": "prod@example.com", "dev": "dev@example.com"} {
		if len(rows[sandbox]) != 1 || !strings.Contains(rows[sandbox][0], own) {
			t.Errorf("%s exported %v, want its one profile (%s)", sandbox, rows[sandbox], own)
		}
	}
	// The dev engine sees its job and batch; the prod engine does not, and the other way round.
	if _, err := devEngine.GetBatch(ctx, prodDone.Destination.BatchID); aepwire.StatusOf(err) != 404 {
		t.Errorf("prod's exported batch from dev: %v", err)
	}
	if _, err := prod.GetExportJob(ctx, devJob.ID); aepwire.StatusOf(err) != 404 {
		t.Errorf("dev's job from prod: %v", err)
	}
	f, err := devEngine.OpenBatchFile(ctx, devDone.Destination.BatchID, "part-00000.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(f)
	f.Close()
	if strings.Contains(string(body), "prod@example.com") {
		t.Errorf("dev's export holds a prod profile: %s", body)
	}
	list, err := devEngine.ListExportJobs(ctx, aepwire.ExportJobQuery{})
	if err != nil || len(list.Records) != 1 || list.Records[0].ID != devJob.ID {
		t.Errorf("dev lists jobs %+v (%v), want only %d", list, err, devJob.ID)
	}
	names := func(e *Engine) []string {
		list, err := e.ListDatasets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ds := range list {
			ids = append(ids, ds.ID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := names(devEngine); len(got) != 2 || !slices.Contains(got, devEnv.crm) || !slices.Contains(got, devEnv.dest) {
		t.Errorf("dev lists datasets %v, want its two", got)
	}
}

// writeLegacyDatabase writes, in dir, the database of a data directory written before sandboxes
// (schema version 3), holding what testdata/legacy/schema-v3.sql says.
func writeLegacyDatabase(t *testing.T, dir string) {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join("testdata", "legacy", "schema-v3.sql"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", store.DSN(filepath.Join(dir, databaseFile)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), string(schema)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// A data directory written before sandboxes keeps working: the first engine that opens it claims
// everything in it for its sandbox (the provider's sandbox_name), and the ids it gave stay
// unique. An engine of another sandbox that opens it later sees none of it.
func TestLegacyDataDirectoryIsClaimedByItsFirstSandbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeLegacyDatabase(t, dir)
	const crm, dest, policy, batch = "aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb", "11111111-1111-4111-8111-111111111111",
		"cccccccccccccccccccccccccccccccc"

	clock := newFakeClock()
	dev := openEngine(t, Options{DataDir: dir, Clock: clock, Sandbox: "dev", RunJobs: true})
	if _, err := dev.GetDataset(ctx, crm); err != nil {
		t.Errorf("the legacy dataset in the sandbox that opened the directory: %v", err)
	}
	if b, err := dev.GetBatch(ctx, batch); err != nil || b.Status != aepwire.BatchSuccess {
		t.Errorf("the legacy batch: %+v, %v", b, err)
	}
	job, err := dev.GetExportJob(ctx, 7)
	if err != nil || job.Status != "SUCCEEDED" || job.Destination.BatchID != batch {
		t.Errorf("the legacy job: %+v, %v", job, err)
	}
	policies, err := dev.ListMergePolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range policies {
		ids = append(ids, p.ID)
		if p.Sandbox.SandboxName != "dev" {
			t.Errorf("policy %s names sandbox %+v", p.ID, p.Sandbox)
		}
	}
	slices.Sort(ids)
	if want := []string{policy, aepwire.MergePolicyDefaultNone, aepwire.MergePolicyDefaultPDG}; !slices.Equal(ids, want) {
		t.Errorf("legacy policies %v, want %v (the defaults not seeded twice)", ids, want)
	}
	// The legacy idempotency key still finds its job; new jobs take ids after every id given.
	req := aepwire.ExportJobRequest{Destination: aepwire.ExportDestination{DatasetID: dest}, Schema: aepwire.ExportSchema{Name: aepwire.ProfileSchemaName}}
	if again, err := dev.CreateExportJob(ctx, req, "legacy-key"); err != nil || again.ID != 7 {
		t.Errorf("the legacy idempotency key gave %+v, %v", again, err)
	}
	ingestLines(t, dev, crm, `{"identityMap":{"email":[{"id":"kept@example.com","primary":true}]}}`)
	req.MergePolicy = &aepwire.MergePolicyRef{ID: policy}
	next, err := dev.CreateExportJob(ctx, req, "")
	if err != nil {
		t.Fatal(err)
	}
	if next.ID != 10 {
		t.Errorf("the first new job has id %d, want 10: ids 8 and 9 were given before", next.ID)
	}
	if done := wait(t, dev, next.ID); done.Status != "SUCCEEDED" || len(exportedRows(t, dev, done.Destination.BatchID)) != 1 {
		t.Errorf("an export on the legacy data: %s %v", done.Status, done.Errors)
	}

	// Another sandbox opening the directory later claims nothing.
	prod := openEngine(t, Options{DataDir: dir, Clock: clock})
	if _, err := prod.GetDataset(ctx, crm); aepwire.StatusOf(err) != 404 {
		t.Errorf("the legacy dataset from prod: %v", err)
	}
	if _, err := prod.GetExportJob(ctx, 7); aepwire.StatusOf(err) != 404 {
		t.Errorf("the legacy job from prod: %v", err)
	}
	if list, err := prod.ListMergePolicies(ctx); err != nil || len(list) != 2 {
		t.Errorf("prod's policies %v (%v), want its two defaults", list, err)
	}
}

// A new data directory belongs to no sandbox until one opens it: then its default policies are
// that sandbox's.
func TestNewDataDirectoryDefaultPolicies(t *testing.T) {
	ctx := context.Background()
	e := openEngine(t, Options{DataDir: t.TempDir(), Sandbox: "team-a"})
	list, err := e.ListMergePolicies(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("policies %v (%v)", list, err)
	}
	for _, p := range list {
		if p.Sandbox.SandboxName != "team-a" {
			t.Errorf("policy %s names sandbox %+v", p.ID, p.Sandbox)
		}
	}
	if list, err := e.ListMergePolicies(aepwire.WithSandbox(ctx, "prod")); err != nil || len(list) != 2 || !list[0].Sandbox.Default {
		t.Errorf("prod's policies %+v (%v)", list, err)
	}
}

func TestSandboxNames(t *testing.T) {
	for _, name := range []string{"", "Prod", "dev\n", "a b", strings.Repeat("a", 300), "-dev"} {
		e, err := Open(context.Background(), Options{DataDir: t.TempDir(), Sandbox: name})
		if err == nil {
			_ = e.Close()
		}
		if name != "" && err == nil {
			t.Errorf("sandbox %q was accepted", name)
		}
	}
	e := openEngine(t, Options{DataDir: t.TempDir()})
	if _, err := e.ListDatasets(aepwire.WithSandbox(context.Background(), "dev\nforged")); aepwire.StatusOf(err) != 400 ||
		!strings.Contains(err.Error(), "x-sandbox-name") {
		t.Errorf("a bad sandbox name in the context: %v", err)
	}
}
