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
// repeated with other flags, memberships qualified at the same instant in other spellings), the
// engine's export and DuckDB's, compared row by row, for several projections and whole profiles.
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

func mergeCheck(ctx context.Context, opts driverOptions, w io.Writer) error {
	if opts.peer == "" {
		return fmt.Errorf("the merge check needs the DuckDB peer (-peer)")
	}
	dir := filepath.Join(opts.dataDir, "mergecheck")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data, engine := filepath.Join(dir, "data"), filepath.Join(dir, "engine")
	fragments, merged, err := writeMergeCheckData(data, mergeCheckPeople)
	if err != nil {
		return err
	}
	if _, err := child(ctx, "ingest", "-data", data, "-engine", engine, "-people", strconv.Itoa(mergeCheckPeople)); err != nil {
		return err
	}
	keys := filepath.Join(dir, "keys.json")
	var profiles int64
	for i, fields := range mergeCheckFields {
		engineRows := filepath.Join(dir, fmt.Sprintf("engine-%d.json", i))
		m, err := child(ctx, "export", "-engine", engine, "-policy", aepwire.MergePolicyDefaultNone, "-fields", fields,
			"-events=false", "-rows", engineRows)
		if err != nil {
			return err
		}
		duckRows := filepath.Join(dir, fmt.Sprintf("duckdb-%d.json", i))
		args := []string{"export", "-data", data, "-fields", fields, "-out", duckRows}
		if i == 0 {
			args = append(args, "-keys", keys)
		}
		if _, err := measured(ctx, opts.peer, args...); err != nil {
			return err
		}
		if profiles, err = compareRows(engineRows, duckRows, keys); err != nil {
			return fmt.Errorf("merge check, fields %q: %w", fields, err)
		}
		if err := checkNamespaces(m, keys); err != nil {
			return err
		}
	}
	quoted := make([]string, len(mergeCheckFields))
	for i, f := range mergeCheckFields {
		quoted[i] = strconv.Quote(f)
	}
	_, err = fmt.Fprintf(w, "merge check: %d fragments in two batches, %d profiles (%d merged from two or more fragments); "+
		"the engine and DuckDB export the same rows with fields %s\n", fragments, profiles, merged, strings.Join(quoted, ", "))
	return err
}

// writeMergeCheckData writes the two batches of the merge check into dir, as the files the
// benchmark's steps read (one batch a file; no events), and returns how many fragments it wrote
// and how many profiles have more than one.
func writeMergeCheckData(dir string, people int) (fragments, merged int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	var files [2]*os.File
	var bufs [2]*bufio.Writer
	for i, name := range []string{sampledata.CRMFile, sampledata.LoyaltyFile} {
		if files[i], err = os.Create(filepath.Join(dir, name)); err != nil {
			return 0, 0, err
		}
		defer files[i].Close()
		bufs[i] = bufio.NewWriter(files[i])
	}
	r := rand.New(rand.NewPCG(7, 11))
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
				b, err := json.Marshal(frag)
				if err != nil {
					return 0, 0, err
				}
				if _, err := bufs[batch].Write(append(b, '\n')); err != nil {
					return 0, 0, err
				}
				fragments++
			}
		}
		for _, n := range perKey {
			if n > 1 {
				merged++
			}
		}
	}
	for i := range bufs {
		if err := bufs[i].Flush(); err != nil {
			return 0, 0, err
		}
		if err := files[i].Close(); err != nil {
			return 0, 0, err
		}
	}
	return fragments, merged, nil
}

type fragmentGen struct {
	r *rand.Rand
	p int
}

type obj = map[string]any

func (g *fragmentGen) chance(p float64) bool { return g.r.Float64() < p }

func (g *fragmentGen) pick(choices ...string) string { return choices[g.r.IntN(len(choices))] }

// fragment is a profile fragment of the person and the primary identity the engine gives it.
func (g *fragmentGen) fragment() (obj, string) {
	crmid := fmt.Sprintf("CRM-%06d", g.p)
	email := fmt.Sprintf("p%d@example.com", g.p)
	ecid := fmt.Sprintf("%020d", g.p*7919)
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
