package provider

import (
	"context"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
)

// nestedModel is the Go model of a nested attribute's object. Its attrTypes are the schema's:
// the schema is the one place that spells out types, and values are built from the struct itself.
type nestedModel interface {
	attrTypes() map[string]attr.Type
}

// The types of the schemas that nested models live in, worked out once.
var (
	exportJobType  = sync.OnceValue(func() attr.Type { return resourceType(NewExportJobResource()) })
	batchType      = sync.OnceValue(func() attr.Type { return resourceType(NewBatchResource()) })
	batchFilesType = sync.OnceValue(func() attr.Type { return dataSourceType(NewBatchFilesDataSource()) })
	exportJobsType = sync.OnceValue(func() attr.Type { return dataSourceType(NewExportJobsDataSource()) })
)

func resourceType(r resource.Resource) attr.Type {
	var resp resource.SchemaResponse
	r.Schema(context.Background(), resource.SchemaRequest{}, &resp)
	return resp.Schema.Type()
}

func dataSourceType(d datasource.DataSource) attr.Type {
	var resp datasource.SchemaResponse
	d.Schema(context.Background(), datasource.SchemaRequest{}, &resp)
	return resp.Schema.Type()
}

// nestedAttrTypes is the attribute types of the objects at path in t, which goes into an object's
// attribute by name, and on from a list to its elements.
func nestedAttrTypes(t attr.Type, path ...string) map[string]attr.Type {
	object := func() map[string]attr.Type {
		o, ok := t.(attr.TypeWithAttributeTypes)
		if !ok {
			panic(fmt.Sprintf("nestedAttrTypes %v: %s is not an object", path, t))
		}
		return o.AttributeTypes()
	}
	for _, name := range path {
		t = object()[name]
		if list, ok := t.(attr.TypeWithElementType); ok {
			t = list.ElementType()
		}
	}
	return object()
}

// objectType is the type of the objects of M.
func objectType[M nestedModel]() types.ObjectType {
	var m M
	return types.ObjectType{AttrTypes: m.attrTypes()}
}

// objectValue is m as an object value.
func objectValue[M nestedModel](ctx context.Context, diags *diag.Diagnostics, m M) types.Object {
	o, d := types.ObjectValueFrom(ctx, m.attrTypes(), m)
	diags.Append(d...)
	return o
}

// nullObject is a null object of M's type.
func nullObject[M nestedModel]() types.Object {
	return types.ObjectNull(objectType[M]().AttrTypes)
}

// objectList converts the items of an API list into a list attribute of M objects; nil items give
// an empty list, not a null one.
func objectList[T any, M nestedModel](ctx context.Context, diags *diag.Diagnostics, items []T, model func(T) M) types.List {
	models := make([]M, 0, len(items))
	for _, item := range items {
		models = append(models, model(item))
	}
	l, d := types.ListValueFrom(ctx, objectType[M](), models)
	diags.Append(d...)
	return l
}

// nullList is a null list of M objects.
func nullList[M nestedModel]() types.List {
	return types.ListNull(objectType[M]())
}

var objectAsOptions = basetypes.ObjectAsOptions{}

// modelOf reads an object attribute into its model; a null or unknown object gives ok false.
func modelOf[M nestedModel](ctx context.Context, diags *diag.Diagnostics, o types.Object) (m M, ok bool) {
	if o.IsNull() || o.IsUnknown() {
		return m, false
	}
	diags.Append(o.As(ctx, &m, objectAsOptions)...)
	return m, true
}

// optionalString maps the API's empty string to null.
func optionalString(s string) types.String {
	if s == "" {
		return types.StringNull()
	}
	return types.StringValue(s)
}
