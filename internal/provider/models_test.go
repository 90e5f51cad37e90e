package provider

import (
	"context"
	"reflect"
	"slices"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/types"
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
