package provider

import (
	"context"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// The attribute types of each nested model are written once, by hand: they must be what the
// schemas declare, or values built from the models would not fit the schema.
func TestNestedModelsMatchTheirSchemas(t *testing.T) {
	ctx := context.Background()
	resourceAttr := func(r resource.Resource, name string) attr.Type {
		var resp resource.SchemaResponse
		r.Schema(ctx, resource.SchemaRequest{}, &resp)
		return resp.Schema.Attributes[name].GetType()
	}
	dataSourceAttr := func(d datasource.DataSource, name string) attr.Type {
		var resp datasource.SchemaResponse
		d.Schema(ctx, datasource.SchemaRequest{}, &resp)
		return resp.Schema.Attributes[name].GetType()
	}
	listOf := func(t types.ObjectType) attr.Type { return types.ListType{ElemType: t} }
	for name, tc := range map[string]struct{ schema, model attr.Type }{
		"export job merge_policy": {resourceAttr(NewExportJobResource(), "merge_policy"), objectType[mergePolicyRefModelV0]()},
		"export job filter":       {resourceAttr(NewExportJobResource(), "filter"), objectType[exportFilterModelV0]()},
		"export job event_list":   {resourceAttr(NewExportJobResource(), "event_list"), objectType[eventListModelV0]()},
		"export job destination":  {resourceAttr(NewExportJobResource(), "destination"), objectType[destinationModelV0]()},
		"export job batches":      {resourceAttr(NewExportJobResource(), "batches"), listOf(objectType[exportBatchModelV0]())},
		"export job errors":       {resourceAttr(NewExportJobResource(), "errors"), listOf(objectType[jobMessageModelV0]())},
		"export job warnings":     {resourceAttr(NewExportJobResource(), "warnings"), listOf(objectType[jobMessageModelV0]())},
		"export job metrics":      {resourceAttr(NewExportJobResource(), "metrics"), objectType[exportMetricsModelV0]()},
		"data source metrics":     {dataSourceAttr(NewExportJobDataSource(), "metrics"), objectType[exportMetricsModelV0]()},
		"data source filter":      {dataSourceAttr(NewExportJobDataSource(), "filter"), objectType[exportFilterModelV0]()},
		"batch errors":            {resourceAttr(NewBatchResource(), "errors"), listOf(objectType[batchErrorModelV0]())},
		"batch files":             {dataSourceAttr(NewBatchFilesDataSource(), "files"), listOf(objectType[batchFileModelV0]())},
		"export jobs":             {dataSourceAttr(NewExportJobsDataSource(), "jobs"), listOf(objectType[exportJobSummaryModelV0]())},
	} {
		if !tc.schema.Equal(tc.model) {
			t.Errorf("%s: the schema declares\n  %s\nthe model\n  %s", name, tc.schema, tc.model)
		}
	}
}
