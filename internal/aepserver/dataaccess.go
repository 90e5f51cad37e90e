package aepserver

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// A batch's files are Data Access dataSetFiles of one physical file each, with the id
// {batchId}-{n}.

func (s *Server) listBatchFiles(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	files, err := s.platform.ListBatchFiles(r.Context(), id)
	if err != nil {
		return err
	}
	b, err := s.platform.GetBatch(r.Context(), id)
	if err != nil {
		return err
	}
	start, limit, err := pageParams(r, 100)
	if err != nil {
		return err
	}
	var list aepwire.DataSetFileList
	list.Data = []aepwire.DataSetFile{}
	created := time.UnixMilli(b.Completed).UTC().Format(time.RFC3339)
	for i := start; i < len(files) && i < start+limit; i++ {
		f := files[i]
		d := aepwire.DataSetFile{DataSetFileID: f.ID, DataSetViewID: b.DatasetID(), Version: "1.0.0", Created: created, Updated: created,
			Records: aepwire.FlexInt(f.Records), Size: aepwire.FlexInt(f.Size), IsValid: true}
		d.Links.Self.Href = s.baseURL(r) + exportDataPath + "/files/" + f.ID
		list.Data = append(list.Data, d)
	}
	list.Page.Limit, list.Page.Count = limit, len(list.Data)
	if start+limit < len(files) {
		list.Links.Next = &aepwire.Link{Href: s.baseURL(r) + exportDataPath + "/batches/" + id + "/files?start=" +
			strconv.Itoa(start+limit) + "&limit=" + strconv.Itoa(limit)}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// getFile lists a dataSetFile's physical file, or with ?path= streams it (Range requests answer
// 206 with Content-Range; HEAD gives the length).
func (s *Server) getFile(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	cut := strings.LastIndexByte(id, '-')
	n, err := strconv.Atoi(id[cut+1:])
	notFound := aepwire.Errorf(http.StatusNotFound, "DAS-1404", "File not found", "no file has the id %q", id)
	if cut < 0 || err != nil || n < 1 {
		return notFound
	}
	batchID := id[:cut]
	files, err := s.platform.ListBatchFiles(r.Context(), batchID)
	if aepwire.IsNotFound(err) || (err == nil && n > len(files)) {
		return notFound
	}
	if err != nil {
		return err
	}
	file := files[n-1]
	path := r.URL.Query().Get("path")
	if path == "" {
		// The listing pages as Data Access's do (start, limit), though it holds one file.
		start, limit, err := pageParams(r, 100)
		if err != nil {
			return err
		}
		list := aepwire.PhysicalFileList{Data: []aepwire.PhysicalFile{}}
		if start == 0 {
			pf := aepwire.PhysicalFile{Name: file.Name, Length: aepwire.FlexInt(file.Size)}
			pf.Links.Self.Href = s.baseURL(r) + exportDataPath + "/files/" + id + "?path=" + url.QueryEscape(file.Name)
			list.Data = append(list.Data, pf)
		}
		list.Page.Limit, list.Page.Count = limit, len(list.Data)
		writeJSON(w, http.StatusOK, list)
		return nil
	}
	if path != file.Name {
		return aepwire.Errorf(http.StatusNotFound, "DAS-1404", "File not found", "file %s has no path %q", id, path)
	}
	f, err := s.platform.OpenBatchFile(r.Context(), batchID, file.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	// Data Access serves a file's bytes as an octet stream, whatever they hold.
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, file.Name, st.ModTime(), f)
	return nil
}
