package aepwire

import "strings"

// Schema ids the embedded engine understands.
const (
	SchemaProfile         = "https://ns.adobe.com/xdm/context/profile"
	SchemaExperienceEvent = "https://ns.adobe.com/xdm/context/experienceevent"
	SchemaProfileUnion    = "https://ns.adobe.com/xdm/context/profile__union"

	// DefaultSchemaContentType is the content type AEP uses for XDM schema references.
	DefaultSchemaContentType = "application/vnd.adobe.xed+json;version=1"
)

// Reserved Catalog tags.
const (
	// TagUnifiedProfile enables a dataset for Real-Time Customer Profile when it holds
	// TagUnifiedProfileEnabled.
	TagUnifiedProfile        = "unifiedProfile"
	TagUnifiedProfileEnabled = "enabled:true"
	TagUnifiedIdentity       = "unifiedIdentity"
)

// SchemaRef points a dataset at its XDM schema.
type SchemaRef struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType,omitempty"`
}

// DatasetRequest is the body of POST /data/foundation/catalog/dataSets.
type DatasetRequest struct {
	Name        string              `json:"name"`
	Description string              `json:"description,omitempty"`
	SchemaRef   SchemaRef           `json:"schemaRef"`
	Tags        map[string][]string `json:"tags,omitempty"`
}

// DatasetPatch is the partial-JSON body of PATCH /dataSets/{id}. A nil field is left unchanged;
// a set field replaces the whole top-level property.
type DatasetPatch struct {
	Name        *string              `json:"name,omitempty"`
	Description *string              `json:"description,omitempty"`
	Tags        *map[string][]string `json:"tags,omitempty"`
	// IfVersion, when set, lets the change go only while the dataset's version is this one
	// (a request's If-Match); otherwise it is a 412.
	IfVersion string `json:"-"`
}

// Dataset is a Catalog dataSet object. The API returns it in a map keyed by id, so the id is not
// part of the object itself.
type Dataset struct {
	ID              string              `json:"-"`
	Name            string              `json:"name"`
	Description     string              `json:"description,omitempty"`
	ImsOrg          string              `json:"imsOrg,omitempty"`
	Version         string              `json:"version"`
	Created         int64               `json:"created"`
	Updated         int64               `json:"updated"`
	Tags            map[string][]string `json:"tags,omitempty"`
	SchemaRef       SchemaRef           `json:"schemaRef"`
	State           string              `json:"state,omitempty"`
	LastBatchID     string              `json:"lastBatchId,omitempty"`
	LastBatchStatus string              `json:"lastBatchStatus,omitempty"`
	// Catalog's bookkeeping, kept as AEP sends it.
	CreatedClient       string `json:"createdClient,omitempty"`
	CreatedUser         string `json:"createdUser,omitempty"`
	UpdatedUser         string `json:"updatedUser,omitempty"`
	Files               string `json:"files,omitempty"`
	ViewID              string `json:"viewId,omitempty"`
	LastSuccessfulBatch string `json:"lastSuccessfulBatch,omitempty"`
	BasePath            string `json:"basePath,omitempty"`
}

// ProfileEnabled reports whether tags enable a dataset for Real-Time Customer Profile: its
// unifiedProfile tag holds enabled:true, written with or without spaces around its parts (the
// Catalog specification's example has "enabled: true").
func ProfileEnabled(tags map[string][]string) bool {
	for _, v := range tags[TagUnifiedProfile] {
		if name, value, ok := ProfileTagEntry(v); ok && name == "enabled" && value == "true" {
			return true
		}
	}
	return false
}

// ProfileTagEntry splits an entry of the unifiedProfile tag ("enabled:true", "isUpsert:true")
// into its name and value, without the spaces around them.
func ProfileTagEntry(v string) (name, value string, ok bool) {
	name, value, ok = strings.Cut(v, ":")
	return strings.TrimSpace(name), strings.TrimSpace(value), ok
}

// CatalogQuery is a page of a Catalog listing (GET /dataSets, GET /batches): its order, its
// bounds and, of batches, its filters.
type CatalogQuery struct {
	// Start is the 0-based index of the page's first item; Limit the most items it has (-1 for
	// every item).
	Start, Limit int
	// The order is by creation time, or by update time with ByUpdated; ascending unless Desc.
	Desc, ByUpdated bool
	// Of batches: those of one dataset (or of every dataset), created after and before the
	// times (epoch milliseconds, exclusive; 0 bounds nothing), of a status (without regard to
	// case; empty for every status).
	DatasetID                   string
	CreatedAfter, CreatedBefore int64
	Status                      string
	// Of datasets: those of this name (empty for every name), and those that have every one of
	// these tags.
	Name string
	Tags []TagFilter
}

// TagFilter keeps the datasets that have a tag of Name with a value Value, or with any value
// when Value is "*" (Catalog's tags=name:value,name2:*).
type TagFilter struct{ Name, Value string }
