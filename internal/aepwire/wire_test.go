package aepwire

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The JSON examples of AEP's documentation (testdata) decode into the wire types, and encode
// back with the same fields and values, except where this package normalises a documented
// variant.
func TestDocumentedExamplesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		file string
		into func() any
		// want rewrites the document into what re-encoding must give.
		want func(doc map[string]any)
	}{
		{"job_new.json", func() any { return &ExportJob{} }, func(doc map[string]any) {
			// dataSetId (some examples) is read, and written back as the spec's datasetId.
			d := doc["destination"].(map[string]any)
			d["datasetId"] = d["dataSetId"]
			delete(d, "dataSetId")
		}},
		{"job_request.json", func() any { return &ExportJobRequest{} }, nil},
		{"job_list.json", func() any { return &ExportJobList{} }, func(doc map[string]any) {
			// segmentPerBatch defaults to false and is always written.
			for _, r := range doc["records"].([]any) {
				r.(map[string]any)["destination"].(map[string]any)["segmentPerBatch"] = false
			}
		}},
		{"dataset_map.json", func() any { return &map[string]*Dataset{} }, nil},
		{"batch_map.json", func() any { return &map[string]*Batch{} }, nil},
		{"merge_policy.json", func() any { return &MergePolicy{} }, nil},
		{"batch_files.json", func() any { return &DataSetFileList{} }, nil},
		{"physical_files.json", func() any { return &PhysicalFileList{} }, nil},
		{"token.json", func() any { return &TokenResponse{} }, nil},
		{"cancel.json", func() any { return &CancelResponse{} }, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			v := tc.into()
			if err := json.Unmarshal(raw, v); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			again, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			var want, got map[string]any
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(again, &got); err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				tc.want(want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip changed the document:\n got %s\nwant %s", again, mustJSON(want))
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDecodeError(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   Error
	}{
		{403, `{"error_code":"403010","message":"Oauth token is missing."}`, Error{Status: 403, Code: "403010", Title: "Oauth token is missing."}},
		{404, `{"type":"http://ns.adobe.com/aep/errors/CAT-1404-404","title":"Dataset not found","status":404,"detail":"no dataset"}`,
			Error{Status: 404, Code: "CAT-1404", Type: "http://ns.adobe.com/aep/errors/CAT-1404-404", Title: "Dataset not found", Detail: "no dataset"}},
		{429, `{"message":"Too many requests","retryAfterMs":"1000","statusCode":"429"}`, Error{Status: 429, Title: "Too many requests"}},
		{503, ``, Error{Status: 503, Title: "Service Unavailable"}},
		{502, `<html>bad gateway</html>`, Error{Status: 502, Title: "Bad Gateway", Detail: "<html>bad gateway</html>"}},
	} {
		got := DecodeError(tc.status, []byte(tc.body), "req-1")
		tc.want.RequestID = "req-1"
		if *got != tc.want {
			t.Errorf("DecodeError(%d, %s) = %+v, want %+v", tc.status, tc.body, *got, tc.want)
		}
	}
}

// The Profile and Segmentation services' problems (segmentation.yaml's examples) have an https
// type, their reasons in an errors map, and the request's id in the body. Their code, reasons and
// request id are read; the header's request id, when one came, is kept.
func TestDecodeErrorOfTheProfileServices(t *testing.T) {
	body := `{"requestId":"fggdhzT89v3qlldeezJ9eVQtKiR51hkZ","errors":{"400":[` +
		`{"code":400,"message":"There is a problem extracting the user JSON, field(s) missing or invalid.  Correct and try again."},` +
		`{"code":400,"message":"No usable value for name\nDid not find value which can be converted into java.lang.String"},` +
		`{"code":"UPAPI-1-400","message":"Did not find value which can be converted into java.lang.String"},` +
		`{"code":400,"message":"Did not find value which can be converted into java.lang.String"}]},` +
		`"type":"https://ns.adobe.com/aep/errors/UPLIB-101206-500",` +
		`"title":"There is a problem extracting the user JSON, field(s) missing or invalid.  Correct and try again.","status":400}`
	want := Error{Status: 400, Code: "UPLIB-101206", Type: "https://ns.adobe.com/aep/errors/UPLIB-101206-500",
		Title:     "There is a problem extracting the user JSON, field(s) missing or invalid.  Correct and try again.",
		Detail:    "No usable value for name\nDid not find value which can be converted into java.lang.String; Did not find value which can be converted into java.lang.String",
		RequestID: "fggdhzT89v3qlldeezJ9eVQtKiR51hkZ"}
	if got := DecodeError(400, []byte(body), ""); *got != want {
		t.Errorf("DecodeError = %+v\nwant %+v", *got, want)
	}
	want.RequestID = "from-header"
	if got := DecodeError(400, []byte(body), "from-header"); *got != want {
		t.Errorf("with the header's request id: %+v", *got)
	}
}

// A part's Content-Range is read as AEP's guide writes it, and as RFC 9110 does; what is not a
// range of bytes is refused, saying what to send.
func TestParseContentRange(t *testing.T) {
	for in, want := range map[string][2]int64{
		"bytes 0-1048575":             {0, 1 << 20},
		"bytes 100-199/1000":          {100, 100},
		"bytes 5-5/*":                 {5, 1},
		" bytes 0-9 ":                 {0, 10},
		"bytes 0-9223372036854775806": {0, 9223372036854775807},
	} {
		start, length, err := ParseContentRange(in)
		if err != nil || start != want[0] || length != want[1] {
			t.Errorf("%q: %d, %d, %v; want %d, %d", in, start, length, err, want[0], want[1])
		}
	}
	for _, in := range []string{"", "items 0-9", "bytes 9-0", "bytes -1-5", "bytes 0-", "bytes 0-9/5", "bytes 0-9/x",
		"bytes 0-9223372036854775807", "bytes 1-99999999999999999999"} {
		if _, _, err := ParseContentRange(in); StatusOf(err) != 400 || !strings.Contains(err.Error(), "such as Content-Range: bytes 0-1048575") {
			t.Errorf("%q: %v; want a 400 that says what to send", in, err)
		}
	}
	if got := ContentRange(16384, 32767); got != "bytes 16384-32767" {
		t.Errorf("ContentRange = %q", got)
	}
}
