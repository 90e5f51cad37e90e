package fields

import (
	"bytes"
	"testing"
)

// TestCopiesAsIs: only the whole selectors a fragment is as is for copy it; their plain rows of
// such a fragment are its bytes, and of one that is not, are not.
func TestCopiesAsIs(t *testing.T) {
	whole := (*Selector)(nil).WithMergedMembers(AsIsIdentityMap, AsIsSegmentMembership)
	asIs := []byte(`{"identityMap":{"E":[{"id":"a"},{"id":"b"}]},"a":{"b":[null]},"segmentMembership":{"ups":{"s":{"status":"realized"}}}}`)
	for _, sel := range []*Selector{whole, whole.WithoutMember(AsIsWithout)} {
		if !sel.CopiesAsIs() {
			t.Errorf("%v does not copy a fragment as is", sel)
		}
		if row, ok := sel.AppendPlainRow(nil, asIs); !ok || !bytes.Equal(row, asIs) {
			t.Errorf("%v: the row of a fragment as is: %s, %v", sel, row, ok)
		}
		for _, not := range []string{
			`{"identityMap":{"E":[{"id":"b"},{"id":"a"}]}}`, `{"identityMap":{"E":[{"id":"a"}]}, "a":1}`,
			`{"identityMap":{"E":[{"id":"a"}]},"a":null}`, `{"identityMap":{"E":[{"id":"a"}]},"segmentMembership":{"ups":1}}`,
		} {
			if row, ok := sel.AppendPlainRow(nil, []byte(not)); ok && string(row) == not {
				t.Errorf("%v: the row of %s is the fragment", sel, not)
			}
		}
	}
	for _, sel := range []*Selector{
		nil,
		(*Selector)(nil).WithMergedMembers("im", AsIsSegmentMembership),
		(*Selector)(nil).WithMergedMembers(AsIsIdentityMap, "sm"),
		whole.WithoutMember("other"),
		mustParse(t, "personalEmail.address,a").WithMergedMembers(AsIsIdentityMap, AsIsSegmentMembership),
		mustParse(t, "personalEmail.address"),
	} {
		if sel.CopiesAsIs() {
			t.Errorf("%v copies a fragment as is", sel)
		}
	}
}
