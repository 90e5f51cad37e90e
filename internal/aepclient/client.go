// Package aepclient is the remote client of the Adobe Experience Platform REST API: OAuth
// server-to-server tokens (or a static token), the headers every call needs, retries with backoff
// on throttling, server errors and broken connections, and errors that name the status, the AEP
// error code and the request id. It implements the provider's backend interface.
package aepclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// Defaults of a Config.
const (
	DefaultEndpoint    = "https://platform.adobe.io"
	DefaultIMSEndpoint = "https://ims-na1.adobelogin.com"
	DefaultSandbox     = "prod"
	DefaultScope       = "openid,session,AdobeID,read_organizations,additional_info.projectedProductContext"
)

// Config configures a client.
type Config struct {
	Endpoint    string
	IMSEndpoint string
	// ClientID is the API key (x-api-key) and, with ClientSecret, the OAuth client.
	ClientID     string
	ClientSecret string
	// AccessToken, when set, is used as it is instead of OAuth.
	AccessToken string
	OrgID       string
	Sandbox     string
	Scope       string

	HTTPClient *http.Client
	// MaxAttempts bounds the tries of one call; default 5.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between tries; defaults 200ms and 10s. A server's
	// Retry-After (or retryAfterMs) is honoured up to MaxRetryAfter (default 60s).
	MinBackoff, MaxBackoff, MaxRetryAfter time.Duration
	// RequestTimeout bounds one try; default 60s (AEP's own response limit).
	RequestTimeout time.Duration
	// PollInterval bounds the wait between two status polls of an export job; default 1s.
	PollInterval time.Duration
	// Log hears of every request: method, path, status, duration, request id. It never sees
	// headers or bodies, so no secret reaches it.
	Log func(ctx context.Context, msg string, fields map[string]any)
	// Now and Sleep are the clock; tests replace them.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Client calls the API.
type Client struct {
	cfg  Config
	http *http.Client

	mu           sync.Mutex
	token        string
	tokenExpires time.Time
}

// New returns a client; it checks the configuration but makes no call.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.IMSEndpoint == "" {
		cfg.IMSEndpoint = DefaultIMSEndpoint
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	cfg.IMSEndpoint = strings.TrimRight(cfg.IMSEndpoint, "/")
	if cfg.Sandbox == "" {
		cfg.Sandbox = DefaultSandbox
	}
	if cfg.Scope == "" {
		cfg.Scope = DefaultScope
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 200 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = 60 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 60 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	for name, v := range map[string]string{"endpoint": cfg.Endpoint, "ims_endpoint": cfg.IMSEndpoint} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%s %q is not an http(s) URL", name, v)
		}
	}
	switch {
	case cfg.ClientID == "":
		return nil, errors.New("client_id is required: it is the API key of every call")
	case cfg.OrgID == "":
		return nil, errors.New("org_id is required: the IMS organisation, such as 12345@AdobeOrg")
	case cfg.AccessToken == "" && cfg.ClientSecret == "":
		return nil, errors.New("client_secret (for OAuth server-to-server) or access_token is required")
	}
	c := &Client{cfg: cfg, http: cfg.HTTPClient}
	if c.http == nil {
		c.http = &http.Client{}
	}
	return c, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// request is one API call.
type request struct {
	method string
	path   string // below the endpoint, such as /data/foundation/catalog/dataSets
	query  url.Values
	// body is the JSON body; or, for uploads, raw (re-readable for retries when an io.Seeker).
	body        any
	raw         io.Reader
	contentType string
	// idempotent makes every failure retryable; POSTs are retried only when the server surely
	// did not act on them (429, 503, a refused connection), unless they carry an idempotency key.
	idempotent     bool
	idempotencyKey string
	// rawURL, when set, is called instead of endpoint+path (links the API returned).
	rawURL string
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do runs a call with its retries and returns the successful response, or an error.
func (c *Client) do(ctx context.Context, r request) (*response, error) {
	idempotent := r.idempotent || r.idempotencyKey != "" || r.method == http.MethodGet || r.method == http.MethodHead ||
		r.method == http.MethodPut || r.method == http.MethodDelete
	var body []byte
	if r.body != nil {
		var err error
		if body, err = json.Marshal(r.body); err != nil {
			return nil, err
		}
	}
	target := c.cfg.Endpoint + r.path
	if r.rawURL != "" {
		var err error
		if target, err = c.link(r.rawURL); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
	}
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	refreshed := false
	var lastErr error
	for attempt := 1; ; attempt++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		if attempt > 1 && r.raw != nil {
			seeker, ok := r.raw.(io.Seeker)
			if !ok {
				return nil, lastErr
			}
			if _, err := seeker.Seek(0, io.SeekStart); err != nil {
				return nil, err
			}
		}
		resp, wait, err := c.try(ctx, r, target, body, token, attempt)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		var apiErr *aepwire.Error
		switch {
		case ctx.Err() != nil:
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, ctx.Err())
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized && c.cfg.AccessToken == "" && !refreshed:
			// The token may have expired early (or the server forgot it): get a new one, once.
			refreshed = true
			c.forgetToken()
			attempt--
			continue
		case !retryable(err, idempotent):
			var re *retryError
			if errors.As(err, &re) {
				return nil, fmt.Errorf("%w\n(the server may have carried out this %s before its answer was lost, so it was "+
					"not sent again: check for what it would have created before applying again)", err, r.method)
			}
			return nil, err
		case attempt >= c.cfg.MaxAttempts:
			return nil, fmt.Errorf("%s %s failed after %d attempts: %w", r.method, r.path, attempt, err)
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		c.log(ctx, "retrying API request", map[string]any{"method": r.method, "path": r.path, "attempt": attempt,
			"wait_ms": wait.Milliseconds(), "error": err.Error()})
		if err := c.cfg.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
		}
	}
}

// backoff is the wait before try attempt+1: exponential from MinBackoff, capped, with jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.MinBackoff << (attempt - 1)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

// retryError marks an error worth another try; unsent says whether the server surely did nothing.
type retryError struct {
	err    error
	unsent bool // the request never reached the server, or the server refused it unprocessed
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

func retryable(err error, idempotent bool) bool {
	var re *retryError
	if !errors.As(err, &re) {
		return false
	}
	return idempotent || re.unsent
}

// try makes one attempt. A retryable failure comes back as a *retryError, with the wait the
// server asked for, if any.
func (c *Client) try(ctx context.Context, r request, target string, body []byte, token string, attempt int) (*response, time.Duration, error) {
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	var reader io.Reader
	switch {
	case r.raw != nil:
		// Hidden behind a plain Reader, so that the transport does not close a file that a
		// retry reads again.
		reader = struct{ io.Reader }{r.raw}
	case body != nil:
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, target, reader)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(aepwire.HeaderAPIKey, c.cfg.ClientID)
	req.Header.Set(aepwire.HeaderOrgID, c.cfg.OrgID)
	req.Header.Set(aepwire.HeaderSandbox, c.cfg.Sandbox)
	req.Header.Set("Accept", "application/json")
	switch {
	case r.contentType != "":
		req.Header.Set("Content-Type", r.contentType)
	case body != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	if r.idempotencyKey != "" {
		req.Header.Set(aepwire.HeaderIdempotencyKey, r.idempotencyKey)
	}
	start := c.cfg.Now()
	resp, err := c.http.Do(req)
	fields := map[string]any{"method": r.method, "path": r.path, "attempt": attempt}
	if err != nil {
		fields["error"] = err.Error()
		fields["duration_ms"] = c.cfg.Now().Sub(start).Milliseconds()
		c.log(ctx, "API request failed", fields)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, &retryError{err: fmt.Errorf("%s %s: %w", r.method, r.path, err), unsent: dialFailed(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	requestID := resp.Header.Get(aepwire.HeaderRequestID)
	fields["status"] = resp.StatusCode
	fields["duration_ms"] = c.cfg.Now().Sub(start).Milliseconds()
	fields["request_id"] = requestID
	c.log(ctx, "API request", fields)
	if err != nil {
		return nil, 0, &retryError{err: fmt.Errorf("%s %s: reading the response (status %d, request id %s): %w",
			r.method, r.path, resp.StatusCode, requestID, err)}
	}
	if resp.StatusCode < 300 {
		return &response{status: resp.StatusCode, header: resp.Header, body: data}, 0, nil
	}
	apiErr := aepwire.DecodeError(resp.StatusCode, data, requestID)
	apiErr.Hint = hint(apiErr)
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		// Refused unprocessed: safe to try again, after the wait the server asks for.
		return nil, c.retryAfter(resp.Header, data), &retryError{err: apiErr, unsent: true}
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
		return nil, c.retryAfter(resp.Header, data), &retryError{err: apiErr}
	}
	return nil, 0, apiErr
}

// dialFailed reports whether a transport error happened before the request was sent.
func dialFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED)
}

// retryAfter reads the wait a server asks for: the Retry-After header (seconds or an HTTP date),
// or the retryAfterMs of a profile service's 429 body; capped at MaxRetryAfter.
func (c *Client) retryAfter(h http.Header, body []byte) time.Duration {
	var d time.Duration
	if v := h.Get("Retry-After"); v != "" {
		if secs, err := strconv.Atoi(v); err == nil {
			d = time.Duration(secs) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(c.cfg.Now())
		}
	}
	if d <= 0 {
		var tm aepwire.TooManyRequests
		if json.Unmarshal(body, &tm) == nil {
			if ms, err := strconv.ParseInt(tm.RetryAfterMs, 10, 64); err == nil {
				d = time.Duration(ms) * time.Millisecond
			}
		}
	}
	if d <= 0 {
		return 0
	}
	return min(d, c.cfg.MaxRetryAfter)
}

// hint says what to fix for the gateway's credential errors.
func hint(e *aepwire.Error) string {
	switch e.Code {
	case aepwire.GatewayTokenMissing:
		return "No access token was sent: set client_secret (AEP_CLIENT_SECRET) or access_token (AEP_ACCESS_TOKEN)"
	case aepwire.GatewayTokenInvalid:
		return "The access token is not valid or has expired: check access_token (AEP_ACCESS_TOKEN), or client_id and client_secret"
	case aepwire.GatewayAPIKeyMissing:
		return "The API key is missing: set client_id (AEP_CLIENT_ID)"
	case aepwire.GatewayAPIKeyInvalid:
		return "The API key is not valid for this token: client_id (AEP_CLIENT_ID) must be the client the token was issued to"
	case aepwire.GatewayHeaderMissing:
		return "A required header is missing: check org_id (AEP_ORG_ID) and sandbox_name (AEP_SANDBOX_NAME)"
	case aepwire.GatewayOrgMismatch:
		return "The organisation does not match the credentials: check org_id (AEP_ORG_ID)"
	case aepwire.GatewayNotEntitled:
		return "The credentials have no access to this sandbox: check sandbox_name (AEP_SANDBOX_NAME)"
	}
	return ""
}

func (c *Client) log(ctx context.Context, msg string, fields map[string]any) {
	if c.cfg.Log != nil {
		c.cfg.Log(ctx, msg, fields)
	}
}

// call runs a request and decodes its JSON answer into out.
func (c *Client) call(ctx context.Context, r request, out any) error {
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	return decode(resp, r.path, out)
}

// getJSON calls a GET and decodes its JSON body into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	return c.call(ctx, request{method: http.MethodGet, path: path, query: query}, out)
}

func decode(resp *response, path string, out any) error {
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("%s: the response is not the JSON expected (request id %s): %w", path, resp.header.Get(aepwire.HeaderRequestID), err)
	}
	return nil
}
