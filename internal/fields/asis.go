package fields

// A profile fragment is as is when, merged alone, it is its own whole row: the plain row of a
// whole selector that WithMergedMembers(AsIsIdentityMap, AsIsSegmentMembership) made,
// WithoutMember(AsIsWithout) or not, is the fragment's bytes as they are (CopiesAsIs). Ingestion
// tells which fragments are in its one pass over each (the record package's scan), and an export
// copies the fragments of a batch whose fragments all are, without reading them.

// The names a fragment is as is for: a merge's identity map and segment memberships, and the
// member a row's own event list replaces.
const (
	AsIsIdentityMap       = "identityMap"
	AsIsSegmentMembership = "segmentMembership"
	AsIsWithout           = "eventList"
)

// MaxAsIsMembers is the most members any object of a fragment that is as is may have: a plain row
// looks for a name twice only among so many.
const MaxAsIsMembers = maxPlainMembers

// AsIsName reports whether a name may be in a fragment that is as is: a plain row keeps names of
// printable ASCII only.
func AsIsName(name []byte) bool { return plainName(name) }

// CopiesAsIs reports whether s's plain row of a fragment that is as is is the fragment's bytes.
func (s *Selector) CopiesAsIs() bool {
	if s == nil || !s.all {
		return false
	}
	pm := s.plainMembers()
	return pm.identityMap == AsIsIdentityMap && pm.segmentMembership == AsIsSegmentMembership &&
		(pm.without == "" || pm.without == AsIsWithout)
}
