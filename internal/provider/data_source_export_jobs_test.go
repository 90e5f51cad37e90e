package provider

import (
	"context"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/backend"
)

// oddJobList is a platform whose job list holds a record the client could not read.
type oddJobList struct{ backend.Backend }

func (oddJobList) ListExportJobs(context.Context, aepwire.ExportJobQuery) (*aepwire.ExportJobList, error) {
	return &aepwire.ExportJobList{
		Records:    []aepwire.ExportJob{{ID: 7, Status: aepwire.JobSucceeded}},
		Unreadable: []string{`record 2 (id 8): json: cannot unmarshal string into Go struct field .metrics of type aepwire.ExportJobMetrics`},
	}, nil
}

// A job the platform lists in a form the provider cannot read is left out with a warning that
// names it, never silently, and the other jobs are still listed.
func TestExportJobsDataSource_warnsOfUnreadableJobs(t *testing.T) {
	ctx := context.Background()
	d := &exportJobsDataSource{dataSourceBase{name: "export_jobs", data: &providerData{backend: oddJobList{}}}}
	var sr datasource.SchemaResponse
	d.Schema(ctx, datasource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx).(tftypes.Object)
	attrs := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		attrs[name] = tftypes.NewValue(at, nil)
	}
	req := datasource.ReadRequest{Config: tfsdk.Config{Schema: sr.Schema, Raw: tftypes.NewValue(typ, attrs)}}
	resp := datasource.ReadResponse{State: tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(typ, nil)}}
	d.Read(ctx, req, &resp)

	if resp.Diagnostics.HasError() {
		t.Fatalf("errors: %v", resp.Diagnostics)
	}
	warnings := resp.Diagnostics.Warnings()
	if len(warnings) != 1 || !strings.Contains(warnings[0].Detail(), "record 2 (id 8)") ||
		!strings.Contains(warnings[0].Detail(), "1 export job(s)") {
		t.Fatalf("warnings = %v, want one naming record 2 (id 8)", warnings)
	}
	var got exportJobsDataSourceModelV0
	resp.Diagnostics.Append(resp.State.Get(ctx, &got)...)
	if resp.Diagnostics.HasError() || len(got.Jobs.Elements()) != 1 {
		t.Fatalf("jobs = %v (%v), want the one readable job", got.Jobs, resp.Diagnostics)
	}
}
