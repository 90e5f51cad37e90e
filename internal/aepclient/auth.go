package aepclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// accessToken returns the token for the next call: the static one, or a cached OAuth token that
// is renewed before it expires (a tenth of its lifetime before, at most five minutes).
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if c.cfg.AccessToken != "" {
		return c.cfg.AccessToken, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.cfg.Now().Before(c.tokenExpires) {
		return c.token, nil
	}
	tok, err := c.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	lifetime := time.Duration(tok.ExpiresIn) * time.Second
	margin := min(lifetime/10, 5*time.Minute)
	c.token, c.tokenExpires = tok.AccessToken, c.cfg.Now().Add(lifetime-margin)
	c.log(ctx, "obtained an access token", map[string]any{"expires_in_s": tok.ExpiresIn})
	return c.token, nil
}

func (c *Client) forgetToken() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.token = ""
}

// fetchToken asks IMS for a token (OAuth server-to-server, client_credentials), retrying what
// can be retried.
func (c *Client) fetchToken(ctx context.Context) (*aepwire.TokenResponse, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
		"scope":         {c.cfg.Scope},
	}
	target := c.cfg.IMSEndpoint + "/ims/token/v3"
	var lastErr error
	for attempt := 1; attempt <= c.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := c.cfg.Sleep(ctx, c.backoff(attempt-1)); err != nil {
				return nil, err
			}
		}
		tok, retry, err := c.tryToken(ctx, target, form)
		if err == nil {
			return tok, nil
		}
		if !retry || ctx.Err() != nil {
			return nil, err
		}
		lastErr = err
	}
	return nil, fmt.Errorf("after %d attempts: %w", c.cfg.MaxAttempts, lastErr)
}

func (c *Client) tryToken(ctx context.Context, target string, form url.Values) (*aepwire.TokenResponse, bool, error) {
	reqCtx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	start := c.cfg.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log(ctx, "token request failed", map[string]any{"error": err.Error()})
		return nil, true, fmt.Errorf("requesting an access token from %s: %w", c.cfg.IMSEndpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	c.log(ctx, "token request", map[string]any{"status": resp.StatusCode, "duration_ms": c.cfg.Now().Sub(start).Milliseconds()})
	if err != nil {
		return nil, true, fmt.Errorf("reading the access token from %s: %w", c.cfg.IMSEndpoint, err)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return nil, true, fmt.Errorf("IMS at %s answered %d", c.cfg.IMSEndpoint, resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		var te aepwire.TokenError
		_ = json.Unmarshal(data, &te)
		return nil, false, fmt.Errorf("IMS at %s refused the credentials (%d %s: %s): check client_id (AEP_CLIENT_ID) and "+
			"client_secret (AEP_CLIENT_SECRET)", c.cfg.IMSEndpoint, resp.StatusCode, te.Error, te.ErrorDescription)
	}
	var tok aepwire.TokenResponse
	if err := json.Unmarshal(data, &tok); err != nil || tok.AccessToken == "" {
		return nil, true, fmt.Errorf("IMS at %s answered without an access token", c.cfg.IMSEndpoint)
	}
	return &tok, false, nil
}
