package aepserver

import (
	"encoding/json"
	"net/http"
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
	var list aepwire.MergePolicyList
	list.Children = []aepwire.MergePolicy{}
	for i := start; i < len(all) && i < start+limit; i++ {
		list.Children = append(list.Children, *all[i])
	}
	list.Page.TotalCount, list.Page.PageSize, list.Page.Count = len(all), len(list.Children), len(list.Children)
	if start+limit < len(all) {
		list.Page.Next = strconv.Itoa(start + limit)
		list.Links.Next.Href = "@/mergePolicies?start=" + list.Page.Next + "&limit=" + strconv.Itoa(limit)
	}
	writeJSON(w, http.StatusOK, list)
	return nil
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

// patchPolicy applies a JSON Patch of the default flag and the name: an array of operations, as
// profile.yaml declares, or the single operation the merge policy guide shows, such as
// {"op":"add","path":"/default","value":"true"}.
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
			return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", "the body is neither a JSON Patch nor one of its operations")
		}
		ops = []patchOp{op}
	}
	p, err := s.platform.GetMergePolicy(r.Context(), id)
	if err != nil {
		return err
	}
	for _, op := range ops {
		var text string
		if json.Unmarshal(op.Value, &text) != nil {
			text = strings.Trim(string(op.Value), `"`)
		}
		switch op.Path {
		case "/default":
			p.Default = text == "true"
		case "/name":
			if err := checkPolicyName(text); err != nil {
				return err
			}
			p.Name = text
		default:
			return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", "cannot %s %s", op.Op, op.Path)
		}
	}
	updated, err := s.platform.UpdateMergePolicy(r.Context(), id, *p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, updated)
	return nil
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
			return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", "limit must be a positive number")
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
			return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", "%s %s is malformed at %s", l[0], aepwire.QuoteShort(l[1]), err)
		}
	}
	return nil
}
