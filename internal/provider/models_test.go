package provider

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// A nested model's fields must be its schema object's attributes, or building a value from the
// model fails at run time.
func TestNestedModelsHaveTheirSchemasAttributes(t *testing.T) {
	for _, m := range []nestedModel{
		mergePolicyRefModelV0{}, exportFilterModelV0{}, segmentFilterModelV0{}, qualificationTimeModelV0{},
		eventListModelV0{}, destinationModelV0{}, exportBatchModelV0{}, jobMessageModelV0{}, timingModelV0{},
		exportMetricsModelV0{}, batchErrorModelV0{}, batchFileModelV0{}, exportJobSummaryModelV0{},
	} {
		typ := reflect.TypeOf(m)
		var fields []string
		for i := range typ.NumField() {
			fields = append(fields, typ.Field(i).Tag.Get("tfsdk"))
		}
		var attrs []string
		for name := range m.attrTypes() {
			attrs = append(attrs, name)
		}
		slices.Sort(fields)
		slices.Sort(attrs)
		if !slices.Equal(fields, attrs) {
			t.Errorf("%s has fields %v; its schema object has %v", typ.Name(), fields, attrs)
		}
	}
}

// The export job data source reports what the resource holds: the nested models serve both.
func TestExportJobDataSourceHasTheResourcesTypes(t *testing.T) {
	var resp datasource.SchemaResponse
	NewExportJobDataSource().Schema(context.Background(), datasource.SchemaRequest{}, &resp)
	for _, name := range []string{"merge_policy", "filter", "event_list", "destination", "batches", "errors", "warnings", "metrics"} {
		want := exportJobType().(types.ObjectType).AttrTypes[name]
		if got := resp.Schema.Attributes[name].GetType(); !got.Equal(want) {
			t.Errorf("%s: the data source has\n  %s\nthe resource\n  %s", name, got, want)
		}
	}
}

// A batch whose records all failed sends its user to the files; one the platform failed with no
// record failed (the served engine's INGEST-1500, say) sends them to apply again; one with no
// record and no reason (an empty JSON array) sends them to check the files.
func TestBatchFailureSaysWhose(t *testing.T) {
	records := &aepwire.Batch{ID: "b1", Status: aepwire.BatchFailed, FailedRecordCount: 2,
		Errors: []aepwire.BatchError{{Code: "INGEST-1201", Description: "not JSON", Rows: []int64{1}}}}
	platform := &aepwire.Batch{ID: "b2", Status: aepwire.BatchFailed,
		Errors: []aepwire.BatchError{{Code: "INGEST-1500", Description: "the platform could not ingest the batch"}}}
	silent := &aepwire.Batch{ID: "b3", Status: aepwire.BatchFailed}
	for _, c := range []struct {
		b         *aepwire.Batch
		want, not []string
	}{
		{records, []string{"ingested no record: all 2 failed", "line 1: not JSON (INGEST-1201)", "Fix the files"}, []string{"Apply again"}},
		{platform, []string{"with no record of it failed", "the platform could not ingest the batch (INGEST-1500)", "Apply again"}, []string{"Fix the files", "all 0 failed"}},
		{silent, []string{"no record in it and no reason given", "an empty JSON array", "Check the files"}, []string{"Apply again"}},
	} {
		got := batchFailure(c.b, "ds")
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("batch %s: %q lacks %q", c.b.ID, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("batch %s: %q says %q", c.b.ID, got, n)
			}
		}
	}
}
