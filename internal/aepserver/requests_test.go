package aepserver

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

const (
	datasetsPath = "/data/foundation/catalog/dataSets"
	policiesPath = "/data/core/ups/config/mergePolicies"
)

// reply reads a response's status and body; a problem's body is followed by its detail, as text.
func reply(t *testing.T, f *fixture, method, path, body string, header map[string]string, drop ...string) (int, string) {
	t.Helper()
	resp, b := answer(t, f.call(t, method, path, body, header, drop...), nil)
	var problem struct{ Detail string }
	if resp.StatusCode >= 400 && json.Unmarshal(b, &problem) == nil {
		return resp.StatusCode, string(b) + "\n" + problem.Detail
	}
	return resp.StatusCode, string(b)
}

// A JSON body says that it is JSON, and holds one value: a body of another type is a 415, and
// more after the value a 400, where both were taken (the rest of the body dropped).
func TestJSONBodiesAreOneJSONValue(t *testing.T) {
	f := newFixture(t)
	dataset := `{"name":"d","schemaRef":{"id":"https://ns.adobe.com/xdm/context/profile","contentType":"application/vnd.adobe.xed+json;version=1"}}`
	for _, tc := range []struct {
		name, body string
		header     map[string]string
		drop       []string
		status     int
		detail     string
	}{
		{"text/plain", dataset, map[string]string{"Content-Type": "text/plain"}, nil, 415, `send the header Content-Type: application/json (the request's Content-Type: "text/plain")`},
		{"no Content-Type", dataset, nil, []string{"Content-Type"}, 415, "(the request's Content-Type: none)"},
		{"a form", dataset, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil, 415, "application/json"},
		{"more after the value", dataset + ` not-json`, nil, nil, 400, "more follows the JSON value; send one JSON value alone"},
		{"a second value", dataset + `{}`, nil, nil, 400, "more follows the JSON value"},
		{"blanks after the value", dataset + " \n\t", nil, nil, 201, ""},
		{"a charset", dataset, map[string]string{"Content-Type": "application/json; charset=utf-8"}, nil, 201, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := reply(t, f, "POST", datasetsPath, tc.body, tc.header, tc.drop...)
			if status != tc.status || !strings.Contains(body, tc.detail) {
				t.Errorf("got %d %s, want %d with %q", status, body, tc.status, tc.detail)
			}
		})
	}
	// The same holds for a JSON Patch and an export job.
	ds := f.exportDataset(t)
	if status, body := reply(t, f, "PATCH", datasetsPath+"/"+ds, `[{"op":"add","path":"/description","value":"x"}] []`,
		map[string]string{"Content-Type": "application/json-patch+json"}); status != 400 || !strings.Contains(body, "more follows the JSON value") {
		t.Errorf("JSON Patch with more: %d %s", status, body)
	}
	if status, body := reply(t, f, "POST", "/data/core/ups/export/jobs",
		`{"destination":{"dataSetId":"`+ds+`"},"schema":{"name":"_xdm.context.profile"}} x`, nil); status != 400 {
		t.Errorf("export job with more: %d %s", status, body)
	}
	if jobs, err := f.engine.ListExportJobs(context.Background(), aepwire.ExportJobQuery{Limit: 10}); err != nil || len(jobs.Records) != 0 {
		t.Errorf("jobs after the refused request: %+v, %v", jobs, err)
	}
}

// The Bearer scheme's name is case-insensitive: the token endpoint answers token_type "bearer".
func TestBearerSchemeIsCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	for auth, want := range map[string]int{"bearer " + f.token: 200, "BEARER " + f.token: 200, "Bearer  " + f.token: 200, "Basic " + f.token: 403, f.token: 403} {
		if status, body := reply(t, f, "GET", "/data/core/ups/export/jobs", "", map[string]string{"Authorization": auth}); status != want {
			t.Errorf("Authorization %q: %d %s, want %d", auth, status, body, want)
		}
	}
}

// ABORT is for a batch still loading or being ingested, REVERT for one that was completed: one
// taken for the other is refused and leaves the batch as it was, where an ABORT of an ingested
// batch deleted it with its records.
func TestBatchActionsFitTheBatchsState(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ingested := f.ingest(t)
	status, body := reply(t, f, "POST", "/data/foundation/import/batches/"+ingested+"?action=ABORT", "", nil)
	if status != 400 || !strings.Contains(body, "has ended (success): ABORT stops a batch still loading or being ingested; undo an ended batch with action=REVERT") {
		t.Errorf("ABORT of an ingested batch: %d %s", status, body)
	}
	if b, err := f.engine.GetBatch(ctx, ingested); err != nil || b.Status != aepwire.BatchSuccess {
		t.Errorf("the ingested batch after the refused ABORT: %+v, %v", b, err)
	}
	ds, err := f.engine.GetBatch(ctx, ingested)
	if err != nil {
		t.Fatal(err)
	}
	loading, err := f.engine.CreateBatch(ctx, aepwire.BatchRequest{DatasetID: ds.DatasetID()})
	if err != nil {
		t.Fatal(err)
	}
	status, body = reply(t, f, "POST", "/data/foundation/import/batches/"+loading.ID+"?action=REVERT", "", nil)
	if status != 400 || !strings.Contains(body, "is still loading: REVERT undoes a completed batch; end a loading batch with action=ABORT") {
		t.Errorf("REVERT of a loading batch: %d %s", status, body)
	}
	if b, err := f.engine.GetBatch(ctx, loading.ID); err != nil || b.Status != aepwire.BatchLoading {
		t.Errorf("the loading batch after the refused REVERT: %+v, %v", b, err)
	}
	// Each action of its own kind is taken.
	for id, action := range map[string]string{loading.ID: "ABORT", ingested: "REVERT"} {
		if status, body := reply(t, f, "POST", "/data/foundation/import/batches/"+id+"?action="+action, "", nil); status != 200 {
			t.Errorf("%s of %s: %d %s", action, id, status, body)
		}
		if _, err := f.engine.GetBatch(ctx, id); !aepwire.IsNotFound(err) {
			t.Errorf("batch %s after its %s: %v", id, action, err)
		}
	}
}

// Catalog's listings filter by name and keep the properties asked for; a filter this engine does
// not serve is a 400 that names it, where it was dropped and every dataset answered.
func TestCatalogListingsFilterOrSaySoWhenTheyCannot(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for _, name := range []string{"events", "profiles", "events"} {
		ds, err := f.engine.CreateDataset(ctx, aepwire.DatasetRequest{Name: name, SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds.ID)
	}
	list := func(query string) map[string]map[string]any {
		t.Helper()
		status, body := reply(t, f, "GET", datasetsPath+"?"+query, "", nil)
		var m map[string]map[string]any
		if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("%s: %d %s", query, status, body)
		}
		return m
	}
	byName := list("name=events")
	if got := slices.Sorted(maps.Keys(byName)); !slices.Equal(got, slices.Sorted(slices.Values([]string{ids[0], ids[2]}))) {
		t.Errorf("name=events: %v, want %v", got, []string{ids[0], ids[2]})
	}
	if m := list("name=nothing"); len(m) != 0 {
		t.Errorf("name=nothing: %v", m)
	}
	for id, ds := range list("properties=name,version") {
		if len(ds) != 2 || ds["name"] == nil || ds["version"] == nil {
			t.Errorf("properties=name,version: %s is %v", id, ds)
		}
	}
	batch := f.ingest(t)
	status, body := reply(t, f, "GET", "/data/foundation/catalog/batches?properties=status", "", nil)
	if status != 200 || body != `{"`+batch+`":{"status":"success"}}`+"\n" {
		t.Errorf("the batches' status: %d %q", status, body)
	}
	status, body = reply(t, f, "GET", datasetsPath+"/"+ids[1]+"?properties=name", "", nil)
	if status != 200 || body != `{"`+ids[1]+`":{"name":"profiles"}}`+"\n" {
		t.Errorf("one dataset's name: %d %q", status, body)
	}
	for path, param := range map[string]string{
		"/data/foundation/catalog/batches?tags=a:*": "tags", datasetsPath + "?property=name~%5Eev": "property",
		datasetsPath + "/" + ids[0] + "?version=1":      "version",
		"/data/foundation/catalog/batches?externalId=x": "externalId",
	} {
		status, body := reply(t, f, "GET", path, "", nil)
		if param == "" {
			if status != 200 {
				t.Errorf("%s: %d %s", path, status, body)
			}
			continue
		}
		if status != 400 || !strings.Contains(body, "the query parameter "+param+" is not served by this engine: leave it out") {
			t.Errorf("%s: %d %s", path, status, body)
		}
	}
}

// A listing of merge policies keeps those its default and schema.name ask for, in its orderby's
// order, where it answered every policy as it stood.
func TestMergePolicyListingFilters(t *testing.T) {
	f := newFixture(t)
	names := func(query string) []string {
		t.Helper()
		status, body := reply(t, f, "GET", policiesPath+"?"+query, "", nil)
		var list aepwire.MergePolicyList
		if status != 200 || json.Unmarshal([]byte(body), &list) != nil {
			t.Fatalf("%s: %d %s", query, status, body)
		}
		var out []string
		for _, p := range list.Children {
			out = append(out, p.ID)
		}
		return out
	}
	all := names("orderby=id")
	if len(all) != 2 || !slices.IsSorted(all) {
		t.Fatalf("orderby=id: %v", all)
	}
	if got := names("orderby=-id"); !slices.Equal(got, []string{all[1], all[0]}) {
		t.Errorf("orderby=-id: %v", got)
	}
	if got := names("default=true"); !slices.Equal(got, []string{aepwire.MergePolicyDefaultNone}) {
		t.Errorf("default=true: %v", got)
	}
	if got := names("default=false"); !slices.Equal(got, []string{aepwire.MergePolicyDefaultPDG}) {
		t.Errorf("default=false: %v", got)
	}
	if got := names("schema.name=_xdm.context.experienceevent"); len(got) != 0 {
		t.Errorf("schema.name=_xdm.context.experienceevent: %v", got)
	}
	if got := names("schema.name=_xdm.context.profile&default=false"); !slices.Equal(got, []string{aepwire.MergePolicyDefaultPDG}) {
		t.Errorf("schema.name=_xdm.context.profile&default=false: %v", got)
	}
	for query, detail := range map[string]string{"default=yes": `default must be true or false, not "yes"`,
		"orderby=size": `orderby "size": merge policies are ordered by id, name, version or updateEpoch`} {
		if status, body := reply(t, f, "GET", policiesPath+"?"+query, "", nil); status != 400 || !strings.Contains(body, detail) {
			t.Errorf("%s: %d %s", query, status, body)
		}
	}
}

// A merge policy's PATCH takes profile.yaml's paths, with op add alone, and checks its values,
// where it took any op, set default from any value, and refused every path but /default and /name.
func TestMergePolicyPatch(t *testing.T) {
	f := newFixture(t)
	id := aepwire.MergePolicyDefaultNone
	patch := func(body string) (int, string) {
		t.Helper()
		return reply(t, f, "PATCH", policiesPath+"/"+id, body, map[string]string{"x-profile-instance-id": "ups"})
	}
	status, body := patch(`[{"op":"add","path":"/identityGraph.type","value":"pdg"},{"op":"add","path":"/name","value":"stitched"}]`)
	var p aepwire.MergePolicy
	if status != 200 || json.Unmarshal([]byte(body), &p) != nil || p.IdentityGraph.Type != "pdg" || p.Name != "stitched" || p.Version != 2 {
		t.Errorf("identityGraph.type and name: %d %s", status, body)
	}
	for _, tc := range []struct{ body, detail string }{
		{`[{"op":"remove","path":"/default","value":"true"}]`, `op "remove" of "/default": a merge policy's patch takes op add alone`},
		{`{"op":"frobnicate","path":"/name","value":"x"}`, `op "frobnicate"`},
		{`[{"op":"add","path":"/default","value":"yes"}]`, `the value of /default must be "true" or "false", not "yes"`},
		{`[{"op":"add","path":"/version","value":"7"}]`, "/version is the policy's count of changes"},
		{`[{"op":"add","path":"/sandbox","value":"x"}]`, `path "/sandbox": a merge policy's patch takes /name, /identityGraph.type`},
		{`[{"op":"add","path":"/identityGraph.type","value":"sideways"}]`, "identityGraph"},
	} {
		if status, body := patch(tc.body); status != 400 || !strings.Contains(body, tc.detail) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.body, status, body, tc.detail)
		}
	}
	got, err := f.engine.GetMergePolicy(context.Background(), id)
	if err != nil || got.Version != 2 || !got.Default {
		t.Errorf("after the refused patches: %+v, %v", got, err)
	}
	if status, body := patch(`{"op":"add","path":"/default","value":false}`); status != 200 || !strings.Contains(body, `"default":false`) {
		t.Errorf("default false, as a JSON boolean: %d %s", status, body)
	}
}

// A page of export jobs names its sort field createdTime, arranged (start, page, sort) or not,
// where an arranged page named it creationTime.
func TestJobPagesNameTheirSortFieldAlike(t *testing.T) {
	f := newFixture(t)
	for _, query := range []string{"limit=2", "limit=1&start=0", "limit=1&page=1", "limit=1&sort=createdTime:desc", "limit=1&sort=creationTime:asc"} {
		status, body := reply(t, f, "GET", "/data/core/ups/export/jobs?"+query, "", nil)
		if status != 200 || !strings.Contains(body, `"sortField":"createdTime"`) {
			t.Errorf("%s: %d %s", query, status, body)
		}
	}
}

// Datasets are listed by their tags (Catalog's tags=name:value,name2:*, every entry kept).
func TestDatasetsAreListedByTags(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for _, tags := range []map[string][]string{
		{aepwire.TagUnifiedProfile: {aepwire.TagUnifiedProfileEnabled}},
		{"purpose": {"export", "nightly"}},
		{"purpose": {"audit"}, aepwire.TagUnifiedProfile: {"enabled:false"}},
		nil,
	} {
		ds, err := f.engine.CreateDataset(ctx, aepwire.DatasetRequest{Name: "d", SchemaRef: aepwire.SchemaRef{ID: aepwire.SchemaProfile}, Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds.ID)
	}
	for query, want := range map[string][]string{
		"tags=" + aepwire.TagUnifiedProfile + ":" + aepwire.TagUnifiedProfileEnabled: {ids[0]},
		"tags=purpose:*":       {ids[1], ids[2]},
		"tags=purpose:nightly": {ids[1]},
		"tags=purpose:*," + aepwire.TagUnifiedProfile + ":*": {ids[2]},
		"tags=purpose:export,purpose:audit":                  nil,
		"tags=nothing:*":                                     nil,
	} {
		status, body := reply(t, f, "GET", datasetsPath+"?"+query, "", nil)
		var m map[string]any
		if status != 200 || json.Unmarshal([]byte(body), &m) != nil {
			t.Fatalf("%s: %d %s", query, status, body)
		}
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
	for _, query := range []string{"tags=purpose", "tags=:x", "tags=purpose:"} {
		if status, body := reply(t, f, "GET", datasetsPath+"?"+query, "", nil); status != 400 || !strings.Contains(body, "is not name:value or name:*") {
			t.Errorf("%s: %d %s", query, status, body)
		}
	}
}

// A change of a dataset with If-Match goes only while the dataset is at that version (its ETag),
// and is a 412 otherwise, where If-Match was not read.
func TestDatasetChangesHonourIfMatch(t *testing.T) {
	f := newFixture(t)
	id := f.exportDataset(t)
	etag := f.call(t, "GET", datasetsPath+"/"+id, "", nil).Header.Get("ETag")
	if etag != `"1.0.0"` {
		t.Fatalf("ETag %q", etag)
	}
	if status, body := reply(t, f, "PATCH", datasetsPath+"/"+id, `{"description":"first"}`, map[string]string{"If-Match": etag}); status != 200 {
		t.Fatalf("with the current ETag: %d %s", status, body)
	}
	for _, tc := range []struct {
		header map[string]string
		body   string
		status int
		detail string
	}{
		{map[string]string{"If-Match": etag}, `{"description":"stale"}`, 412, `is at version 1.0.1, not "1.0.0" (If-Match): read it again`},
		{map[string]string{"If-Match": etag, "Content-Type": "application/json-patch+json"}, `[{"op":"add","path":"/description","value":"stale"}]`, 412, "(If-Match)"},
		{map[string]string{"If-Match": "1.0.1"}, `{"description":"unquoted"}`, 400, `If-Match "1.0.1" is not one ETag`},
		{map[string]string{"If-Match": `"1.0.1", "1.0.2"`}, `{"description":"two"}`, 400, "is not one ETag"},
	} {
		if status, body := reply(t, f, "PATCH", datasetsPath+"/"+id, tc.body, tc.header); status != tc.status || !strings.Contains(body, tc.detail) {
			t.Errorf("%v %s: %d %s, want %d with %q", tc.header, tc.body, status, body, tc.status, tc.detail)
		}
	}
	if ds, err := f.engine.GetDataset(context.Background(), id); err != nil || ds.Description != "first" || ds.Version != "1.0.1" {
		t.Errorf("after the refused changes: %+v, %v", ds, err)
	}
	for _, match := range []string{`"1.0.1"`, `W/"1.0.2"`, "*"} {
		if status, body := reply(t, f, "PATCH", datasetsPath+"/"+id, `{"description":"matched"}`, map[string]string{"If-Match": match}); status != 200 {
			t.Errorf("If-Match %s: %d %s", match, status, body)
		}
	}
}

// A listing of merge policies by the guide's filters, and its pages: the next page's link keeps
// the listing's filters and order, where it dropped them and the next page was of another listing.
func TestMergePolicyPagesKeepTheirListing(t *testing.T) {
	f := newFixture(t)
	var seen []string
	path := policiesPath + "?orderby=-id&limit=1&schema.name=_xdm.context.profile"
	for range 3 {
		status, body := reply(t, f, "GET", path, "", nil)
		var list aepwire.MergePolicyList
		if status != 200 || json.Unmarshal([]byte(body), &list) != nil {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		for _, p := range list.Children {
			seen = append(seen, p.ID)
		}
		if list.Links.Next.Href == "" {
			break
		}
		path = policiesPath + strings.TrimPrefix(list.Links.Next.Href, "@/mergePolicies")
	}
	if want := []string{aepwire.MergePolicyDefaultPDG, aepwire.MergePolicyDefaultNone}; !slices.Equal(seen, want) {
		t.Errorf("pages of orderby=-id: %v, want %v", seen, want)
	}
	for query, want := range map[string]int{"identityGraph.type=pdg": 1, "identityGraph.type=none&default=true": 1,
		"attributeMerge.type=dataSetPrecedence": 0, "isActiveOnEdge=false": 2, "version=1": 2, "version=2": 0, "orderBy=-name": 2} {
		status, body := reply(t, f, "GET", policiesPath+"?"+query, "", nil)
		var list aepwire.MergePolicyList
		if status != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Children) != want {
			t.Errorf("%s: %d %s, want %d policies", query, status, body, want)
		}
	}
	if status, body := reply(t, f, "GET", policiesPath+"?isActiveOnEdge=no", "", nil); status != 400 || !strings.Contains(body, `isActiveOnEdge must be true or false, not "no"`) {
		t.Errorf("isActiveOnEdge=no: %d %s", status, body)
	}
}

// A patch of attributeMerge.type to timestampOrdered drops the datasets' order, which only
// dataSetPrecedence takes; to dataSetPrecedence it needs an order that a patch cannot set, and
// says to send the whole policy, where both were refused with a fix a patch could not make.
func TestMergePolicyPatchOfItsAttributeMerge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ds := f.exportDataset(t)
	created, err := f.engine.CreateMergePolicy(ctx, aepwire.MergePolicy{Name: "ordered", Schema: aepwire.ExportSchema{Name: "_xdm.context.profile"},
		IdentityGraph: aepwire.IdentityGraph{Type: "none"}, AttributeMerge: aepwire.AttributeMerge{Type: "dataSetPrecedence", Order: []string{ds}}})
	if err != nil {
		t.Fatal(err)
	}
	status, body := reply(t, f, "PATCH", policiesPath+"/"+aepwire.MergePolicyDefaultNone, `[{"op":"add","path":"/attributeMerge.type","value":"dataSetPrecedence"}]`, nil)
	if status != 400 || !strings.Contains(body, "needs attributeMerge.order, the datasets in order, which a patch cannot set: send the whole policy with its order in a PUT") {
		t.Errorf("to dataSetPrecedence: %d %s", status, body)
	}
	status, body = reply(t, f, "PATCH", policiesPath+"/"+created.ID, `[{"op":"add","path":"/attributeMerge.type","value":"timestampOrdered"}]`, nil)
	var p aepwire.MergePolicy
	if status != 200 || json.Unmarshal([]byte(body), &p) != nil || p.AttributeMerge.Type != "timestampOrdered" || len(p.AttributeMerge.Order) != 0 {
		t.Errorf("to timestampOrdered: %d %s", status, body)
	}
}

// A value of the wrong JSON type is named by its field and what it must be, where the answer
// named the server's Go types ("Go struct field SegmentFilter...").
func TestWrongJSONTypesNameTheirField(t *testing.T) {
	f := newFixture(t)
	for body, detail := range map[string]string{
		`{"destination":{"dataSetId":7},"schema":{"name":"_xdm.context.profile"}}`:                                "destination.dataSetId must be a string, not a JSON number",
		`{"destination":{"dataSetId":"d"},"schema":{"name":"_xdm.context.profile"},"filter":{"segments":"s"}}`:    "filter.segments must be an array, not a JSON string",
		`{"destination":{"dataSetId":"d"},"schema":{"name":"_xdm.context.profile"},"filter":{"segments":[true]}}`: "filter.segments must be an object, not a JSON bool",
	} {
		status, got := reply(t, f, "POST", "/data/core/ups/export/jobs", body, nil)
		if status != 400 || !strings.Contains(got, detail) || strings.Contains(got, "Go ") {
			t.Errorf("%s: %d %s, want 400 with %q", body, status, got, detail)
		}
	}
}
