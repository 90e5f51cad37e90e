package main

import (
	"strings"
)

// node is one field of a declared record schema: a struct of named fields, a list, or a scalar
// of a DuckDB type.
type node struct {
	name     string
	scalar   string  // DuckDB type of a scalar; empty for a struct or a list
	fields   []*node // of a struct
	elem     *node   // of a list
	isStruct bool
}

func obj(name string, fields ...*node) *node {
	return &node{name: name, fields: fields, isStruct: true}
}
func list(name string, elem *node) *node { return &node{name: name, elem: elem} }
func str(name string) *node              { return &node{name: name, scalar: "VARCHAR"} }
func i64(name string) *node              { return &node{name: name, scalar: "BIGINT"} }
func f64(name string) *node              { return &node{name: name, scalar: "DOUBLE"} }
func boolean(name string) *node          { return &node{name: name, scalar: "BOOLEAN"} }

func (n *node) field(name string) *node {
	for _, f := range n.fields {
		if f.name == name {
			return f
		}
	}
	return nil
}

// sqlType renders n's DuckDB type.
func (n *node) sqlType() string {
	switch {
	case n.isStruct:
		parts := make([]string, len(n.fields))
		for i, f := range n.fields {
			parts[i] = ident(f.name) + " " + f.sqlType()
		}
		return "STRUCT(" + strings.Join(parts, ", ") + ")"
	case n.elem != nil:
		return n.elem.sqlType() + "[]"
	}
	return n.scalar
}

// ident quotes a name for DuckDB.
func ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// literal quotes a string as a DuckDB string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// columns renders a read_json columns argument for the top-level fields of a struct.
func columns(fields []*node) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = literal(f.name) + ": " + literal(f.sqlType())
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// The namespaces of identityMap the generated data uses. DuckDB reads identityMap as a struct
// of these, so the SQL knows the namespaces in advance, as an engineer who writes it would.
var identityNamespaces = []string{"CRMID", "ECID", "Email"}

// The segments of segmentMembership.ups in the generated data (sampledata.Segments).
var segmentIDs = []string{
	"5b5a8f2e-3f7c-4d9a-9e61-2c4f0a1b7d01",
	"8c1d7e44-90ab-4f3e-b2d5-6a7b8c9d0e02",
	"1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a03",
}

// identityEntry is an identityMap entry.
func identityEntry(name string) *node {
	return list(name, obj("", str("id"), str("authenticatedState"), boolean("primary")))
}

// profileSchema is the shape of every profile record the generator writes (CRM and loyalty
// records alike: a field one of them lacks is null in the other). Dates and times stay strings,
// as they are in the records, so that rows come out as they went in.
var profileSchema = func() *node {
	var namespaces []*node
	for _, ns := range identityNamespaces {
		namespaces = append(namespaces, identityEntry(ns))
	}
	var segments []*node
	for _, id := range segmentIDs {
		segments = append(segments, obj(id, str("status"), str("lastQualificationTime"), str("version")))
	}
	return obj("",
		obj("identityMap", namespaces...),
		list("identities", obj("", str("id"), obj("namespace", str("code")), boolean("primary"))),
		obj("person", obj("name", str("firstName"), str("lastName"), str("fullName")), i64("birthYear")),
		obj("personalEmail", str("address"), boolean("primary"), str("type"), str("status")),
		obj("mobilePhone", str("number"), boolean("primary"), str("status")),
		obj("homeAddress", str("street1"), str("city"), str("postalCode"), str("countryCode")),
		str("preferredLanguage"),
		obj("consents", obj("marketing", obj("email", str("val")), obj("sms", str("val"))), obj("collect", str("val"))),
		str("customerSince"),
		f64("lifetimeValue"),
		obj("loyalty", str("tier"), i64("points"), str("joinDate"), str("program")),
		obj("segmentMembership", obj("ups", segments...)),
	)
}()

// eventSchema is the shape of the generated web events.
var eventSchema = obj("",
	str("_id"),
	str("timestamp"),
	str("eventType"),
	obj("identityMap", identityEntry("ECID"), identityEntry("Email")),
	obj("web", obj("webPageDetails", str("name"), str("URL"))),
	obj("environment", str("type"), obj("browserDetails", str("name"), boolean("javaScriptEnabled"))),
	obj("commerce", obj("order", f64("priceTotal"), str("currencyCode")), obj("purchases", i64("value"))),
)
