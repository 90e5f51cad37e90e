package merge

import "github.com/aepkit/terraform-provider-experienceplatform/internal/fields"

// Reads is what a merge must read of each fragment so that projecting the profile by sel gives
// what it gives when every fragment is read whole: what sel selects, except that identityMap is
// merged by namespace (a namespace's identities are read whole) and segmentMembership by
// segment (a membership is read whole, since its lastQualificationTime decides which one wins).
// Fragments pruned to it (fields.Selector.AppendPruned) merge faster, into the same row.
func Reads(sel *fields.Selector) *fields.Selector {
	return sel.WholeBelow("identityMap", 1).WholeBelow("segmentMembership", 2)
}

// PlainSelector returns the selector that projects the row of a profile of one fragment straight
// from the fragment's bytes (fields.Selector.AppendPlainRow): sel, or every name for a nil sel
// (whole profiles), with identityMap and segmentMembership read as the merge reads them
// (fields.Selector.WithMergedMembers).
func PlainSelector(sel *fields.Selector) *fields.Selector {
	return sel.WithMergedMembers(fields.AsIsIdentityMap, fields.AsIsSegmentMembership)
}
