package aepwire

import (
	"encoding/json"
	"strconv"
	"strings"
)

// FlexInt is an integer that AEP sends as a JSON number in some places and as a string in others
// (Data Access reports sizes and record counts as strings). It decodes both and encodes a string.
type FlexInt int64

// UnmarshalJSON accepts 12, "12" and null.
func (n *FlexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return err
	}
	*n = FlexInt(v)
	return nil
}

// MarshalJSON writes the number as a string, as Data Access does.
func (n FlexInt) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatInt(int64(n), 10))
}

// Link is a HAL link.
type Link struct {
	Href      string `json:"href"`
	Templated bool   `json:"templated,omitempty"`
}

// DataSetFile is an entry of GET /data/foundation/export/batches/{batchId}/files.
type DataSetFile struct {
	DataSetFileID string  `json:"dataSetFileId"`
	DataSetViewID string  `json:"dataSetViewId,omitempty"`
	Version       string  `json:"version,omitempty"`
	Created       string  `json:"created,omitempty"`
	Updated       string  `json:"updated,omitempty"`
	Records       FlexInt `json:"records,omitempty"`
	Size          FlexInt `json:"size,omitempty"`
	IsValid       bool    `json:"isValid"`
	Links         struct {
		Self Link `json:"self"`
	} `json:"_links"`
}

// DataSetFileList is the body of GET /batches/{batchId}/files.
type DataSetFileList struct {
	Data []DataSetFile `json:"data"`
	Page struct {
		Limit int `json:"limit"`
		Count int `json:"count"`
	} `json:"_page"`
	Links struct {
		Next *Link `json:"next,omitempty"`
		Page *Link `json:"page,omitempty"`
	} `json:"_links"`
}

// PhysicalFile is an entry of GET /data/foundation/export/files/{dataSetFileId}: a file that can
// be downloaded from its self link (with ?path=).
type PhysicalFile struct {
	Name   string  `json:"name"`
	Length FlexInt `json:"length"`
	Links  struct {
		Self Link `json:"self"`
	} `json:"_links"`
}

// PhysicalFileList is the body of GET /files/{dataSetFileId}.
type PhysicalFileList struct {
	Data []PhysicalFile `json:"data"`
	Page struct {
		Limit int `json:"limit"`
		Count int `json:"count"`
	} `json:"_page"`
}
