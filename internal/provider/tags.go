package provider

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/helpers/validatordiag"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Catalog tags are split between the user and the platform: unifiedProfile is managed through
// profile_enabled, and tags under adobe/ are written by the platform itself. Neither appears in
// the tags attribute, and updates keep them as they are.
const systemTagPrefix = "adobe/"

func isManagedTag(name string) bool {
	return name == aepwire.TagUnifiedProfile || strings.HasPrefix(name, systemTagPrefix)
}

var tagsType = types.MapType{ElemType: types.ListType{ElemType: types.StringType}}

// userTags converts the tags attribute into Catalog tags; a null map is no tags.
func userTags(ctx context.Context, m types.Map) (map[string][]string, diag.Diagnostics) {
	tags := map[string][]string{}
	if m.IsNull() || m.IsUnknown() {
		return tags, nil
	}
	diags := m.ElementsAs(ctx, &tags, false)
	return tags, diags
}

// catalogTags is the full tag set to store: the user's tags, the unifiedProfile tag when
// profileEnabled, and the managed tags of current (the dataset as stored, or nil). The
// unifiedProfile tag keeps the entries of current's other than enabled (a Profile dataset's
// isUpsert:true), as profile_enabled manages that one alone.
func catalogTags(user map[string][]string, profileEnabled bool, current map[string][]string) map[string][]string {
	tags := maps.Clone(user)
	if tags == nil {
		tags = map[string][]string{}
	}
	for name, values := range current {
		if isManagedTag(name) && name != aepwire.TagUnifiedProfile {
			tags[name] = values
		}
	}
	if profileEnabled {
		profile := []string{aepwire.TagUnifiedProfileEnabled}
		for _, v := range current[aepwire.TagUnifiedProfile] {
			if name, _, _ := aepwire.ProfileTagEntry(v); name != "enabled" {
				profile = append(profile, v)
			}
		}
		tags[aepwire.TagUnifiedProfile] = profile
	}
	return tags
}

// tagsValue is the tags attribute for Catalog tags, without managed tags. No user tags give null
// unless prior (the value in state or plan) is an empty map, so that `tags = {}` stays stable.
func tagsValue(ctx context.Context, tags map[string][]string, prior types.Map) (types.Map, diag.Diagnostics) {
	user := map[string][]string{}
	for name, values := range tags {
		if !isManagedTag(name) {
			user[name] = values
		}
	}
	if len(user) == 0 && (prior.IsNull() || prior.IsUnknown()) {
		return types.MapNull(tagsType.ElemType), nil
	}
	elems := make(map[string]attr.Value, len(user))
	for name, values := range user {
		list, diags := types.ListValueFrom(ctx, types.StringType, values)
		if diags.HasError() {
			return types.MapNull(tagsType.ElemType), diags
		}
		elems[name] = list
	}
	return types.MapValue(tagsType.ElemType, elems)
}

// tagNamesValidator rejects empty tag names and the names the platform manages.
type tagNamesValidator struct{}

var _ validator.Map = tagNamesValidator{}

func (tagNamesValidator) Description(context.Context) string {
	return "tag names must be non-empty and must not be unifiedProfile or start with " + systemTagPrefix
}

func (v tagNamesValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (tagNamesValidator) ValidateMap(_ context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for name := range req.ConfigValue.Elements() {
		switch {
		case strings.TrimSpace(name) == "":
			resp.Diagnostics.Append(validatordiag.InvalidAttributeValueDiagnostic(req.Path,
				"tag names must not be empty; remove the entry or give it a name", fmt.Sprintf("%q", name)))
		case name == aepwire.TagUnifiedProfile:
			resp.Diagnostics.Append(validatordiag.InvalidAttributeValueDiagnostic(req.Path,
				"the unifiedProfile tag is managed by profile_enabled; remove it from tags and set profile_enabled = true instead", name))
		case strings.HasPrefix(name, systemTagPrefix):
			resp.Diagnostics.Append(validatordiag.InvalidAttributeValueDiagnostic(req.Path,
				"tags under "+systemTagPrefix+" are written by the platform and cannot be managed; use another name", name))
		}
	}
}
