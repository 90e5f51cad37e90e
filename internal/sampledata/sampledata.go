// Package sampledata generates realistic XDM sample data for the embedded engine: profile records
// from a CRM and a loyalty programme, and web experience events, for one population of people
// whose identities (CRMID, Email, ECID) overlap across the three. Output is deterministic: the
// same options give the same bytes, so the data can be cached, compared and committed.
package sampledata

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Options size the data.
type Options struct {
	// Seed makes the data; the same seed and sizes give the same bytes.
	Seed uint64
	// People is the number of people. About 85% have a CRM record and 45% a loyalty record, so
	// there are about 1.3 profile fragments a person.
	People int
	// EventsPerPerson is the mean number of web events a person has.
	EventsPerPerson float64
	// ResentEvents is the share of events sent a second time, later, with the same _id (and a
	// changed body): the engine keeps the later one.
	ResentEvents float64
}

// Files produced, one JSON Lines file each, in the output directory.
const (
	CRMFile     = "crm_profiles.json"
	LoyaltyFile = "loyalty_members.json"
	EventsFile  = "web_events.json"
)

// Segments that sample profiles qualify for, in the "ups" namespace.
var Segments = []Segment{
	{ID: "5b5a8f2e-3f7c-4d9a-9e61-2c4f0a1b7d01", Name: "High-value customers"},
	{ID: "8c1d7e44-90ab-4f3e-b2d5-6a7b8c9d0e02", Name: "Newsletter subscribers"},
	{ID: "1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a03", Name: "Lapsed buyers"},
}

// Segment is a segment definition the sample memberships refer to.
type Segment struct {
	ID, Name string
}

// Counts tells what Generate wrote.
type Counts struct {
	CRM, Loyalty, Events int
	// Resent is how many of the events are second deliveries of an earlier event's _id.
	Resent int
	Bytes  int64
}

// Records is the number of records written.
func (c Counts) Records() int { return c.CRM + c.Loyalty + c.Events }

// epoch is the start of the sample's time range; events and qualifications fall in the 180 days
// after it.
var epoch = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// Generate writes the three files into dir.
func Generate(dir string, opts Options) (Counts, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Counts{}, err
	}
	var c Counts
	files := []struct {
		name string
		gen  func(w *bufio.Writer, opts Options) (int, error)
		n    *int
	}{
		{CRMFile, writeCRM, &c.CRM},
		{LoyaltyFile, writeLoyalty, &c.Loyalty},
		{EventsFile, func(w *bufio.Writer, opts Options) (int, error) {
			n, resent, err := writeEvents(w, opts)
			c.Resent = resent
			return n, err
		}, &c.Events},
	}
	for _, f := range files {
		n, size, err := writeFile(filepath.Join(dir, f.name), opts, f.gen)
		if err != nil {
			return c, err
		}
		*f.n = n
		c.Bytes += size
	}
	return c, nil
}

func writeFile(path string, opts Options, gen func(*bufio.Writer, Options) (int, error)) (int, int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	n, err := gen(w, opts)
	if err == nil {
		err = w.Flush()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, size, err
}

// person is what every source knows of one person; it is derived from the seed and the person's
// number alone, so that each file can be written independently and in order.
type person struct {
	n                 int
	first, last       string
	email, crmid      string
	ecid              string
	city              city
	street            string
	phone             string
	birthYear         int
	hasCRM, isLoyalty bool
	rnd               *rand.Rand
}

func newPerson(seed uint64, n int) *person {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	p := &person{n: n, rnd: r}
	p.first = firstNames[r.IntN(len(firstNames))]
	p.last = lastNames[r.IntN(len(lastNames))]
	p.email = fmt.Sprintf("%s.%s.%d@%s", lower(p.first), lower(p.last), n, domains[r.IntN(len(domains))])
	p.crmid = fmt.Sprintf("CRM-%08d", n)
	p.ecid = fmt.Sprintf("%019d%019d", r.Uint64()%1e19, r.Uint64()%1e19)
	p.city = cities[r.IntN(len(cities))]
	p.street = fmt.Sprintf("%d %s", 1+r.IntN(240), streets[r.IntN(len(streets))])
	p.phone = fmt.Sprintf("+%s %03d %04d", p.city.dial, r.IntN(1000), r.IntN(10000))
	p.birthYear = 1950 + r.IntN(55)
	p.hasCRM = r.Float64() < 0.85
	p.isLoyalty = r.Float64() < 0.45
	return p
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// at returns a time of the sample range, milliseconds precision, as RFC 3339.
func at(r *rand.Rand) string {
	return epoch.Add(time.Duration(r.Int64N(int64(180*24*time.Hour/time.Millisecond))) * time.Millisecond).
		Format("2006-01-02T15:04:05.000Z")
}

func writeCRM(w *bufio.Writer, opts Options) (int, error) {
	n := 0
	var b []byte
	for i := range opts.People {
		p := newPerson(opts.Seed, i)
		if !p.hasCRM {
			continue
		}
		r := p.rnd
		b = b[:0]
		b = append(b, `{"identityMap":{"CRMID":[{"id":`...)
		b = strconv.AppendQuote(b, p.crmid)
		b = append(b, `,"authenticatedState":"authenticated","primary":true}],"Email":[{"id":`...)
		b = strconv.AppendQuote(b, p.email)
		b = append(b, `,"authenticatedState":"authenticated"}]},"person":{"name":{"firstName":`...)
		b = strconv.AppendQuote(b, p.first)
		b = append(b, `,"lastName":`...)
		b = strconv.AppendQuote(b, p.last)
		b = append(b, `,"fullName":`...)
		b = strconv.AppendQuote(b, p.first+" "+p.last)
		b = append(b, `},"birthYear":`...)
		b = strconv.AppendInt(b, int64(p.birthYear), 10)
		b = append(b, `},"personalEmail":{"address":`...)
		b = strconv.AppendQuote(b, p.email)
		b = append(b, `,"primary":true,"type":"personal","status":"active"},"mobilePhone":{"number":`...)
		b = strconv.AppendQuote(b, p.phone)
		b = append(b, `,"primary":true,"status":"active"},"homeAddress":{"street1":`...)
		b = strconv.AppendQuote(b, p.street)
		b = append(b, `,"city":`...)
		b = strconv.AppendQuote(b, p.city.name)
		b = append(b, `,"postalCode":`...)
		b = strconv.AppendQuote(b, fmt.Sprintf("%05d", r.IntN(100000)))
		b = append(b, `,"countryCode":`...)
		b = strconv.AppendQuote(b, p.city.country)
		b = append(b, `},"preferredLanguage":`...)
		b = strconv.AppendQuote(b, p.city.lang)
		b = append(b, `,"consents":{"marketing":{"email":{"val":`...)
		b = strconv.AppendQuote(b, yn(r.Float64() < 0.6))
		b = append(b, `},"sms":{"val":`...)
		b = strconv.AppendQuote(b, yn(r.Float64() < 0.3))
		b = append(b, `}},"collect":{"val":"y"}},"customerSince":`...)
		b = strconv.AppendQuote(b, at(r)[:10])
		b = append(b, `,"lifetimeValue":`...)
		b = strconv.AppendFloat(b, float64(r.IntN(500000))/100, 'f', 2, 64)
		b = appendMemberships(b, r, 0, 2)
		b = append(b, "}\n"...)
		if _, err := w.Write(b); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func writeLoyalty(w *bufio.Writer, opts Options) (int, error) {
	n := 0
	var b []byte
	for i := range opts.People {
		p := newPerson(opts.Seed, i)
		if !p.isLoyalty {
			continue
		}
		r := rand.New(rand.NewPCG(opts.Seed^0x10a1, uint64(i)))
		b = b[:0]
		b = append(b, `{"identities":[{"id":`...)
		b = strconv.AppendQuote(b, p.email)
		b = append(b, `,"namespace":{"code":"Email"},"primary":true},{"id":`...)
		b = strconv.AppendQuote(b, p.ecid)
		b = append(b, `,"namespace":{"code":"ECID"}}],"personalEmail":{"address":`...)
		b = strconv.AppendQuote(b, p.email)
		b = append(b, `,"type":"personal","status":"active"},"person":{"name":{"firstName":`...)
		b = strconv.AppendQuote(b, p.first)
		b = append(b, `}},"loyalty":{"tier":`...)
		b = strconv.AppendQuote(b, tiers[r.IntN(len(tiers))])
		b = append(b, `,"points":`...)
		b = strconv.AppendInt(b, int64(r.IntN(120000)), 10)
		b = append(b, `,"joinDate":`...)
		b = strconv.AppendQuote(b, at(r)[:10])
		b = append(b, `,"program":"Luma Rewards"}`...)
		b = appendMemberships(b, r, 1, 2)
		b = append(b, "}\n"...)
		if _, err := w.Write(b); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// appendMemberships adds a segmentMembership field for a random choice among Segments[from:to+1].
func appendMemberships(b []byte, r *rand.Rand, from, to int) []byte {
	first := true
	for s := from; s <= to; s++ {
		if r.Float64() >= 0.4 {
			continue
		}
		if first {
			b = append(b, `,"segmentMembership":{"ups":{`...)
			first = false
		} else {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, Segments[s].ID)
		b = append(b, `:{"status":`...)
		b = strconv.AppendQuote(b, statuses[r.IntN(len(statuses))])
		b = append(b, `,"lastQualificationTime":`...)
		b = strconv.AppendQuote(b, at(r))
		b = append(b, `,"version":"15"}`...)
	}
	if !first {
		b = append(b, "}}"...)
	}
	return b
}

func writeEvents(w *bufio.Writer, opts Options) (int, int, error) {
	n := 0
	var b []byte
	var resent [][]byte
	for i := range opts.People {
		p := newPerson(opts.Seed, i)
		r := rand.New(rand.NewPCG(opts.Seed^0xe7e47, uint64(i)))
		// A count with the requested mean: floor or ceiling, by the fractional part.
		count := int(opts.EventsPerPerson)
		if r.Float64() < opts.EventsPerPerson-float64(count) {
			count++
		}
		for e := range count {
			id := fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", r.Uint32(), r.IntN(1<<16), r.IntN(1<<12), r.IntN(1<<12), r.Int64N(1<<48))
			b = appendEvent(b[:0], r, p, id, e)
			if _, err := w.Write(b); err != nil {
				return n, 0, err
			}
			n++
			if r.Float64() < opts.ResentEvents {
				resent = append(resent, appendEvent(nil, r, p, id, e))
			}
		}
	}
	// Re-sent events arrive at the end of the file, as a late delivery would.
	for _, line := range resent {
		if _, err := w.Write(line); err != nil {
			return n, 0, err
		}
		n++
	}
	return n, len(resent), nil
}

func appendEvent(b []byte, r *rand.Rand, p *person, id string, k int) []byte {
	kind := eventTypes[r.IntN(len(eventTypes))]
	page := pages[r.IntN(len(pages))]
	b = append(b, `{"_id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendQuote(b, at(r))
	b = append(b, `,"eventType":`...)
	b = strconv.AppendQuote(b, kind)
	b = append(b, `,"identityMap":{"ECID":[{"id":`...)
	b = strconv.AppendQuote(b, p.ecid)
	b = append(b, `,"primary":true}]`...)
	if k%3 == 1 { // signed in: the event links the person's email to the device
		b = append(b, `,"Email":[{"id":`...)
		b = strconv.AppendQuote(b, p.email)
		b = append(b, `,"authenticatedState":"authenticated"}]`...)
	}
	b = append(b, `},"web":{"webPageDetails":{"name":`...)
	b = strconv.AppendQuote(b, page)
	b = append(b, `,"URL":`...)
	b = strconv.AppendQuote(b, "https://luma.example.com/"+lower(page))
	b = append(b, `}},"environment":{"type":"browser","browserDetails":{"name":`...)
	b = strconv.AppendQuote(b, browsers[r.IntN(len(browsers))])
	b = append(b, `,"javaScriptEnabled":true}}`...)
	if kind == "commerce.purchases" {
		b = append(b, `,"commerce":{"order":{"priceTotal":`...)
		b = strconv.AppendFloat(b, float64(500+r.IntN(30000))/100, 'f', 2, 64)
		b = append(b, `,"currencyCode":`...)
		b = strconv.AppendQuote(b, p.city.currency)
		b = append(b, `},"purchases":{"value":1}}`...)
	}
	return append(b, "}\n"...)
}

func yn(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

type city struct {
	name, country, lang, dial, currency string
}

var (
	firstNames = []string{"Ada", "Alan", "Grace", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances", "John",
		"Radia", "Tim", "Katherine", "Edsger", "Hedy", "Donald", "Sophie", "Niklaus", "Anita", "Bjarne",
		"Karen", "Guido", "Mary", "James", "Lynn", "Leslie", "Shafi", "Whitfield", "Adele", "Yukihiro"}
	lastNames = []string{"Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson",
		"Allen", "McCarthy", "Perlman", "Berners-Lee", "Johnson", "Dijkstra", "Lamarr", "Knuth", "Wilson",
		"Wirth", "Borg", "Stroustrup", "Sparck-Jones", "van Rossum", "Keller", "Gosling", "Conway", "Lamport",
		"Goldwasser", "Diffie", "Goldberg", "Matsumoto"}
	domains = []string{"example.com", "example.org", "example.net", "mail.example", "post.example"}
	cities  = []city{
		{"Stockholm", "SE", "sv-SE", "46", "SEK"}, {"Göteborg", "SE", "sv-SE", "46", "SEK"},
		{"London", "GB", "en-GB", "44", "GBP"}, {"Manchester", "GB", "en-GB", "44", "GBP"},
		{"Berlin", "DE", "de-DE", "49", "EUR"}, {"München", "DE", "de-DE", "49", "EUR"},
		{"Paris", "FR", "fr-FR", "33", "EUR"}, {"Lyon", "FR", "fr-FR", "33", "EUR"},
		{"New York", "US", "en-US", "1", "USD"}, {"San José", "US", "en-US", "1", "USD"},
		{"Toronto", "CA", "en-CA", "1", "CAD"}, {"São Paulo", "BR", "pt-BR", "55", "BRL"},
	}
	streets    = []string{"Main Street", "Kungsgatan", "High Street", "Hauptstraße", "Rue de la Paix", "Queen Street", "Rua Augusta"}
	tiers      = []string{"bronze", "silver", "gold", "platinum"}
	statuses   = []string{"realized", "realized", "existing", "existing", "existing", "exited"}
	eventTypes = []string{"web.webpagedetails.pageViews", "web.webpagedetails.pageViews", "commerce.productViews",
		"commerce.productListAdds", "commerce.purchases"}
	pages    = []string{"Home", "Women", "Men", "Gear", "Sale", "Cart", "Checkout", "Account", "Search", "Stores"}
	browsers = []string{"Chrome", "Firefox", "Safari", "Edge"}
)

// QuickstartOptions make the data of examples/quickstart/data.
var QuickstartOptions = Options{Seed: 2026, People: 300, EventsPerPerson: 3, ResentEvents: 0.02}
