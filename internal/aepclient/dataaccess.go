package aepclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// maxFileDepth bounds how deep directories of dataSetFiles are followed.
const maxFileDepth = 4

// fileEntry is an entry of GET /files/{dataSetFileId}: a physical file (name, length, a link
// that downloads it) or, when the dataSetFile is a directory, a further dataSetFile.
type fileEntry struct {
	Name          string          `json:"name"`
	Length        aepwire.FlexInt `json:"length"`
	DataSetFileID string          `json:"dataSetFileId"`
	Links         struct {
		Self aepwire.Link `json:"self"`
	} `json:"_links"`
}

// fileList is a page of GET /files/{dataSetFileId}.
type fileList struct {
	Data  []fileEntry `json:"data"`
	Links struct {
		Next *aepwire.Link `json:"next"`
	} `json:"_links"`
}

// ListBatchFiles lists a batch's files through Data Access: the batch's dataSetFiles, then each
// one's physical files, following directories of further dataSetFiles, and the pages of every
// listing. Locations are the links that download the files.
func (c *Client) ListBatchFiles(ctx context.Context, batchID string) ([]aepwire.BatchFile, error) {
	out := []aepwire.BatchFile{}
	err := eachPage(exportDataPath+"/batches/"+url.PathEscape(batchID)+"/files", "", func(r request) (string, error) {
		var page aepwire.DataSetFileList
		if err := c.call(ctx, r, &page); err != nil {
			return "", err
		}
		for _, d := range page.Data {
			files, err := c.physicalFiles(ctx, d.DataSetFileID, d.Links.Self.Href, 0)
			if err != nil {
				return "", err
			}
			for _, f := range files {
				f.ID = d.DataSetFileID
				if len(files) == 1 {
					f.Records = int64(d.Records)
				}
				out = append(out, f)
			}
		}
		return nextHref(page.Links.Next, len(page.Data)), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// physicalFiles lists the files of one dataSetFile, and of the dataSetFiles it holds.
func (c *Client) physicalFiles(ctx context.Context, id, href string, depth int) ([]aepwire.BatchFile, error) {
	if depth > maxFileDepth {
		return nil, fmt.Errorf("dataSetFile %s: directories nested more than %d deep", id, maxFileDepth)
	}
	var out []aepwire.BatchFile
	err := eachPage(exportDataPath+"/files/"+url.PathEscape(id), href, func(r request) (string, error) {
		var page fileList
		if err := c.call(ctx, r, &page); err != nil {
			return "", err
		}
		for _, e := range page.Data {
			if e.Name == "" && e.DataSetFileID != "" {
				inner, err := c.physicalFiles(ctx, e.DataSetFileID, e.Links.Self.Href, depth+1)
				if err != nil {
					return "", err
				}
				out = append(out, inner...)
				continue
			}
			out = append(out, aepwire.BatchFile{Name: e.Name, Size: int64(e.Length), Location: e.Links.Self.Href})
		}
		return nextHref(page.Links.Next, len(page.Data)), nil
	})
	return out, err
}

// eachPage calls a Data Access listing (at href, a link an answer gave, or else at path) and then
// each page after it, as long as get, which calls and reads one page, returns the link of a
// next one. A next link already followed is an error: a listing that comes round again would
// otherwise be read for ever.
func eachPage(path, href string, get func(request) (next string, err error)) error {
	followed := map[string]bool{href: href != ""}
	for {
		next, err := get(request{method: http.MethodGet, path: path, rawURL: href})
		if err != nil || next == "" {
			return err
		}
		if followed[next] {
			return fmt.Errorf("GET %s: Data Access answered with a next page that was read before (%s): the listing goes round, "+
				"so the client stops; the platform's listing of it is faulty", path, next)
		}
		followed[next] = true
		href = next
	}
}

// nextHref is the link to a listing's next page: none where the page has no entries, as a page
// past the last may still name a next one.
func nextHref(next *aepwire.Link, entries int) string {
	if next == nil || entries == 0 {
		return ""
	}
	return next.Href
}
