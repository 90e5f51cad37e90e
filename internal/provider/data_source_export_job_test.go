package provider

import (
	"context"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The data source reports what a job was created with: its descriptions must not tell the reader
// what to set or leave out, as the resource's do.
func TestExportJobDataSource_describesTheJobAsItIs(t *testing.T) {
	var resp datasource.SchemaResponse
	NewExportJobDataSource().Schema(context.Background(), datasource.SchemaRequest{}, &resp)
	advice := regexp.MustCompile(`(?i)\bomit|\brequired\b|\bdefaults? to\b|, the default|\bdepends_on\b|\bneeds\b`)
	seen := map[string]bool{}
	var walk func(p string, attrs map[string]schema.Attribute)
	walk = func(p string, attrs map[string]schema.Attribute) {
		for name, a := range attrs {
			at := name
			if p != "" {
				at = p + "." + name
			}
			seen[at] = true
			if d := a.GetDescription(); at != "id" && advice.MatchString(d) {
				t.Errorf("%s: %q advises on a configuration", at, d)
			}
			switch a := a.(type) {
			case schema.SingleNestedAttribute:
				walk(at, a.Attributes)
			case schema.ListNestedAttribute:
				walk(at, a.NestedObject.Attributes)
			}
		}
	}
	walk("", resp.Schema.Attributes)
	for p := range echoedDescriptions {
		if !seen[p] {
			t.Errorf("echoedDescriptions describes %s, which the data source does not have", p)
		}
	}
}

// In remote mode a file's record count is known only when its dataset file holds nothing else;
// otherwise the count is unknown, not zero.
func TestBatchFileRecords(t *testing.T) {
	for _, tc := range []struct {
		remote        bool
		size, records int64
		want          string
	}{
		{false, 120, 2, "2"},
		{false, 0, 0, "0"},
		{true, 120, 2, "2"},
		{true, 0, 0, "0"},
		{true, 120, 0, "<null>"},
	} {
		got := batchFileRecords(tc.remote, aepwire.BatchFile{Size: tc.size, Records: tc.records})
		if got.String() != tc.want {
			t.Errorf("remote %v, %d bytes, %d records: got %s, want %s", tc.remote, tc.size, tc.records, got, tc.want)
		}
	}
}
