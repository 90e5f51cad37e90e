package aepserver

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The seed documents start, page and sort on GET /export/jobs, beside the spec's limit and
// offset: start skips records, page takes the n-th page (from 1) of limit records, and sort
// orders by a field ("updateTime:asc"); the seed warns that a sort holds within one page only.
// The engine lists newest first by offset, so these are served here from its whole list, up to
// maxArrangedJobs jobs.

// maxArrangedJobs bounds the jobs read to serve one arranged page.
const maxArrangedJobs = 10000

// arranged reports whether a list request uses start, page or sort.
func arranged(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("start") || q.Has("page") || q.Has("sort")
}

var jobSortKeys = map[string]func(j *aepwire.ExportJob) string{
	"creationTime": func(j *aepwire.ExportJob) string { return fmt.Sprintf("%020d_%020d", j.CreationTime, j.ID) },
	"updateTime":   func(j *aepwire.ExportJob) string { return fmt.Sprintf("%020d_%020d", j.UpdateTime, j.ID) },
	"id":           func(j *aepwire.ExportJob) string { return fmt.Sprintf("%020d", j.ID) },
	"status":       func(j *aepwire.ExportJob) string { return j.Status + fmt.Sprintf("_%020d", j.ID) },
}

func (s *Server) listJobsArranged(w http.ResponseWriter, r *http.Request, q aepwire.ExportJobQuery) error {
	bad := func(format string, args ...any) error {
		return aepwire.Errorf(http.StatusBadRequest, "UPS-1400", "Bad request", format, args...)
	}
	v := r.URL.Query()
	limit := min(q.Limit, aepwire.MaxExportJobPage)
	if limit == 0 {
		limit = 100
	}
	start, page := 0, 1
	var err error
	if s := v.Get("start"); s != "" {
		if start, err = strconv.Atoi(s); err != nil || start < 0 {
			return bad("start must be 0 or more")
		}
	}
	if s := v.Get("page"); s != "" {
		if page, err = strconv.Atoi(s); err != nil || page < 1 {
			return bad("page must be 1 or more")
		}
	}
	// Past the jobs an arranged page reads, a page is empty: so is one that start and page put
	// past them by more than an int holds.
	start, page = min(start, maxArrangedJobs), min(page, maxArrangedJobs+1)
	field, dir := "creationTime", "desc"
	if s := v.Get("sort"); s != "" {
		f, d, _ := strings.Cut(s, ":")
		if f == "createdTime" {
			f = "creationTime"
		}
		if d == "" {
			d = "asc"
		}
		if _, ok := jobSortKeys[f]; !ok || (d != "asc" && d != "desc") {
			return bad("sort %q is not field:asc or field:desc with a field among creationTime, updateTime, id, status", s)
		}
		field, dir = f, d
	}
	var all []aepwire.ExportJob
	offset := q.Offset
	for len(all) < maxArrangedJobs {
		l, err := s.platform.ListExportJobs(r.Context(), aepwire.ExportJobQuery{Status: q.Status, Limit: 500, Offset: offset})
		if err != nil {
			return err
		}
		all = append(all, l.Records...)
		if l.Link.Next == "" || len(l.Records) == 0 {
			break
		}
		offset = l.Page.PageOffset
	}
	key := jobSortKeys[field]
	sort.SliceStable(all, func(i, j int) bool {
		if dir == "asc" {
			return key(&all[i]) < key(&all[j])
		}
		return key(&all[i]) > key(&all[j])
	})
	from := min(len(all), start+(page-1)*limit)
	to := min(len(all), from+limit)
	list := aepwire.ExportJobList{Records: append([]aepwire.ExportJob{}, all[from:to]...), Page: aepwire.ListPage{SortField: pageSortField(field), Sort: dir, PageSize: to - from}}
	if to > from {
		last := list.Records[to-from-1]
		list.Page.PageOffset = fmt.Sprintf("%d_%d", last.CreationTime, last.ID)
	}
	if to < len(all) {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "start": {strconv.Itoa(to)}}
		if s := v.Get("sort"); s != "" {
			next.Set("sort", s)
		}
		if q.Status != "" {
			next.Set("status", q.Status)
		}
		list.Link.Next = "/export/jobs/?" + next.Encode()
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// pageSortField is the name a page gives its sort field: the creation time is createdTime there,
// as in the pages of a plain listing and the seed's example, whichever name the sort used.
func pageSortField(field string) string {
	if field == "creationTime" {
		return "createdTime"
	}
	return field
}
