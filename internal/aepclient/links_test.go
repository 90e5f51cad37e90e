package aepclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

func TestLinksOnlyOnTheEndpoint(t *testing.T) {
	c, err := New(Config{Endpoint: "https://Platform.example.com", ClientID: "c", ClientSecret: "s", OrgID: "o@AdobeOrg"})
	if err != nil {
		t.Fatal(err)
	}
	for href, want := range map[string]string{
		"https://platform.example.com/data/foundation/export/files/b-1":     "https://platform.example.com/data/foundation/export/files/b-1",
		"https://PLATFORM.example.com:443/data/foundation/export/files/b-1": "https://PLATFORM.example.com:443/data/foundation/export/files/b-1",
		"/data/foundation/export/files/b-1?path=p.json":                     "https://Platform.example.com/data/foundation/export/files/b-1?path=p.json",
		"http://platform.example.com/data/foundation/export/files/b-1":      "", // another scheme
		"https://platform.example.com:8443/data":                            "", // another port
		"https://evil.example/data/foundation/export/files/b-1":             "",
		"https://platform.example.com.evil.example/data":                    "",
		"https://platform.example.com@evil.example/data":                    "",
		"https://user@platform.example.com/data":                            "",
		"//evil.example/data":                                               "",
		"https://platform.example.com\x00/data":                             "",
	} {
		got, err := c.link(href)
		switch {
		case want == "" && err == nil:
			t.Errorf("link(%q) = %q, want it refused", href, got)
		case want == "" && !strings.Contains(err.Error(), "does not follow") && !strings.Contains(err.Error(), "not a URL"):
			t.Errorf("link(%q): %v, want it refused saying why", href, err)
		case want != "" && (err != nil || got != want):
			t.Errorf("link(%q) = %q, %v, want %q", href, got, err, want)
		}
	}
}

// A server that links elsewhere gets neither the request nor the token: the client stops at the
// link, and the other host hears nothing.
func TestLinkElsewhereIsNotFollowed(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var list aepwire.DataSetFileList
		list.Data = []aepwire.DataSetFile{{DataSetFileID: "b-1"}}
		list.Data[0].Links.Self.Href = other.URL + "/data/foundation/export/files/b-1"
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer api.Close()
	c, err := New(Config{Endpoint: api.URL, IMSEndpoint: api.URL, ClientID: "c", AccessToken: "token", OrgID: "o@AdobeOrg"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListBatchFiles(context.Background(), "b")
	if err == nil || !strings.Contains(err.Error(), "does not follow it") {
		t.Errorf("ListBatchFiles: %v, want the link refused", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host heard %d requests", n)
	}
}
