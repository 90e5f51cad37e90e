// Package aepclient is the remote client of the Adobe Experience Platform REST API: OAuth
// server-to-server tokens (or a static token), the headers every call needs, retries with backoff
// on throttling, server errors and broken connections, and errors that name the status, the AEP
// error code and the request id. It implements the provider's backend interface.
//
// It is written against what AEP does, not against the served engine's extensions. Above all,
// AEP has no idempotency key: a POST that creates something (an export job, a dataset, a batch, a
// merge policy) is never sent again blindly. It is retried only when it surely did not reach the
// platform (the connection was refused, or the platform answered 429 or 503); when its answer is
// lost after it may have acted, the client looks for what the first try created (creates.go) and
// adopts it, or fails saying what to check. No Idempotency-Key header is sent, so that net/http
// does not replay such a POST on a reused connection either (Request.isReplayable).
//
// Retries run in hashicorp/go-retryablehttp with a policy of this package (retry.go); tokens
// come from golang.org/x/oauth2/clientcredentials, cached and shared by every call (auth.go).
// Every wait (backoff, Retry-After, polls) is on Config.Clock, so that tests move time instead of
// sleeping.
package aepclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/defaults"
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
	// MaxAttempts bounds the tries of one call; default 5. A wait (WaitExportJob) goes on past
	// calls that run out of tries, until its own deadline.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between tries; defaults 200ms and 10s. A server's
	// Retry-After (or retryAfterMs) is honoured up to MaxRetryAfter (default 60s).
	MinBackoff, MaxBackoff, MaxRetryAfter time.Duration
	// RequestTimeout bounds one try; default 60s (AEP's own response limit). A try of an
	// upload or a download is bounded by its progress instead: it fails once RequestTimeout
	// passes with nothing moving, so that a large file goes through at any steady pace.
	RequestTimeout time.Duration
	// PollInterval bounds the wait between two status polls of an export job; default 1s.
	PollInterval time.Duration
	// MaxSingleUpload is the largest file sent in one upload (a PUT); a larger one goes through
	// AEP's large-file upload, in parts of FilePartSize bytes, each held in memory while it is
	// sent. Defaults aepwire.MaxUploadFile (256 MiB, the most AEP takes in one PUT) and 64 MiB.
	MaxSingleUpload, FilePartSize int64
	// Log hears of every request: method, path, status, duration, request id. It never sees
	// headers or bodies, so no secret reaches it.
	Log func(ctx context.Context, msg string, fields map[string]any)
	// Clock times backoffs, polls and token lifetimes; default clock.System.
	Clock clock.Clock
}

// Client calls the API.
type Client struct {
	cfg  Config
	http *http.Client
	// transfer carries uploads and downloads, whose tries are bounded by their progress.
	transfer *http.Client
	clock    clock.Clock
	tokens   *tokenSource

	mu sync.Mutex
	// serverOffset is how far the platform's clock is ahead of ours, from the Date of its last
	// answer; known says whether any answer had one.
	serverOffset time.Duration
	offsetKnown  bool
	// created are the ids this client created or adopted, which a later search for a lost
	// creation must not take for its own.
	created map[string]bool
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
	defaults.Positive(&cfg.MaxAttempts, 5)
	defaults.Positive(&cfg.MinBackoff, 200*time.Millisecond)
	defaults.Positive(&cfg.MaxBackoff, 10*time.Second)
	defaults.Positive(&cfg.MaxRetryAfter, 60*time.Second)
	defaults.Positive(&cfg.RequestTimeout, 60*time.Second)
	defaults.Positive(&cfg.PollInterval, time.Second)
	defaults.Positive(&cfg.MaxSingleUpload, aepwire.MaxUploadFile)
	defaults.Positive(&cfg.FilePartSize, 64<<20)
	if cfg.FilePartSize > aepwire.MaxFilePart {
		return nil, fmt.Errorf("a file part of %d bytes is more than the %d AEP takes in one", cfg.FilePartSize, aepwire.MaxFilePart)
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
	// One try is bounded by RequestTimeout, the reading of its answer included.
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		copied := *cfg.HTTPClient
		hc = &copied
	}
	if hc.Timeout == 0 {
		hc.Timeout = cfg.RequestTimeout
	}
	c := &Client{cfg: cfg, http: hc, clock: clock.Or(cfg.Clock), created: map[string]bool{}}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = dateReader{next: next, c: c}
	// Uploads and downloads: as long as they keep moving (transfer.go).
	transfer := *hc
	transfer.Timeout = 0
	transfer.Transport = stallTransport{next: hc.Transport, timeout: cfg.RequestTimeout}
	c.transfer = &transfer
	c.tokens = newTokenSource(c)
	return c, nil
}

// dateReader learns the platform's time from the Date of every answer, IMS's included (see
// create).
type dateReader struct {
	next http.RoundTripper
	c    *Client
}

func (d dateReader) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.next.RoundTrip(req)
	if err == nil {
		d.c.noteServerTime(resp.Header)
	}
	return resp, err
}

// request is one API call.
type request struct {
	method string
	path   string // below the endpoint, such as /data/foundation/catalog/dataSets
	query  url.Values
	// body is the JSON body; or, for uploads, raw (sent again on a retry only when an io.Seeker):
	// a batch file, sent as JSON Lines (uploadReader), or with asIs its bytes as they are.
	body any
	raw  io.Reader
	asIs bool
	// length, when above 0, is how many bytes raw sends a try, sent as its Content-Length;
	// else raw is sent chunked.
	length      int64
	contentType string
	header      http.Header
	// idempotent makes every failure retryable. GET, HEAD, PUT and DELETE are; a POST is retried
	// only when it surely did not reach the platform.
	idempotent bool
	// transfer marks a download, whose tries, as an upload's (raw), are bounded by their progress
	// rather than by Config.RequestTimeout as a whole.
	transfer bool
	// rawURL, when set, is called instead of endpoint+path (links the API returned).
	rawURL string
}

type response struct {
	status int
	header http.Header
	body   []byte
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
