package aepclient

import (
	"fmt"
	"net/url"
	"strings"
)

// link returns the URL of a link an answer holds (a next page, a file), resolved against the
// endpoint. The client sends its access token with every call, so it follows only links on the
// endpoint's own scheme and host: a link elsewhere is an error, whoever wrote it.
func (c *Client) link(href string) (string, error) {
	base, err := url.Parse(c.cfg.Endpoint + "/")
	if err != nil {
		return "", err
	}
	u, err := base.Parse(href)
	if err != nil {
		return "", fmt.Errorf("the API answered with a link that is not a URL: %q", href)
	}
	if !strings.EqualFold(u.Scheme, base.Scheme) || !sameHost(u, base) {
		return "", fmt.Errorf("the API answered with a link to %s://%s, which is not the endpoint %s: the client does not follow "+
			"it, as it would send its access token there (if the server is behind a proxy, it must name the endpoint in its "+
			"links: see -public-url)", u.Scheme, u.Host, c.cfg.Endpoint)
	}
	return u.String(), nil
}

// sameHost compares hosts as URLs mean them: without regard to case, and with the scheme's
// default port when none is given.
func sameHost(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if strings.EqualFold(u.Scheme, "https") {
			return "443"
		}
		return "80"
	}
	return strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b) && a.User == nil
}
