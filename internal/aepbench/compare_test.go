package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCanonicalJSON(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"b":1,"a":{"y":null,"x":[1,null,2.50]}}`, `{"a":{"x":[1,null,2.5]},"b":1}`},
		{`{"n":100.00,"m":1e2,"f":0.1,"big":12345678901234567890}`, `{"big":1.2345678901234567e+19,"f":0.1,"m":100,"n":100}`},
		{`{"s":"a\u00e9\"b","t":true,"u":false}`, `{"s":"aé\"b","t":true,"u":false}`},
		{`{"o":{"p":null}}`, `{"o":{}}`},
	} {
		got, err := canonicalJSON([]byte(c.in))
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("canonicalJSON(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if _, err := canonicalJSON([]byte(`{"a":1} {"b":2}`)); err == nil {
		t.Error("two values on one line were taken as one row")
	}
}

func TestCompareRows(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, lines ...string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys := write("keys", `{"ns":"CRMID","id":"1"}`, `{"ns":"CRMID","id":"2"}`, `{"ns":"Email","id":"a"}`)
	engine := write("engine", `{"p":{"a":"x"},"n":1}`, `{}`, `{"l":[{"id":"a"}]}`)

	same := write("same", `{"n":1.0,"p":{"a":"x","b":null}}`, `{"p":null}`, `{"l":[{"id":"a","primary":null}]}`)
	if n, err := compareRows(engine, same, keys); err != nil || n != 3 {
		t.Fatalf("rows equal up to order, nulls and number spelling: %d rows, %v", n, err)
	}

	for name, c := range map[string]struct{ duck, keys, want string }{
		"a value differs":       {write("d1", `{"n":1,"p":{"a":"y"}}`, `{}`, `{"l":[{"id":"a"}]}`), keys, "row 1, profile CRMID:1"},
		"a member is missing":   {write("d2", `{"n":1,"p":{"a":"x"}}`, `{}`, `{"l":[]}`), keys, "row 3, profile Email:a"},
		"DuckDB has fewer rows": {write("d3", `{"n":1,"p":{"a":"x"}}`, `{}`), keys, "DuckDB has ended"},
		"identities out of order": {same, write("k2", `{"ns":"CRMID","id":"2"}`, `{"ns":"CRMID","id":"1"}`, `{"ns":"Email","id":"a"}`),
			"does not come after"},
		"an identity twice": {same, write("k3", `{"ns":"CRMID","id":"1"}`, `{"ns":"CRMID","id":"1"}`, `{"ns":"Email","id":"a"}`),
			"does not come after"},
	} {
		_, err := compareRows(engine, c.duck, c.keys)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error with %q", name, err, c.want)
		}
	}
}

func TestSameRows(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a", "{\"n\":1}\n{\"n\":2}\n")
	if err := sameRows(a, write("b", "{\"n\":1}\n{\"n\":2}\n")); err != nil {
		t.Errorf("the same bytes: %v", err)
	}
	for name, c := range map[string]struct{ content, want string }{
		"a row differs":           {"{\"n\":1}\n{\"n\":3}\n", "row 2 differs"},
		"equal JSON, other bytes": {"{\"n\":1.0}\n{\"n\":2}\n", "row 1 differs"},
		"a row fewer":             {"{\"n\":1}\n", "row 2 differs"},
		"a row more":              {"{\"n\":1}\n{\"n\":2}\n{}\n", "row 3 differs"},
		"no last newline":         {"{\"n\":1}\n{\"n\":2}", "row 2 differs"},
	} {
		if err := sameRows(a, write(name, c.content)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
}
