package main

import (
	"strings"
	"testing"
)

func TestParseFields(t *testing.T) {
	sel, err := parseFields(" identityMap, person(name.firstName, birthYear),loyalty.points ")
	if err != nil {
		t.Fatal(err)
	}
	if !sel.child("identityMap").all {
		t.Error("identityMap is not selected whole")
	}
	person := sel.child("person")
	if person == nil || person.all || !person.child("birthYear").all || person.child("name").child("firstName") == nil ||
		person.child("name").child("lastName") != nil {
		t.Errorf("person(name.firstName, birthYear) parsed as %+v", person)
	}
	if sel.child("personalEmail") != nil {
		t.Error("an unnamed field is selected")
	}
	if all, err := parseFields(""); err != nil || !all.all {
		t.Errorf("an empty list: %+v, %v", all, err)
	}
	for _, bad := range []string{"a..b", "a,,b", "a(b", "a)b", ".a", "a."} {
		if _, err := parseFields(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestExportSQLSelections(t *testing.T) {
	src := profileTables
	for _, fields := range []string{"identities.id", "identityMap.Email.id", "segmentMembership.ups." + segmentIDs[0] + ".status"} {
		sel, err := parseFields(fields)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := mergeQuery(sel); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("fields %q: %v, want an error that says the peer does not support it", fields, err)
		}
	}
	sel, _ := parseFields("person.name.firstName.x,unknown")
	q, err := mergeQuery(sel)
	if err != nil {
		t.Fatal(err)
	}
	if query := noneSQL(src, q); !strings.Contains(query, `AS "nothing"`) {
		t.Errorf("a selection that matches nothing does not give empty rows:\n%s", query)
	}
}
