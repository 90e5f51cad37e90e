package provider

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
)

const batchAddr = "experienceplatform_batch.test"

// writeFile writes a test input file and returns its path.
func writeFile(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// batchConfig is a profile dataset and a batch of the given files into it.
func (env *testEnv) batchConfig(files ...string) string {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = fmt.Sprintf("%q", f)
	}
	return env.batchConfigOf(strings.Join(quoted, ", "))
}

// batchConfigOf is batchConfig with the files' expressions as they are written.
func (env *testEnv) batchConfigOf(files string) string {
	return env.config(fmt.Sprintf(`
resource "experienceplatform_dataset" "profiles" {
  name            = "CRM profiles"
  schema_ref      = { id = "https://ns.adobe.com/xdm/context/profile" }
  profile_enabled = true
}

resource "experienceplatform_batch" "test" {
  dataset_id = experienceplatform_dataset.profiles.id
  files      = [%s]
}`, files))
}

func TestAccBatchResource(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		dir := t.TempDir()
		good := writeFile(t, dir, "a_crm.json",
			`{"identityMap":{"CRMID":[{"id":"c1","primary":true}]},"person":{"name":{"firstName":"Ada"}}}`,
			`not json`,
			``,
			`{"person":{"name":{"firstName":"Nobody"}}}`,
			`{"identityMap":{"CRMID":[{"id":"c2"}]}}`)
		array := writeFile(t, dir, "b_loyalty.json",
			`[{"identities":[{"id":"a@example.com","namespace":{"code":"Email"}}]}, 7]`)
		sameBatch := statecheck.CompareValue(compare.ValuesSame())
		newBatch := statecheck.CompareValue(compare.ValuesDiffer())

		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			CheckDestroy: func(s *terraform.State) error {
				for _, rs := range s.RootModule().Resources {
					if rs.Type != "experienceplatform_batch" {
						continue
					}
					if _, err := env.engine.GetBatch(context.Background(), rs.Primary.ID); !aepwire.IsNotFound(err) {
						return fmt.Errorf("batch %s still exists after destroy: %w", rs.Primary.ID, err)
					}
				}
				return nil
			},
			Steps: slices.Concat([]resource.TestStep{
				{ // good and bad records in two files
					Config: env.batchConfig(good, array),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(batchAddr, plancheck.ResourceActionCreate),
							plancheck.ExpectUnknownValue(batchAddr, tfjsonpath.New("content_sha256")),
						},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						sameBatch.AddStateValue(batchAddr, tfjsonpath.New("id")),
						newBatch.AddStateValue(batchAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("id"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{32}$`))),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("status"), knownvalue.StringExact("success")),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("record_count"), knownvalue.Int64Exact(3)),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("failed_record_count"), knownvalue.Int64Exact(3)),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("errors"), knownvalue.ListExact([]knownvalue.Check{
							env.batchErrorCheck("a_crm.json", 2, "INGEST-1000", `^not valid JSON: `),
							env.batchErrorCheck("a_crm.json", 4, "INGEST-1003", `^the record has no identity`),
							env.batchErrorCheck("b_loyalty.json", 2, "INGEST-1001", `^the record is a JSON number, not an object$`),
						})),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("ingest_time_ms"), knownvalue.NotNull()),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("completed_at"),
							knownvalue.StringRegexp(regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`))),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("format"), knownvalue.StringExact("json")),
					},
				},
			},
				// The platform does not know the local file paths: an import block adopts the
				// configuration's files in place.
				adoptingImportSteps(batchAddr, "files", "content_sha256"),
				[]resource.TestStep{
					{ // a plain second apply ingests nothing
						Config: env.batchConfig(good, array),
						ConfigPlanChecks: resource.ConfigPlanChecks{
							PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
						},
						ConfigStateChecks: []statecheck.StateCheck{sameBatch.AddStateValue(batchAddr, tfjsonpath.New("id"))},
					},
					{ // changed contents are ingested again as a new batch
						PreConfig: func() {
							writeFile(t, dir, "b_loyalty.json", `[{"identities":[{"id":"b@example.com","namespace":{"code":"Email"}}]}]`)
						},
						Config:           env.batchConfig(good, array),
						ConfigPlanChecks: expectAction(batchAddr, plancheck.ResourceActionDestroyBeforeCreate),
						ConfigStateChecks: []statecheck.StateCheck{
							newBatch.AddStateValue(batchAddr, tfjsonpath.New("id")),
							statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("record_count"), knownvalue.Int64Exact(3)),
							statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("failed_record_count"), knownvalue.Int64Exact(2)),
						},
					},
				}),
		})
	})
}

// batchErrorCheck checks one of a batch's errors; AEP names no file in its errors, so in remote
// mode (the served engine's strict profile) the file is null.
func (env *testEnv) batchErrorCheck(file string, line int64, code, reason string) knownvalue.Check {
	var fileCheck knownvalue.Check = knownvalue.StringExact(file)
	if env.mode == "remote" {
		fileCheck = knownvalue.Null()
	}
	return knownvalue.ObjectExact(map[string]knownvalue.Check{
		"file":   fileCheck,
		"line":   knownvalue.Int64Exact(line),
		"code":   knownvalue.StringExact(code),
		"reason": knownvalue.StringRegexp(regexp.MustCompile(reason)),
	})
}

func TestAccBatchResource_failedBatchIsTaintedAndReplaced(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		dir := t.TempDir()
		file := writeFile(t, dir, "profiles.json", `{"no":"identity"}`, `[1]`, `{"still":"none"}`)
		var failedID string
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: env.batchConfig(file),
					ExpectError: errorPattern("Batch failed", "ingested no record: all 3 failed",
						"line 1: the record has no identity", "(INGEST-1003)",
						"line 2: the record is a JSON array, not an object (INGEST-1001)",
						"line 3: the record has no identity"),
				},
				{ // the failed batch was saved, tainted: fixing the file replaces it
					PreConfig: func() {
						batches := env.listBatches(t)
						if len(batches) != 1 || batches[0].Status != aepwire.BatchFailed {
							t.Fatalf("after the failed apply the dataset holds %v, want one failed batch", batches)
						}
						failedID = batches[0].ID
						writeFile(t, dir, "profiles.json", `{"identityMap":{"Email":[{"id":"fixed@example.com"}]}}`)
					},
					Config: env.batchConfig(file),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(batchAddr, plancheck.ResourceActionDestroyBeforeCreate)},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("status"), knownvalue.StringExact("success")),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("errors"), knownvalue.ListSizeExact(0)),
					},
					Check: func(*terraform.State) error {
						if _, err := env.engine.GetBatch(context.Background(), failedID); !aepwire.IsNotFound(err) {
							return fmt.Errorf("the failed batch %s was not deleted: %w", failedID, err)
						}
						return nil
					},
				},
			},
		})
	})
}

// listBatches returns the batches of the test's only profile dataset.
func (env *testEnv) listBatches(t *testing.T) []*aepwire.Batch {
	t.Helper()
	var out []*aepwire.Batch
	rows, err := env.datasets(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, ds := range rows {
		bs, err := env.engine.ListBatches(context.Background(), ds)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, bs...)
	}
	return out
}

func TestAccBatchResource_importAdoptsFiles(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		ctx := context.Background()
		file := writeFile(t, t.TempDir(), "profiles.json", `{"identityMap":{"Email":[{"id":"a@example.com"}]}}`)
		// A batch ingested outside Terraform.
		ds, err := env.engine.CreateDataset(ctx, aepwire.DatasetRequest{Name: "p", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := env.engine.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.ID})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.engine.UploadBatchFile(ctx, b.ID, ds.ID, "profiles.json", strings.NewReader(`{"identityMap":{"Email":[{"id":"a@example.com"}]}}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := env.engine.CompleteBatch(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		config := env.config(fmt.Sprintf(`
resource "experienceplatform_batch" "test" {
  dataset_id = %q
  files      = [%q]
}`, ds.ID, file))
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config:             config,
					ResourceName:       batchAddr,
					ImportState:        true,
					ImportStateId:      b.ID,
					ImportStatePersist: true,
					ImportStateCheck: func(states []*terraform.InstanceState) error {
						if len(states) != 1 || states[0].Attributes["record_count"] != "1" || states[0].Attributes["dataset_id"] != ds.ID {
							return fmt.Errorf("imported %v", states)
						}
						return nil
					},
				},
				{ // the imported batch takes the configuration's files in place, without ingesting again
					Config:           config,
					ConfigPlanChecks: expectAction(batchAddr, plancheck.ResourceActionUpdate),
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("id"), knownvalue.StringExact(b.ID)),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("content_sha256"), knownvalue.NotNull()),
					},
				},
			},
		})
	})
}

func TestAccBatchResource_deletedOutsideTerraform(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		file := writeFile(t, t.TempDir(), "profiles.json", `{"identityMap":{"Email":[{"id":"a@example.com"}]}}`)
		testDeletedOutsideTerraform(t, batchAddr, env.batchConfig(file), env.engine.DeleteBatch)
	})
}

func TestAccBatchResource_planTimeErrors(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		dir := t.TempDir()
		csv := filepath.Join(dir, "people.csv")
		if err := os.WriteFile(csv, []byte("id,email\n1,a@example.com\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		empty := filepath.Join(dir, "empty.json")
		if err := os.WriteFile(empty, []byte("\n\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		one := writeFile(t, dir, "same.json", `{}`)
		two := writeFile(t, sub, "same.json", `{}`)
		missing := filepath.Join(dir, "missing.json")

		for name, tc := range map[string]struct {
			config string
			want   []string
		}{
			"missing file": {env.batchConfig(missing), []string{"Unusable batch file", "cannot open " + missing, "no such file or directory",
				`use "${path.module}/..." for files beside the configuration`}},
			"not JSON":        {env.batchConfig(csv), []string{"Unusable batch file", "people.csv is not JSON: it starts with 'i'", "Convert it to JSON Lines"}},
			"empty":           {env.batchConfig(empty), []string{"empty.json is empty"}},
			"duplicate names": {env.batchConfig(one, two), []string{"Duplicate file name", `Files 0 and 1 are both named "same.json"`}},
			"no files":        {env.batchConfig(), []string{"Attribute files list must contain at least 1 elements"}},
			"format": {env.config(`
resource "experienceplatform_batch" "test" {
  dataset_id = "0123456789abcdef01234567"
  files      = ["` + one + `"]
  format     = "parquet"
}`), []string{`Attribute format value must be one of: ["json"], got: "parquet"`}},
		} {
			t.Run(name, func(t *testing.T) {
				resource.ParallelTest(t, planFails(tc.config, tc.want...))
			})
		}
	})
}

// stalledCompletion is a platform that takes longer to ingest a batch than the apply waits: its
// completion answers only once the apply has stopped waiting, and the platform then ingests the
// batch all the same, as AEP does with a completed batch.
type stalledCompletion struct {
	backend.Backend
	stalled chan<- string // hears the id of each batch whose completion is stalled
}

func (s stalledCompletion) CompleteBatch(ctx context.Context, id string) (*aepwire.Batch, error) {
	s.stalled <- id
	<-ctx.Done()
	if _, err := s.Backend.CompleteBatch(context.WithoutCancel(ctx), id); err != nil {
		return nil, err
	}
	return nil, ctx.Err()
}

// Ctrl-C, or the end of timeouts.create, while the platform ingests a batch leaves the batch in
// the state, tainted, rather than nowhere: the next apply deletes it and ingests the files again.
func TestAccBatchResource_interruptedCreateKeepsTheBatch(t *testing.T) {
	for name, tc := range map[string]struct {
		timeouts string   // the batch's timeouts attribute, if any
		stop     bool     // whether the test stops the provider, as Ctrl-C does
		want     []string // what the error says
	}{
		"Ctrl-C": {stop: true, want: []string{"Wait for batch interrupted", "Terraform stopped waiting for batch",
			"saved in the state as tainted"}},
		// The stalled completion answers only when the wait ends, so the timeout always comes first.
		"timeout": {timeouts: `{ create = "3s" }`, want: []string{"Batch timed out", "was not ingested within 3s (timeouts.create)",
			"saved in the state as tainted", "raise timeouts.create"}},
	} {
		t.Run(name, func(t *testing.T) {
			forEachMode(t, func(t *testing.T, env *testEnv) {
				file := writeFile(t, t.TempDir(), "profiles.json", `{"identityMap":{"Email":[{"id":"a@example.com"}]}}`)
				config := env.batchConfig(file)
				interrupted := config
				if tc.timeouts != "" {
					interrupted = strings.TrimSuffix(config, "}") + "  timeouts   = " + tc.timeouts + "\n}"
				}
				stalled := make(chan string, 1)
				slow := &testProvider{wrap: func(b backend.Backend) backend.Backend { return stalledCompletion{Backend: b, stalled: stalled} }}
				first := make(chan string, 1)
				resource.ParallelTest(t, resource.TestCase{
					Steps: []resource.TestStep{
						{
							PreConfig: func() {
								go func() {
									id := <-stalled
									if tc.stop {
										slow.interrupt()
									}
									first <- id
								}()
							},
							ProtoV6ProviderFactories: slow.factories(),
							Config:                   interrupted,
							ExpectError:              errorPattern(tc.want...),
						},
						{ // the interrupted batch was ingested meanwhile, and is in the state: the next apply replaces it
							ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
							Config:                   config,
							ConfigPlanChecks: resource.ConfigPlanChecks{
								PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(batchAddr, plancheck.ResourceActionDestroyBeforeCreate)},
							},
							ConfigStateChecks: []statecheck.StateCheck{
								statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("status"), knownvalue.StringExact("success")),
							},
							Check: func(s *terraform.State) error {
								id := <-first
								if _, err := env.engine.GetBatch(context.Background(), id); !aepwire.IsNotFound(err) {
									return fmt.Errorf("the interrupted batch %s is still there: %w", id, err)
								}
								if batches := env.listBatches(t); len(batches) != 1 || batches[0].ID != s.RootModule().Resources[batchAddr].Primary.ID {
									return fmt.Errorf("the dataset holds %v; want only the batch in the state", batches)
								}
								return nil
							},
						},
					},
				})
			})
		})
	}
}

// appendRecord is a plan check that changes a batch file between the plan and its apply, as an
// edit at the apply's prompt, or a saved plan applied later, does.
type appendRecord struct {
	t          *testing.T
	file, line string
}

func (a appendRecord) CheckPlan(_ context.Context, _ plancheck.CheckPlanRequest, _ *plancheck.CheckPlanResponse) {
	f, err := os.OpenFile(a.file, os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(a.line + "\n")
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		a.t.Fatal(err)
	}
}

// A file that changes between the plan and its apply is ingested as it is at the apply, for a new
// batch and for one that replaces another, where Terraform refused the apply as an inconsistent
// final plan (after destroying the batch being replaced). The hash in the state is of what was
// ingested, so that the plan after it is empty.
func TestAccBatch_fileChangedBetweenPlanAndApply(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		dir := t.TempDir()
		file := writeFile(t, dir, "crm.json", `{"identityMap":{"CRMID":[{"id":"c1","primary":true}]}}`)
		record := func(id string) string { return `{"identityMap":{"CRMID":[{"id":"` + id + `","primary":true}]}}` }
		newBatch := statecheck.CompareValue(compare.ValuesDiffer())
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config: env.batchConfig(file),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(batchAddr, plancheck.ResourceActionCreate),
							appendRecord{t, file, record("c2")},
						},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						newBatch.AddStateValue(batchAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("record_count"), knownvalue.Int64Exact(2)),
					},
				},
				{
					PreConfig: func() {
						appendRecord{t, file, record("c3")}.CheckPlan(context.Background(), plancheck.CheckPlanRequest{}, nil)
					},
					Config: env.batchConfig(file),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectResourceAction(batchAddr, plancheck.ResourceActionDestroyBeforeCreate),
							plancheck.ExpectUnknownValue(batchAddr, tfjsonpath.New("content_sha256")),
							appendRecord{t, file, record("c4")},
						},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						newBatch.AddStateValue(batchAddr, tfjsonpath.New("id")),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("record_count"), knownvalue.Int64Exact(4)),
					},
				},
			},
		})
	})
}

// A file path that the same apply makes known (here from the dataset's id, known once the dataset
// is created) is read at the apply; a null entry of files is refused, naming its index. Both ended
// in the framework's "Value Conversion Error", which calls itself a bug in the provider.
func TestAccBatch_filesNotKnownAtPlan(t *testing.T) {
	forEachMode(t, func(t *testing.T, env *testEnv) {
		dir := t.TempDir()
		writeFile(t, dir, "crm.json", `{"identityMap":{"CRMID":[{"id":"c1","primary":true}]}}`)
		resource.ParallelTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{
					Config:      env.batchConfigOf(`null`),
					ExpectError: regexp.MustCompile(`files\[0\] is null: every entry of files is the path of a file to ingest`),
				},
				{
					Config: env.batchConfigOf(fmt.Sprintf(`"%s/${substr(experienceplatform_dataset.profiles.id, 0, 0)}crm.json"`, filepath.ToSlash(dir))),
					ConfigPlanChecks: resource.ConfigPlanChecks{
						PreApply: []plancheck.PlanCheck{
							plancheck.ExpectUnknownValue(batchAddr, tfjsonpath.New("files").AtSliceIndex(0)),
							plancheck.ExpectUnknownValue(batchAddr, tfjsonpath.New("content_sha256")),
						},
						PostApplyPostRefresh: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
					},
					ConfigStateChecks: []statecheck.StateCheck{
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("record_count"), knownvalue.Int64Exact(1)),
						statecheck.ExpectKnownValue(batchAddr, tfjsonpath.New("content_sha256"), knownvalue.StringRegexp(regexp.MustCompile(`^[0-9a-f]{64}$`))),
					},
				},
			},
		})
	})
}
