package aepserver

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The large-file upload (batch-ingestion.yaml): a file too large for one PUT is initialized
// (POST .../files/{name}?action=INITIALIZE), sent in parts (PATCH, each with a Content-Range of
// its bytes, in order), and completed (POST ...?action=COMPLETE); HEAD says how many bytes it
// has received. A large file counts among its batch's files from its INITIALIZE on, and its
// bytes against the batch's limit as they come; each part is held to Limits.File, as a PUT is.

// largeFileAction is POST .../files/{name}?action=INITIALIZE or COMPLETE.
func (s *Server) largeFileAction(w http.ResponseWriter, r *http.Request) error {
	batch, dataset, name := r.PathValue("id"), r.PathValue("dataset"), r.PathValue("name")
	if err := aepwire.CheckFileName(name); err != nil {
		return err
	}
	switch action := strings.ToUpper(r.URL.Query().Get("action")); action {
	case "INITIALIZE":
		up, err := s.uploads.start(uploadsOf(r, batch), name, 0, 0, s.limits, s.clock.Now())
		if err != nil {
			return err
		}
		err = s.platform.InitLargeFile(r.Context(), batch, dataset, name)
		up.settle(err == nil, 0)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, aepwire.UploadedFile{Name: name})
		return nil
	case "COMPLETE":
		size, err := s.platform.CompleteLargeFile(r.Context(), batch, dataset, name)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, aepwire.UploadedFile{Name: name, SizeInBytes: size})
		return nil
	default:
		return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"action %s is not one of INITIALIZE, COMPLETE (a large file's upload begins with INITIALIZE, and ends with COMPLETE)",
			aepwire.QuoteShort(action))
	}
}

// uploadPart is PATCH .../files/{name}: one part of a large file, the bytes its Content-Range
// names.
func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request) error {
	batch, dataset, name := r.PathValue("id"), r.PathValue("dataset"), r.PathValue("name")
	if err := aepwire.CheckFileName(name); err != nil {
		return err
	}
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"a part of a large file needs a Content-Range header naming its first and last byte, such as Content-Range: bytes 0-1048575")
	}
	start, length, err := aepwire.ParseContentRange(cr)
	if err != nil {
		return err
	}
	if limit := s.partLimit(); length > limit.max {
		return errTooLarge(limit.what, limit.max, limit.fix)
	}
	if r.ContentLength >= 0 && r.ContentLength != length {
		return aepwire.Errorf(http.StatusBadRequest, "INGEST-1400", "Bad request",
			"the part's Content-Range names %d bytes, and its Content-Length %d: send the part's bytes, all of them and no more",
			length, r.ContentLength)
	}
	up, err := s.uploads.start(uploadsOf(r, batch), name, start, length, s.limits, s.clock.Now())
	if err != nil {
		return err
	}
	received, err := s.platform.WriteLargeFilePart(r.Context(), batch, dataset, name, start, length, &chargedBody{r: r.Body, up: up})
	if err != nil {
		up.settle(false, 0)
		return err
	}
	up.settle(true, received)
	setReceived(w, received)
	writeJSON(w, http.StatusOK, aepwire.UploadedFile{Name: name, SizeInBytes: received})
	return nil
}

// largeFileStatus is HEAD .../files/{name}: the bytes a large file has received, in its Range.
func (s *Server) largeFileStatus(w http.ResponseWriter, r *http.Request) error {
	batch, dataset, name := r.PathValue("id"), r.PathValue("dataset"), r.PathValue("name")
	if err := aepwire.CheckFileName(name); err != nil {
		return err
	}
	received, err := s.platform.LargeFileReceived(r.Context(), batch, dataset, name)
	if err != nil {
		return err
	}
	setReceived(w, received)
	w.WriteHeader(http.StatusOK)
	return nil
}

// setReceived names the bytes a large file has received in the answer's Range header, as
// batch-ingestion.yaml has it ("bytes=0-LAST"); a file that has received nothing has none.
func setReceived(w http.ResponseWriter, received int64) {
	if received > 0 {
		w.Header().Set("Range", "bytes=0-"+strconv.FormatInt(received-1, 10))
	}
}
