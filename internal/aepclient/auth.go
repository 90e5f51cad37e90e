package aepclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// tokenSource gives every call the current token: the static one, or an OAuth server-to-server
// token (client_credentials, fetched with golang.org/x/oauth2/clientcredentials) that is cached
// and renewed a tenth of its lifetime before it expires (at most five minutes before).
//
// One token serves all calls at once, and one fetch serves all the calls that need a new one:
// after the platform restarts and forgets its tokens, each call under way meets a 401 with the
// same old token, and invalidate forgets that token only if it is still the current one, so the
// first call fetches a new token and the others take it. (oauth2.ReuseTokenSource shares a token
// too, but cannot be told that the platform refused it, and measures lifetimes on the wall clock.)
type tokenSource struct {
	c      *Client
	static string
	conf   *clientcredentials.Config
	// fetching is held by the one call that fetches a token; the others wait for its result.
	fetching chan struct{}

	mu      sync.Mutex
	current string
	expires time.Time
}

func newTokenSource(c *Client) *tokenSource {
	t := &tokenSource{c: c, static: c.cfg.AccessToken, fetching: make(chan struct{}, 1)}
	if t.static == "" {
		t.conf = &clientcredentials.Config{
			ClientID:     c.cfg.ClientID,
			ClientSecret: c.cfg.ClientSecret,
			TokenURL:     c.cfg.IMSEndpoint + "/ims/token/v3",
			// IMS takes AEP's comma-separated scope list as one value.
			Scopes:    []string{c.cfg.Scope},
			AuthStyle: oauth2.AuthStyleInParams,
		}
	}
	return t
}

// renewable says whether a refused token can be replaced by a new one.
func (t *tokenSource) renewable() bool { return t.static == "" }

// token returns the token for the next try.
func (t *tokenSource) token(ctx context.Context) (string, error) {
	if t.static != "" {
		return t.static, nil
	}
	if tok := t.valid(); tok != "" {
		return tok, nil
	}
	select {
	case t.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-t.fetching }()
	if tok := t.valid(); tok != "" {
		return tok, nil // fetched by another call meanwhile
	}
	tok, err := t.fetch(ctx)
	if err != nil {
		return "", err
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = time.Until(tok.Expiry)
	}
	margin := min(lifetime/10, 5*time.Minute)
	t.mu.Lock()
	t.current, t.expires = tok.AccessToken, t.c.clock.Now().Add(lifetime-margin)
	t.mu.Unlock()
	t.c.log(ctx, "obtained an access token", map[string]any{"expires_in_s": int64(lifetime / time.Second)})
	return tok.AccessToken, nil
}

func (t *tokenSource) valid() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current != "" && t.c.clock.Now().Before(t.expires) {
		return t.current
	}
	return ""
}

// invalidate forgets a token the platform refused, unless a newer one has replaced it already.
func (t *tokenSource) invalidate(token string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.current == token {
		t.current = ""
	}
}

// fetch asks IMS for a token, trying again after failures that a later try may not meet.
func (t *tokenSource) fetch(ctx context.Context) (*oauth2.Token, error) {
	httpCtx := context.WithValue(ctx, oauth2.HTTPClient, t.c.http)
	ims := t.c.cfg.IMSEndpoint
	var lastErr error
	for attempt := 1; attempt <= t.c.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := clock.Sleep(ctx, t.c.clock, t.c.backoff(attempt-1)); err != nil {
				return nil, err
			}
		}
		start := t.c.clock.Now()
		tok, err := t.conf.Token(httpCtx)
		fields := map[string]any{"duration_ms": t.c.clock.Now().Sub(start).Milliseconds(), "attempt": attempt}
		var re *oauth2.RetrieveError
		switch {
		case err == nil:
			fields["status"] = 200
			t.c.log(ctx, "token request", fields)
			return tok, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &re) && re.Response != nil:
			fields["status"] = re.Response.StatusCode
			t.c.log(ctx, "token request", fields)
			if code := re.Response.StatusCode; code < 500 && code != 429 {
				return nil, fmt.Errorf("IMS at %s refused the credentials (%d %s: %s): check client_id (AEP_CLIENT_ID) and "+
					"client_secret (AEP_CLIENT_SECRET)", ims, code, re.ErrorCode, re.ErrorDescription)
			}
			lastErr = fmt.Errorf("IMS at %s answered %d", ims, re.Response.StatusCode)
		default:
			// The connection failed, or the answer held no token.
			fields["error"] = err.Error()
			t.c.log(ctx, "token request failed", fields)
			lastErr = fmt.Errorf("requesting an access token from %s: %w", ims, err)
		}
	}
	// No call went to the platform: what was to be done is surely not done.
	return nil, &aepwire.UnavailableError{Err: fmt.Errorf("after %d attempts: %w", t.c.cfg.MaxAttempts, lastErr)}
}
