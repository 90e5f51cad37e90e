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

// ListBatchFiles lists a batch's files through Data Access: the batch's dataSetFiles (following
// the pages), then each one's physical files, following directories of further dataSetFiles.
// Locations are the links that download the files.
func (c *Client) ListBatchFiles(ctx context.Context, batchID string) ([]aepwire.BatchFile, error) {
	out := []aepwire.BatchFile{}
	next := ""
	for {
		var page aepwire.DataSetFileList
		r := request{method: http.MethodGet, path: exportDataPath + "/batches/" + url.PathEscape(batchID) + "/files", rawURL: next}
		if err := c.call(ctx, r, &page); err != nil {
			return nil, err
		}
		for _, d := range page.Data {
			files, err := c.physicalFiles(ctx, d.DataSetFileID, d.Links.Self.Href, 0)
			if err != nil {
				return nil, err
			}
			for _, f := range files {
				f.ID = d.DataSetFileID
				if len(files) == 1 {
					f.Records = int64(d.Records)
				}
				out = append(out, f)
			}
		}
		if page.Links.Next == nil || page.Links.Next.Href == "" || len(page.Data) == 0 {
			return out, nil
		}
		next = page.Links.Next.Href
	}
}

// physicalFiles lists the files of one dataSetFile, and of the dataSetFiles it holds.
func (c *Client) physicalFiles(ctx context.Context, id, href string, depth int) ([]aepwire.BatchFile, error) {
	if depth > maxFileDepth {
		return nil, fmt.Errorf("dataSetFile %s: directories nested more than %d deep", id, maxFileDepth)
	}
	var list struct {
		Data []fileEntry `json:"data"`
	}
	r := request{method: http.MethodGet, path: exportDataPath + "/files/" + url.PathEscape(id), rawURL: href}
	if err := c.call(ctx, r, &list); err != nil {
		return nil, err
	}
	var out []aepwire.BatchFile
	for _, e := range list.Data {
		if e.Name == "" && e.DataSetFileID != "" {
			inner, err := c.physicalFiles(ctx, e.DataSetFileID, e.Links.Self.Href, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, inner...)
			continue
		}
		out = append(out, aepwire.BatchFile{Name: e.Name, Size: int64(e.Length), Location: e.Links.Self.Href})
	}
	return out, nil
}
