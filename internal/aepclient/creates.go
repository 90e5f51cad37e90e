package aepclient

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// AEP takes no idempotency key, so a POST that creates something is sent again only when it
// surely did not reach the platform. When its answer is lost after it may have (the connection
// broke, the answer was cut off or timed out, or a 5xx came back), create looks for what it
// made: the objects of the same kind created since just before the first try (by the platform's
// clock, learned from the Date of its answers), that match the request and that this client
// did not already create or adopt. One match is adopted; none means the try did not act, and
// the POST goes again; more than one cannot be told apart, and the call fails naming them.

// maxCreateRounds bounds the POSTs of one create that each found nothing made.
const maxCreateRounds = 3

// maxLookupPages bounds the pages read when looking for a creation.
const maxLookupPages = 20

// creationSlack is how long before the first try a creation is looked for: the platform's clock
// is known to the second from Date headers; without one, much wider.
const (
	creationSlack        = 2 * time.Second
	creationSlackUnknown = 10 * time.Minute
)

// create runs a creating POST. It returns the answer, or (when the answer was lost) the id of
// the object adopted, or an error.
func (c *Client) create(ctx context.Context, r request, what string, find func(ctx context.Context, since time.Time) ([]string, error)) (*response, string, error) {
	// A token first: its answer tells the platform's time, if nothing has yet.
	if _, err := c.tokens.token(ctx); err != nil {
		return nil, "", err
	}
	before := c.clock.Now()
	since, known := c.serverNow()
	if known {
		since = since.Add(-creationSlack)
	} else {
		since = since.Add(-creationSlackUnknown)
	}
	for round := 1; ; round++ {
		resp, err := c.do(ctx, r)
		var u *aepwire.UnavailableError
		if err == nil || !errors.As(err, &u) || !u.Sent || ctx.Err() != nil {
			return resp, "", err // done, refused, surely not sent, or given up
		}
		if now, ok := c.serverNow(); ok && !known {
			// The failed try's answer told the time: back from it to before the first try.
			since, known = now.Add(-clock.Since(c.clock, before)-creationSlack), true
		}
		ids, ferr := find(ctx, since)
		switch {
		case ferr != nil:
			return nil, "", fmt.Errorf("%w\nLooking for the %s it may have created failed too: %v.\nCheck whether a new %s "+
				"exists (created since %s) before trying again: if it does, import it rather than create another",
				err, what, ferr, what, since.UTC().Format(time.RFC3339))
		case len(ids) == 1:
			c.remember(ids[0])
			c.log(ctx, "adopted the "+what+" a lost answer hid", map[string]any{"id": ids[0], "path": r.path})
			return nil, ids[0], nil
		case len(ids) > 1:
			slices.SortFunc(ids, func(a, b string) int { return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b)) })
			return nil, "", fmt.Errorf("%w\nThe answer was lost, and %d %ss created since %s match this request: %s. Another "+
				"client may have created the same at the same time, so this one cannot tell which is its own. Check which one "+
				"you want (import it) and delete the others before applying again", err, len(ids), what,
				since.UTC().Format(time.RFC3339), strings.Join(ids, ", "))
		case round >= maxCreateRounds:
			return nil, "", fmt.Errorf("%w\nNo %s made by the %d tries could be found; check for a new %s before applying again",
				err, what, round, what)
		}
		c.log(ctx, "the lost "+what+" creation made nothing; sending it again", map[string]any{"path": r.path, "round": round})
		if err := clock.Sleep(ctx, c.clock, c.backoff(round)); err != nil {
			return nil, "", err
		}
	}
}

func (c *Client) remember(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created[id] = true
}

func (c *Client) known(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.created[id]
}

// findJobs lists jobs newest first back to since, and keeps those that echo the request.
func (c *Client) findJobs(ctx context.Context, req aepwire.ExportJobRequest, since time.Time) ([]string, error) {
	want, err := asJSON(req)
	if err != nil {
		return nil, err
	}
	var ids []string
	offset := ""
	for range maxLookupPages {
		list, err := c.listJobsPage(ctx, aepwire.ExportJobQuery{Limit: 100, Offset: offset})
		if err != nil {
			return nil, err
		}
		for i := range list.Records {
			j := &list.Records[i]
			if j.CreationTime < since.UnixMilli() {
				return ids, nil
			}
			id := strconv.FormatInt(j.ID, 10)
			if c.known(id) {
				continue
			}
			if got, err := asJSON(j); err == nil && echoes(want, got) {
				ids = append(ids, id)
			}
		}
		if list.Link.Next == "" || len(list.Records) == 0 {
			break
		}
		offset = list.Page.PageOffset
	}
	return ids, nil
}

// findDatasets lists datasets and keeps those created since, of the request's name, schema and
// tags.
func (c *Client) findDatasets(ctx context.Context, req aepwire.DatasetRequest, since time.Time) ([]string, error) {
	var ids []string
	const limit = 100
	for page := range maxLookupPages {
		q := url.Values{"limit": {strconv.Itoa(limit)}, "start": {strconv.Itoa(page * limit)}, "orderBy": {"desc:created"}}
		var m map[string]*aepwire.Dataset
		if err := c.getJSON(ctx, catalogPath+"/dataSets", q, &m); err != nil {
			return nil, err
		}
		for id, ds := range m {
			if ds == nil || c.known(id) || ds.Created < since.UnixMilli() || ds.Name != req.Name || ds.SchemaRef.ID != req.SchemaRef.ID {
				continue
			}
			if tagsHold(ds.Tags, req.Tags) {
				ids = append(ids, id)
			}
		}
		if len(m) < limit {
			break
		}
	}
	return ids, nil
}

func tagsHold(have, want map[string][]string) bool {
	for k, v := range want {
		if !reflect.DeepEqual(have[k], v) && (len(v) != 0 || len(have[k]) != 0) {
			return false
		}
	}
	return true
}

// findBatches lists the dataset's batches created since that are still loading, as a new one is.
func (c *Client) findBatches(ctx context.Context, req aepwire.BatchRequest, since time.Time) ([]string, error) {
	var ids []string
	const limit = 100
	for page := range maxLookupPages {
		q := url.Values{"dataSet": {req.DatasetID}, "createdAfter": {strconv.FormatInt(since.UnixMilli()-1, 10)},
			"orderBy": {"desc:created"}, "limit": {strconv.Itoa(limit)}, "start": {strconv.Itoa(page * limit)}}
		var m map[string]*aepwire.Batch
		if err := c.getJSON(ctx, catalogPath+"/batches", q, &m); err != nil {
			return nil, err
		}
		for id, b := range m {
			if b == nil || c.known(id) || b.Created < since.UnixMilli() || !strings.EqualFold(b.Status, aepwire.BatchLoading) {
				continue
			}
			if ds := b.DatasetID(); ds == "" || ds == req.DatasetID {
				ids = append(ids, id)
			}
		}
		if len(m) < limit {
			break
		}
	}
	return ids, nil
}

// findMergePolicies lists the merge policies and keeps those changed since with the request's
// settings.
func (c *Client) findMergePolicies(ctx context.Context, p aepwire.MergePolicy, since time.Time) ([]string, error) {
	var ids []string
	start := "" // the first page has none; the next ones, the cursor the page before gave
	for range maxLookupPages {
		q := url.Values{"limit": {"100"}}
		if start != "" {
			q.Set("start", start)
		}
		var list aepwire.MergePolicyList
		if err := c.call(ctx, request{method: http.MethodGet, path: policiesPath, query: q}, &list); err != nil {
			return nil, err
		}
		for _, mp := range list.Children {
			// updateEpoch is in seconds.
			if c.known(mp.ID) || mp.UpdateEpoch < since.Unix()-1 || mp.Name != p.Name || mp.Schema != p.Schema ||
				mp.IdentityGraph != p.IdentityGraph || mp.AttributeMerge.Type != p.AttributeMerge.Type ||
				!reflect.DeepEqual(mp.AttributeMerge.Order, p.AttributeMerge.Order) {
				continue
			}
			ids = append(ids, mp.ID)
		}
		if start = list.NextStart(); start == "" || len(list.Children) == 0 {
			break
		}
	}
	return ids, nil
}

// asJSON is v as generic JSON.
func asJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(b, &out)
}

// echoes reports whether got holds everything want does: every member of want's objects (but
// those with a zero value, which a platform may leave out) is in got with an equal value; arrays
// match element by element.
func echoes(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, _ := got.(map[string]any)
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				if isZero(v) {
					continue
				}
				return false
			}
			if !echoes(v, gv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !echoes(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(want, got)
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case float64:
		return x == 0
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
