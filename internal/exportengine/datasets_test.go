package exportengine

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

func TestDatasetLifecycle(t *testing.T) {
	e, clock := openTestEngine(t)
	ctx := context.Background()

	ds, err := e.CreateDataset(ctx, aepwire.DatasetRequest{
		Name:        "Profile export",
		Description: "exported profiles",
		SchemaRef:   aepwire.SchemaRef{ID: aepwire.SchemaProfileUnion},
		Tags:        map[string][]string{"team": {"growth", "emea"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(ds.ID) {
		t.Errorf("id %q is not 24 lowercase hex characters", ds.ID)
	}
	created := clock.Now().UnixMilli()
	if ds.Version != "1.0.0" || ds.Created != created || ds.Updated != created || ds.State != "DRAFT" {
		t.Errorf("new dataset = %+v", ds)
	}
	if ds.SchemaRef.ContentType != aepwire.DefaultSchemaContentType {
		t.Errorf("content type defaulted to %q", ds.SchemaRef.ContentType)
	}

	clock.Advance(time.Second)
	name := "Renamed"
	tags := map[string][]string{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}}
	up, err := e.UpdateDataset(ctx, ds.ID, aepwire.DatasetPatch{Name: &name, Tags: &tags})
	if err != nil {
		t.Fatal(err)
	}
	if up.Name != "Renamed" || up.Description != "exported profiles" || up.Version != "1.0.1" ||
		up.Updated != created+1000 || up.Created != created || !aepwire.ProfileEnabled(up.Tags) || len(up.Tags) != 1 {
		t.Errorf("updated dataset = %+v", up)
	}
	got, err := e.GetDataset(ctx, ds.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != up.Name || got.Version != up.Version || !aepwire.ProfileEnabled(got.Tags) {
		t.Errorf("stored dataset = %+v, want %+v", got, up)
	}

	if err := e.DeleteDataset(ctx, ds.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GetDataset(ctx, ds.ID); !aepwire.IsNotFound(err) {
		t.Errorf("GetDataset after delete: err = %v, want 404", err)
	}
	if err := e.DeleteDataset(ctx, ds.ID); !aepwire.IsNotFound(err) {
		t.Errorf("second DeleteDataset: err = %v, want 404", err)
	}
}

func TestDatasetBadRequests(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	empty := ""
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"no name", func() error {
			_, err := e.CreateDataset(ctx, aepwire.DatasetRequest{SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
			return err
		}},
		{"no schema", func() error {
			_, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "x"})
			return err
		}},
		{"empty tag name", func() error {
			_, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "x", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile},
				Tags: map[string][]string{"": {"v"}}})
			return err
		}},
		{"rename to empty", func() error {
			ds, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "x", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
			if err != nil {
				return err
			}
			_, err = e.UpdateDataset(ctx, ds.ID, aepwire.DatasetPatch{Name: &empty})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := aepwire.StatusOf(tc.call()); got != http.StatusBadRequest {
				t.Errorf("status = %d, want 400", got)
			}
		})
	}
	if _, err := e.UpdateDataset(ctx, "000000000000000000000000", aepwire.DatasetPatch{}); !aepwire.IsNotFound(err) {
		t.Errorf("update of a missing dataset: err = %v, want 404", err)
	}
}

// A dataset's schemaRef, which every listing of datasets repeats, is held to a length; one at the
// limits makes a dataset.
func TestDatasetSchemaRefLimits(t *testing.T) {
	e, _ := openTestEngine(t)
	ctx := context.Background()
	for _, tc := range []struct {
		ref  aepwire.SchemaRef
		want string
	}{
		{aepwire.SchemaRef{ID: strings.Repeat("s", 1_000_000)}, "schemaRef.id is 1000000 characters long, more than the 1024 it may have; shorten it"},
		{aepwire.SchemaRef{ID: aepwire.SchemaProfile, ContentType: strings.Repeat("c", 257)},
			"schemaRef.contentType is 257 characters long, more than the 256 it may have"},
	} {
		_, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "d", SchemaRef: tc.ref})
		if aepwire.StatusOf(err) != http.StatusBadRequest || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("schemaRef of %d and %d characters: %v, want a 400 saying %q", len(tc.ref.ID), len(tc.ref.ContentType), err, tc.want)
		}
	}
	ref := aepwire.SchemaRef{ID: strings.Repeat("s", aepwire.MaxSchemaIDLen), ContentType: strings.Repeat("c", aepwire.MaxIdentifierLen)}
	if _, err := e.CreateDataset(ctx, aepwire.DatasetRequest{Name: "d", SchemaRef: ref}); err != nil {
		t.Errorf("a schemaRef at the limits: %v", err)
	}
}

func TestBumpVersion(t *testing.T) {
	for in, want := range map[string]string{"1.0.0": "1.0.1", "1.0.9": "1.0.10", "2": "3", "x": "x.1"} {
		if got := bumpVersion(in); got != want {
			t.Errorf("bumpVersion(%q) = %q, want %q", in, got, want)
		}
	}
}
