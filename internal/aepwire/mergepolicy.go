package aepwire

import (
	"encoding/json"
	"net/url"
	"strings"
)

// Merge policy settings.
const (
	IdentityGraphNone = "none"
	IdentityGraphPDG  = "pdg"

	AttributeMergeTimestampOrdered  = "timestampOrdered"
	AttributeMergeDataSetPrecedence = "dataSetPrecedence"
)

// Merge policies every sandbox starts with.
const (
	MergePolicyDefaultNone = "timestampOrdered-none-mp"
	MergePolicyDefaultPDG  = "timestampOrdered-pdg-mp"
)

// MergePolicy is a merge policy of /data/core/ups/config/mergePolicies.
type MergePolicy struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	ImsOrgID       string         `json:"imsOrgId,omitempty"`
	Sandbox        *Sandbox       `json:"sandbox,omitempty"`
	Schema         ExportSchema   `json:"schema"`
	Version        int64          `json:"version"`
	IdentityGraph  IdentityGraph  `json:"identityGraph"`
	AttributeMerge AttributeMerge `json:"attributeMerge"`
	IsActiveOnEdge bool           `json:"isActiveOnEdge"`
	Default        bool           `json:"default"`
	// UpdateEpoch is the time of the last change in epoch seconds.
	UpdateEpoch int64 `json:"updateEpoch"`
}

// MergePolicyRequest is the body of POST /config/mergePolicies (profile.yaml's PostMergePolicy):
// the settings, without what the platform assigns (id, version, updateEpoch).
type MergePolicyRequest struct {
	Name           string         `json:"name"`
	Schema         ExportSchema   `json:"schema"`
	Default        bool           `json:"default"`
	IdentityGraph  IdentityGraph  `json:"identityGraph"`
	AttributeMerge AttributeMerge `json:"attributeMerge"`
	IsActiveOnEdge bool           `json:"isActiveOnEdge"`
}

// Request is the body that creates a policy of p's settings.
func (p *MergePolicy) Request() MergePolicyRequest {
	return MergePolicyRequest{Name: p.Name, Schema: p.Schema, Default: p.Default, IdentityGraph: p.IdentityGraph,
		AttributeMerge: p.AttributeMerge, IsActiveOnEdge: p.IsActiveOnEdge}
}

// UnmarshalJSON reads version and updateEpoch as numbers (3 or 3.0).
func (p *MergePolicy) UnmarshalJSON(b []byte) error {
	type plain MergePolicy
	var v struct {
		*plain
		Version     number `json:"version"`
		UpdateEpoch number `json:"updateEpoch"`
	}
	v.plain = (*plain)(p)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	p.Version, p.UpdateEpoch = int64(v.Version), int64(v.UpdateEpoch)
	return nil
}

// Sandbox names the sandbox of a merge policy.
type Sandbox struct {
	SandboxID   string `json:"sandboxId,omitempty"`
	SandboxName string `json:"sandboxName"`
	Type        string `json:"type,omitempty"`
	Default     bool   `json:"default"`
}

// IdentityGraph is how a merge policy stitches fragments into profiles.
type IdentityGraph struct {
	Type string `json:"type"`
}

// AttributeMerge is how a merge policy resolves conflicting attributes.
type AttributeMerge struct {
	Type  string   `json:"type"`
	Order []string `json:"order,omitempty"`
}

// MergePolicyList is a page of GET /config/mergePolicies. Its _page holds what profile.yaml
// requires (count, and next: the cursor of the next page) and what the merge policy guide shows
// (totalCount, pageSize).
type MergePolicyList struct {
	Children []MergePolicy `json:"children"`
	Page     struct {
		Count      int    `json:"count"`
		Next       string `json:"next,omitempty"`
		TotalCount int    `json:"totalCount"`
		PageSize   int    `json:"pageSize"`
	} `json:"_page"`
	Links struct {
		Next struct {
			Href string `json:"href"`
		} `json:"next"`
	} `json:"_links"`
}

// UnmarshalJSON reads the page's counts as numbers (100 or 100.0, as profile.yaml declares them
// number and shows them).
func (l *MergePolicyList) UnmarshalJSON(b []byte) error {
	type plain MergePolicyList
	var v struct {
		*plain
		Page struct {
			Count      number `json:"count"`
			Next       string `json:"next"`
			TotalCount number `json:"totalCount"`
			PageSize   number `json:"pageSize"`
		} `json:"_page"`
	}
	v.plain = (*plain)(l)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	l.Page.Count, l.Page.Next, l.Page.TotalCount, l.Page.PageSize = int(v.Page.Count), v.Page.Next, int(v.Page.TotalCount), int(v.Page.PageSize)
	return nil
}

// NextStart is the start of the list's next page: the cursor of _page.next, or else the start
// of the _links.next link ("@/mergePolicies?start=..."); empty on the last page.
func (l *MergePolicyList) NextStart() string {
	if l.Page.Next != "" {
		return l.Page.Next
	}
	u, err := url.Parse(strings.TrimPrefix(l.Links.Next.Href, "@"))
	if err != nil {
		return ""
	}
	return u.Query().Get("start")
}
