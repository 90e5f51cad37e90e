package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/sampledata"
)

// The benchmark's data never merges two fragments under the policy `none` (a CRM record's
// primary identity is its CRMID, a loyalty record's its email), so the benchmark alone would not
// show that DuckDB's SQL merges as the engine does. The merge check does: two batches of
// fragments made to collide (several fragments of one primary identity across batches, chosen
// by identityMap or identities[], marked or not; nulls, partial objects, identityMap entries
// repeated with other flags, memberships qualified at the same instant in other spellings) and a
// batch of events (linking a person's identities, some sent twice, at instants that coincide,
// a few on a device many people share, which makes a component too large to export); the
// engine's exports and DuckDB's, compared row by row, with `none` and `pdg`, for several
// projections and whole profiles.
//
// The data keeps to what the peer's SQL handles: the peer's declared schema; at most one fragment
// of a primary identity in a batch; no object without a non-null member.

const mergeCheckPeople = 2000

var mergeCheckFields = []string{
	peerExports[0].fields,
	peerExports[1].fields,
	"",
	"identityMap.Email,segmentMembership.ups",
	"person,loyalty,identities,lifetimeValue",
}

// The pdg exports of the merge check: fields and event fields.
var mergeCheckPDG = [][2]string{
	{benchFields, benchEventFields},
	{"", ""},
	{"personalEmail.address", "commerce,environment.browserDetails"},
}

func mergeCheck(ctx context.Context, opts driverOptions, w io.Writer) error {
	if opts.peer == "" {
		return fmt.Errorf("the merge check needs the DuckDB peer (-peer)")
	}
	dir := filepath.Join(opts.dataDir, "mergecheck")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data, engine, duckDB := filepath.Join(dir, "data"), filepath.Join(dir, "engine"), filepath.Join(dir, "peer.duckdb")
	c, err := writeMergeCheckData(data, mergeCheckPeople)
	if err != nil {
		return err
	}
	if _, err := child(ctx, "ingest", "-data", data, "-engine", engine, "-people", strconv.Itoa(mergeCheckPeople)); err != nil {
		return err
	}
	if _, err := measured(ctx, opts.peer, "load", "-data", data, "-db", duckDB); err != nil {
		return err
	}
	var profiles, components int64
	for i, fields := range mergeCheckFields {
		engineRows := filepath.Join(dir, fmt.Sprintf("engine-none-%d.json", i))
		m, err := child(ctx, "export", "-engine", engine, "-policy", aepwire.MergePolicyDefaultNone, "-fields", fields,
			"-events=false", "-rows", engineRows)
		if err != nil {
			return err
		}
		for _, from := range [][2]string{{"-data", data}, {"-db", duckDB}} {
			duckRows := filepath.Join(dir, "duckdb.json")
			keys := filepath.Join(dir, "keys.json")
			if _, err := measured(ctx, opts.peer, "export", from[0], from[1], "-fields", fields, "-out", duckRows, "-keys", keys); err != nil {
				return err
			}
			if profiles, err = compareRows(engineRows, duckRows, keys); err != nil {
				return fmt.Errorf("merge check, none, fields %q, DuckDB %s: %w", fields, from[0], err)
			}
			if err := checkNamespaces(m, keys); err != nil {
				return err
			}
		}
	}
	for i, x := range mergeCheckPDG {
		engineRows := filepath.Join(dir, fmt.Sprintf("engine-pdg-%d.json", i))
		m, err := child(ctx, "export", "-engine", engine, "-policy", aepwire.MergePolicyDefaultPDG, "-fields", x[0],
			"-event-fields", x[1], "-rows", engineRows)
		if err != nil {
			return err
		}
		duckRows, keys := filepath.Join(dir, "duckdb.json"), filepath.Join(dir, "keys.json")
		if _, err := measured(ctx, opts.peer, "export", "-db", duckDB, "-policy", "pdg", "-fields", x[0], "-events",
			"-event-fields", x[1], "-out", duckRows, "-keys", keys); err != nil {
			return err
		}
		if components, err = compareRows(engineRows, duckRows, keys); err != nil {
			return fmt.Errorf("merge check, pdg, fields %q, event fields %q: %w", x[0], x[1], err)
		}
		if err := checkNamespaces(m, keys); err != nil {
			return err
		}
		if excluded := m.Excluded; excluded == 0 {
			return fmt.Errorf("merge check, pdg: no component was too large to export, so that rule went unchecked")
		}
	}
	quoted := make([]string, len(mergeCheckFields))
	for i, f := range mergeCheckFields {
		quoted[i] = strconv.Quote(f)
	}
	_, err = fmt.Fprintf(w, "merge check: %d fragments in two batches and %d events; with none, %d profiles (%d merged from two or more fragments), "+
		"with pdg, %d; the engine and DuckDB export the same rows with fields %s, and with pdg with event lists\n",
		c.fragments, c.events, profiles, c.merged, components, strings.Join(quoted, ", "))
	return err
}

type mergeCheckCounts struct{ fragments, merged, events int }

// writeMergeCheckData writes the three batches of the merge check into dir, as the files the
// benchmark's steps read (one batch a file).
func writeMergeCheckData(dir string, people int) (mergeCheckCounts, error) {
	var c mergeCheckCounts
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return c, err
	}
	var files [3]*os.File
	var bufs [3]*bufio.Writer
	for i, name := range []string{sampledata.CRMFile, sampledata.LoyaltyFile, sampledata.EventsFile} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return c, err
		}
		defer f.Close()
		files[i], bufs[i] = f, bufio.NewWriter(f)
	}
	write := func(batch int, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = bufs[batch].Write(append(b, '\n'))
		return err
	}
	r := rand.New(rand.NewPCG(7, 11))
	var resent []obj
	for p := range people {
		g := fragmentGen{r: r, p: p}
		// Each fragment is keyed, by the engine's rules, to the person's CRMID, email or ECID;
		// a batch has at most one fragment of each.
		perKey := map[string]int{}
		for batch := range 2 {
			used := map[string]bool{}
			for range 1 + r.IntN(3) {
				frag, key := g.fragment()
				if used[key] {
					continue
				}
				used[key] = true
				perKey[key]++
				if err := write(batch, frag); err != nil {
					return c, err
				}
				c.fragments++
			}
		}
		for _, n := range perKey {
			if n > 1 {
				c.merged++
			}
		}
		n := r.IntN(4)
		if p%97 == 0 {
			n = max(n, 1) // the shared device's event
		}
		for e := range n {
			ev := g.event(e)
			if err := write(2, ev); err != nil {
				return c, err
			}
			c.events++
			if g.chance(0.1) {
				again := g.event(e)
				again["_id"] = ev["_id"]
				resent = append(resent, again)
			}
		}
	}
	// Second deliveries come last, as late ones do: they replace the first.
	for _, ev := range resent {
		if err := write(2, ev); err != nil {
			return c, err
		}
		c.events++
	}
	for i := range bufs {
		if err := bufs[i].Flush(); err != nil {
			return c, err
		}
		if err := files[i].Close(); err != nil {
			return c, err
		}
	}
	return c, nil
}

type fragmentGen struct {
	r *rand.Rand
	p int
}

type obj = map[string]any

func (g *fragmentGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *fragmentGen) pick(choices ...string) string { return choices[g.r.IntN(len(choices))] }

func (g *fragmentGen) ids() (crmid, email, ecid string) {
	return fmt.Sprintf("CRM-%06d", g.p), fmt.Sprintf("p%d@example.com", g.p), fmt.Sprintf("%020d", g.p*7919)
}

// event is the person's k-th web event. Every 97th person also uses a device that all of them
// share: its events join those people into one component, larger than an export takes.
func (g *fragmentGen) event(k int) obj {
	_, email, ecid := g.ids()
	im := obj{"ECID": []any{obj{"id": ecid, "primary": true}}}
	if g.chance(0.4) {
		im["Email"] = []any{obj{"id": email, "authenticatedState": "authenticated"}}
	}
	if g.p%97 == 0 && k == 0 {
		im["ECID"] = []any{obj{"id": "shared-device", "primary": true}, obj{"id": ecid}}
	}
	ev := obj{
		"_id":         fmt.Sprintf("ev-%d-%d-%d", g.p, k, g.r.IntN(3)),
		"timestamp":   g.qualified(),
		"eventType":   g.pick("web.webpagedetails.pageViews", "commerce.purchases"),
		"identityMap": im,
		"web":         obj{"webPageDetails": obj{"name": g.pick("Home", "Cart"), "URL": "https://luma.example.com/"}},
	}
	if ev["timestamp"] == nil || ev["timestamp"] == "n/a" {
		ev["timestamp"] = "2026-05-01T08:00:00Z"
	}
	if g.chance(0.5) {
		ev["environment"] = obj{"type": "browser", "browserDetails": obj{"name": g.pick("Chrome", "Safari"), "javaScriptEnabled": g.chance(0.5)}}
	}
	if ev["eventType"] == "commerce.purchases" {
		ev["commerce"] = obj{"order": obj{"priceTotal": json.RawMessage(strconv.FormatFloat(float64(g.r.IntN(10000))/100, 'f', 2, 64)),
			"currencyCode": "EUR"}, "purchases": obj{"value": 1}}
	}
	return ev
}

// fragment is a profile fragment of the person and the primary identity the engine gives it.
func (g *fragmentGen) fragment() (obj, string) {
	crmid, email, ecid := g.ids()
	f := obj{}
	var key string
	switch g.r.IntN(4) {
	case 0: // a CRM record: CRMID marked primary in identityMap
		im := obj{"CRMID": []any{g.entry(crmid, true)}}
		if g.chance(0.7) {
			im["Email"] = g.entries(email, "alt"+email)
		}
		if g.chance(0.3) {
			im["ECID"] = g.entries(ecid)
		}
		f["identityMap"], key = im, "CRMID:"+crmid
	case 1: // a loyalty record: the email marked primary in identities[]
		ids := []any{obj{"id": email, "namespace": obj{"code": "Email"}, "primary": true}}
		if g.chance(0.6) {
			ids = append(ids, obj{"id": ecid, "namespace": obj{"code": "ECID"}})
		}
		f["identities"], key = ids, "Email:"+email
		if g.chance(0.3) { // unmarked identityMap entries lose to a marked identities[] entry
			f["identityMap"] = obj{"ECID": g.entries(ecid)}
		}
	case 2: // the email marked primary in identityMap
		f["identityMap"], key = obj{"Email": []any{g.entry(email, true)}, "CRMID": g.entries(crmid)}, "Email:"+email
	default: // nothing marked: the smallest namespace (ECID before Email)
		im := obj{"ECID": g.entries(ecid)}
		if g.chance(0.5) {
			im["Email"] = g.entries(email)
		}
		f["identityMap"], key = im, "ECID:"+ecid
	}
	g.maybe(f, "person", func() any {
		person := obj{}
		name := g.some(map[string]func() any{
			"firstName": func() any { return g.pick("Ada", "Alan", "Grace") },
			"lastName":  func() any { return g.pick("Lovelace", "Turing", "Hopper") },
			"fullName":  func() any { return g.pick("Ada Lovelace", "Grace Hopper") },
		})
		if name != nil {
			person["name"] = name
		} else if g.chance(0.5) {
			person["name"] = nil
		}
		if g.chance(0.5) || name == nil {
			person["birthYear"] = 1950 + g.r.IntN(50)
		}
		return person
	})
	g.maybe(f, "personalEmail", func() any {
		return g.some(map[string]func() any{
			"address": func() any { return g.pick(email, "other"+email) },
			"primary": func() any { return g.chance(0.5) },
			"type":    func() any { return "personal" },
			"status":  func() any { return g.pick("active", "incomplete") },
		})
	})
	g.maybe(f, "loyalty", func() any {
		return g.some(map[string]func() any{
			"tier":     func() any { return g.pick("bronze", "gold") },
			"points":   func() any { return g.r.IntN(100000) },
			"joinDate": func() any { return fmt.Sprintf("2026-0%d-1%d", 1+g.r.IntN(9), g.r.IntN(10)) },
			"program":  func() any { return "Luma Rewards" },
		})
	})
	g.maybe(f, "consents", func() any {
		return obj{"marketing": obj{"email": obj{"val": g.pick("y", "n")}}}
	})
	g.maybe(f, "lifetimeValue", func() any {
		return json.RawMessage(strconv.FormatFloat(float64(g.r.IntN(100000))/100, 'f', 2, 64))
	})
	g.maybe(f, "preferredLanguage", func() any { return g.pick("sv-SE", "en-GB") })
	g.maybe(f, "segmentMembership", func() any {
		ups := obj{}
		for _, s := range sampledata.Segments {
			if g.chance(0.5) {
				ups[s.ID] = obj{"status": g.pick("realized", "existing", "exited"), "lastQualificationTime": g.qualified(), "version": "1"}
			}
		}
		if len(ups) == 0 {
			return nil
		}
		return obj{"ups": ups}
	})
	return f, key
}

// entry is an identityMap entry.
func (g *fragmentGen) entry(id string, primary bool) obj {
	e := obj{"id": id}
	switch g.r.IntN(3) {
	case 0:
		e["authenticatedState"] = g.pick("authenticated", "ambiguous")
	case 1:
		e["authenticatedState"] = nil
	}
	if primary {
		e["primary"] = true
	}
	return e
}

// entries is a list of identityMap entries of some of ids, sometimes one twice.
func (g *fragmentGen) entries(ids ...string) []any {
	var out []any
	for _, id := range ids {
		if len(out) == 0 || g.chance(0.6) {
			out = append(out, g.entry(id, false))
		}
	}
	if g.chance(0.2) {
		out = append(out, g.entry(ids[0], false))
	}
	return out
}

// qualified is a qualification time: instants that often coincide, in several spellings, and
// now and then no time at all.
func (g *fragmentGen) qualified() any {
	h := g.r.IntN(3)
	switch g.r.IntN(5) {
	case 0:
		return fmt.Sprintf("2026-05-01T%02d:00:00+02:00", 10+h)
	case 1:
		return fmt.Sprintf("2026-05-01T%02d:00:00.000Z", 8+h)
	case 2:
		return nil
	case 3:
		return "n/a"
	}
	return fmt.Sprintf("2026-05-01T%02d:00:00Z", 8+h)
}

// maybe sets key to a value, to null, or leaves it out.
func (g *fragmentGen) maybe(f obj, key string, value func() any) {
	switch n := g.r.IntN(10); {
	case n < 6:
		if v := value(); v != nil {
			f[key] = v
		}
	case n < 7:
		f[key] = nil
	}
}

// some is an object of some of the members (at least one), or nil.
func (g *fragmentGen) some(members map[string]func() any) any {
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	slices.Sort(names)
	o := obj{}
	for _, k := range names {
		if g.chance(0.5) {
			o[k] = members[k]()
		} else if g.chance(0.2) {
			o[k] = nil
		}
	}
	for _, v := range o {
		if v != nil {
			return o
		}
	}
	return nil
}
