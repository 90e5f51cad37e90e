package aepserver

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/fields"
)

func (s *Server) listPolicies(w http.ResponseWriter, r *http.Request) error {
	start, limit, err := pageParams(r, 20)
	if err != nil {
		return err
	}
	all, err := s.platform.ListMergePolicies(r.Context())
	if err != nil {
		return err
	}
	if all, err = filterPolicies(r.URL.Query(), all); err != nil {
		return err
	}
	var list aepwire.MergePolicyList
	list.Children = []aepwire.MergePolicy{}
	for i := start; i < len(all) && i < start+limit; i++ {
		list.Children = append(list.Children, *all[i])
	}
	list.Page.TotalCount, list.Page.PageSize, list.Page.Count = len(all), len(list.Children), len(list.Children)
	if start+limit < len(all) {
		list.Page.Next = strconv.Itoa(start + limit)
		// The next page is of the same listing: its filters and order go with it.
		next := url.Values{}
		for _, name := range policyListParams {
			if v, ok := r.URL.Query()[name]; ok {
				next[name] = v
			}
		}
		list.Links.Next.Href = "@/mergePolicies?start=" + list.Page.Next + "&limit=" + strconv.Itoa(limit)
		if len(next) > 0 {
			list.Links.Next.Href += "&" + next.Encode()
		}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// policyOrders are the attributes a listing of merge policies is ordered by (orderby, with a
// leading - for the reverse order).
var policyOrders = map[string]func(a, b *aepwire.MergePolicy) int{
	"id":          func(a, b *aepwire.MergePolicy) int { return strings.Compare(a.ID, b.ID) },
	"name":        func(a, b *aepwire.MergePolicy) int { return strings.Compare(a.Name, b.Name) },
	"version":     func(a, b *aepwire.MergePolicy) int { return cmp.Compare(a.Version, b.Version) },
	"updateEpoch": func(a, b *aepwire.MergePolicy) int { return cmp.Compare(a.UpdateEpoch, b.UpdateEpoch) },
}

// policyListParams are the filters and the order of a listing of merge policies: profile.yaml's
// default, schema.name and orderby, and what the merge policy guide adds (identityGraph.type,
// attributeMerge.type, isActiveOnEdge, version, and orderBy spelled so).
var policyListParams = []string{"default", "schema.name", "identityGraph.type", "attributeMerge.type", "isActiveOnEdge", "version", "orderby", "orderBy"}

// filterPolicies keeps the policies a listing's query asks for, in the order of its orderby.
func filterPolicies(q url.Values, all []*aepwire.MergePolicy) ([]*aepwire.MergePolicy, error) {
	var keeps []func(*aepwire.MergePolicy) bool
	flag := func(name string, of func(*aepwire.MergePolicy) bool) error {
		v, ok := q[name]
		if !ok {
			return nil
		}
		if v[0] != "true" && v[0] != "false" {
			return upsBadRequest("%s must be true or false, not %s", name, aepwire.QuoteShort(v[0]))
		}
		want := v[0] == "true"
		keeps = append(keeps, func(p *aepwire.MergePolicy) bool { return of(p) == want })
		return nil
	}
	if err := flag("default", func(p *aepwire.MergePolicy) bool { return p.Default }); err != nil {
		return nil, err
	}
	if err := flag("isActiveOnEdge", func(p *aepwire.MergePolicy) bool { return p.IsActiveOnEdge }); err != nil {
		return nil, err
	}
	for name, of := range map[string]func(*aepwire.MergePolicy) string{
		"schema.name":         func(p *aepwire.MergePolicy) string { return p.Schema.Name },
		"identityGraph.type":  func(p *aepwire.MergePolicy) string { return p.IdentityGraph.Type },
		"attributeMerge.type": func(p *aepwire.MergePolicy) string { return p.AttributeMerge.Type },
		"version":             func(p *aepwire.MergePolicy) string { return strconv.FormatInt(p.Version, 10) },
	} {
		if v, ok := q[name]; ok {
			keeps = append(keeps, func(p *aepwire.MergePolicy) bool { return of(p) == v[0] })
		}
	}
	out := slices.DeleteFunc(slices.Clone(all), func(p *aepwire.MergePolicy) bool {
		for _, keep := range keeps {
			if !keep(p) {
				return true
			}
		}
		return false
	})
	by, ok := q["orderby"]
	if !ok {
		by, ok = q["orderBy"]
	}
	if ok {
		name, desc := strings.CutPrefix(by[0], "-")
		name = strings.TrimPrefix(name, "+")
		order, known := policyOrders[name]
		if !known {
			return nil, upsBadRequest("orderby %s: merge policies are ordered by id, name, version or updateEpoch, with a leading - for the reverse order", aepwire.QuoteShort(by[0]))
		}
		slices.SortStableFunc(out, func(a, b *aepwire.MergePolicy) int {
			if desc {
				return order(b, a)
			}
			return order(a, b)
		})
	}
	return out, nil
}

func (s *Server) createPolicy(w http.ResponseWriter, r *http.Request) error {
	var p aepwire.MergePolicy
	if err := decodeBody(r, &p); err != nil {
		return err
	}
	if err := checkPolicyName(p.Name); err != nil {
		return err
	}
	created, err := s.platform.CreateMergePolicy(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, created)
	return nil
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := s.platform.GetMergePolicy(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) putPolicy(w http.ResponseWriter, r *http.Request) error {
	var p aepwire.MergePolicy
	if err := decodeBody(r, &p); err != nil {
		return err
	}
	if err := checkPolicyName(p.Name); err != nil {
		return err
	}
	updated, err := s.platform.UpdateMergePolicy(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
}

// patchPolicy applies a JSON Patch of a merge policy: an array of operations, as profile.yaml
// declares, or the single operation the merge policy guide shows, such as
// {"op":"add","path":"/default","value":"true"}. An operation is an add (PatchOperation's op
// takes no other) of one of the paths profile.yaml lists; the policy it leaves is checked as a
// PUT of it would be.
func (s *Server) patchPolicy(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	var raw json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return err
	}
	var ops []patchOp
	if err := json.Unmarshal(raw, &ops); err != nil {
		var op patchOp
		if json.Unmarshal(raw, &op) != nil {
			return upsBadRequest("the body is neither a JSON Patch nor one of its operations")
		}
		ops = []patchOp{op}
	}
	p, err := s.platform.GetMergePolicy(r.Context(), id)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if err := patchPolicyOp(p, op); err != nil {
			return err
		}
	}
	updated, err := s.platform.UpdateMergePolicy(r.Context(), id, *p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
}

// patchPolicyPaths are the paths a merge policy's PATCH takes (profile.yaml's PatchOperation,
// which spells isActiveOnEdge idActiveOnEdge; both are taken).
const patchPolicyPaths = "/name, /identityGraph.type, /attributeMerge.type, /schema.name, /default, /isActiveOnEdge"

// patchPolicyOp applies one operation to p. Its value is a string, as PatchOperation declares it;
// a JSON boolean is taken where the value is one.
func patchPolicyOp(p *aepwire.MergePolicy, op patchOp) error {
	if op.Op != "add" {
		return upsBadRequest("op %s of %s: a merge policy's patch takes op add alone, which sets the path to the value", aepwire.QuoteShort(op.Op), aepwire.QuoteShort(op.Path))
	}
	var text string
	if err := json.Unmarshal(op.Value, &text); err != nil {
		var b bool
		if json.Unmarshal(op.Value, &b) != nil {
			return upsBadRequest("the value of %s must be a string", aepwire.QuoteShort(op.Path))
		}
		text = strconv.FormatBool(b)
	}
	flag := func() (bool, error) {
		if text != "true" && text != "false" {
			return false, upsBadRequest("the value of %s must be \"true\" or \"false\", not %s", op.Path, aepwire.QuoteShort(text))
		}
		return text == "true", nil
	}
	switch op.Path {
	case "/name":
		if err := checkPolicyName(text); err != nil {
			return err
		}
		p.Name = text
	case "/identityGraph.type":
		p.IdentityGraph.Type = text
	case "/attributeMerge.type":
		switch {
		case text == "timestampOrdered":
			p.AttributeMerge.Order = nil // the datasets' order is dataSetPrecedence's alone
		case text == "dataSetPrecedence" && len(p.AttributeMerge.Order) == 0:
			return upsBadRequest("attributeMerge.type dataSetPrecedence needs attributeMerge.order, the datasets in order, which a patch " +
				"cannot set: send the whole policy with its order in a PUT")
		}
		p.AttributeMerge.Type = text
	case "/schema.name":
		p.Schema.Name = text
	case "/default":
		on, err := flag()
		if err != nil {
			return err
		}
		p.Default = on
	case "/isActiveOnEdge", "/idActiveOnEdge":
		on, err := flag()
		if err != nil {
			return err
		}
		p.IsActiveOnEdge = on
	case "/version":
		return upsBadRequest("/version is the policy's count of changes, which each change moves on: it cannot be set")
	default:
		return upsBadRequest("path %s: a merge policy's patch takes %s", aepwire.QuoteShort(op.Path), patchPolicyPaths)
	}
	return nil
}

// upsBadRequest is the Profile service's 400 with its detail.
func upsBadRequest(format string, args ...any) error {
	return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", format, args...)
}

func (s *Server) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	if err := s.platform.DeleteMergePolicy(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// createJob is POST /export/jobs: 200, the job, and its address in X-Location. An
// Idempotency-Key header makes a retried request return the job the first one created.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request) error {
	var req aepwire.ExportJobRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := checkExportFields(req); err != nil {
		return err
	}
	job, err := s.platform.CreateExportJob(r.Context(), req, r.Header.Get(aepwire.HeaderIdempotencyKey))
	if err != nil {
		return err
	}
	w.Header().Set("X-Location", s.baseURL(r)+profilePath+"/export/jobs/"+strconv.FormatInt(job.ID, 10))
	writeJSON(w, http.StatusOK, job)
	return nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	q := aepwire.ExportJobQuery{Status: r.URL.Query().Get("status"), Offset: r.URL.Query().Get("offset")}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return upsBadRequest("limit must be a positive number")
		}
		q.Limit = n
	}
	if arranged(r) {
		return s.listJobsArranged(w, r, q)
	}
	list, err := s.platform.ListExportJobs(r.Context(), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func jobID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return 0, aepwire.Errorf(http.StatusNotFound, "UPS-2404", "Export job not found", "%q is not an export job id", r.PathValue("id"))
	}
	return id, nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	job, err := s.platform.GetExportJob(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, job)
	return nil
}

// deleteJob cancels a running job or deletes a finished one: 200 with the body of the spec.
func (s *Server) deleteJob(w http.ResponseWriter, r *http.Request) error {
	id, err := jobID(r)
	if err != nil {
		return err
	}
	if err := s.platform.CancelExportJob(r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, aepwire.CancelResponse{Status: true, Message: "Export job has been marked for cancelling"})
	return nil
}

// checkExportFields parses a job's field lists before the platform takes any lock, and refuses a
// malformed one, quoting it back only when it is short.
func checkExportFields(req aepwire.ExportJobRequest) error {
	lists := [][2]string{{"fields", req.Fields}}
	if af := req.AdditionalFields; af != nil && af.EventList != nil {
		lists = append(lists, [2]string{"additionalFields.eventList.fields", af.EventList.Fields})
	}
	for _, l := range lists {
		if _, err := fields.Parse(l[1]); err != nil {
			return upsBadRequest("%s %s is malformed at %s", l[0], aepwire.QuoteShort(l[1]), err)
		}
	}
	return nil
}
