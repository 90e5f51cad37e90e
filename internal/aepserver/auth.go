package aepserver

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The token endpoint answers every bad credential alike, so that nobody learns which client ids
// exist: the same status, body and headers for an unknown client id as for a wrong secret.
const badCredentials = "invalid client_id parameter or invalid client_secret parameter"

// Throttling of the token endpoint: per client id as sent (known or not, so that throttling
// tells nothing either) and address the request came from, the first few failures are free; each
// further one locks the id out, from that address, for twice as long as the one before, up to
// maxLockout. A success clears the failures. A client id travels in every API call (x-api-key):
// throttled by id alone, anyone who saw it could keep its own users locked out, one failure each
// time a lockout ends.
const (
	freeFailures = 5
	firstLockout = time.Second
	maxLockout   = 5 * time.Minute
	// forgetFailures is how long after its last failure, and its lockout's end, an id's
	// failures are forgotten.
	forgetFailures = 15 * time.Minute
	// maxFailureRecords bounds the ids whose failures are remembered; past it, the half that
	// failed longest ago is forgotten (an id being guessed at fails often, or is locked out,
	// and stays).
	maxFailureRecords = 4096
)

// Issued tokens are kept until they expire, and swept out at most this often; at most
// maxTokens are kept, each client holding at most its share of them (maxTokens over the number
// of clients): past its share, a client's own token closest to expiring goes, so that one
// client's requests cannot drop another's tokens; past maxTokens (tokens of clients no longer
// known), the tenth closest to expiring go. A client whose token went gets a 401, and asks for
// a new one.
const (
	sweepTokensEvery = time.Minute
	maxTokens        = 10000
)

type digest = [sha256.Size]byte

// credential is a Credential as the server compares it: digests of equal length, so that a
// comparison's time tells nothing about the lengths or contents of the secrets.
type credential struct {
	id, secret digest
	clientID   string
}

type issuedToken struct {
	clientID string
	expires  time.Time
}

// auth is the token endpoint's state: issued tokens and failed attempts.
type auth struct {
	mu     sync.Mutex
	tokens map[string]issuedToken
	// held counts the tokens of each client; share is the most one client holds, its part of
	// maxTokens, so that no client's requests drop another's tokens.
	held     map[string]int
	share    int
	swept    time.Time
	failures map[digest]*failures
}

type failures struct {
	count       int
	lockedUntil time.Time
	last        time.Time
}

// newAuth returns the token and failure records of a server with clients credentials.
func newAuth(clients int) *auth {
	return &auth{tokens: map[string]issuedToken{}, held: map[string]int{}, share: maxTokens / max(clients, 1),
		failures: map[digest]*failures{}}
}

// drop forgets a token; a.mu is held.
func (a *auth) drop(token string) {
	if t, ok := a.tokens[token]; ok {
		delete(a.tokens, token)
		if a.held[t.clientID]--; a.held[t.clientID] <= 0 {
			delete(a.held, t.clientID)
		}
	}
}

// token is the IMS OAuth server-to-server endpoint: client_credentials only.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if err := declaredTooLarge(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		if e := aepwire.StatusOf(err); e != 0 {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusBadRequest, aepwire.TokenError{Error: "invalid_request", ErrorDescription: err.Error()})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeJSON(w, http.StatusBadRequest, aepwire.TokenError{Error: "unsupported_grant_type",
			ErrorDescription: fmt.Sprintf("grant_type %s is not supported; use client_credentials", aepwire.QuoteShort(gt))})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id == "" {
		if u, p, ok := r.BasicAuth(); ok {
			id, secret = u, p
		}
	}
	idSum := sha256.Sum256([]byte(id))
	throttled := throttleKey(id, r.RemoteAddr)
	now := s.clock.Now()
	if wait, locked := s.auth.locked(throttled, now); locked {
		seconds := int64((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(seconds, 10))
		writeJSON(w, http.StatusTooManyRequests, aepwire.TokenError{Error: "too_many_requests", ErrorDescription: fmt.Sprintf(
			"too many failed attempts for this client_id: try again in %d seconds", seconds)})
		return
	}
	clientID, ok := s.authenticate(idSum, secret)
	if !ok {
		s.auth.fail(throttled, now)
		writeJSON(w, http.StatusUnauthorized, aepwire.TokenError{Error: "invalid_client", ErrorDescription: badCredentials})
		return
	}
	s.auth.succeed(throttled)
	token := newToken(32)
	s.auth.issue(token, issuedToken{clientID: clientID, expires: now.Add(s.opts.TokenLifetime)}, now)
	writeJSON(w, http.StatusOK, aepwire.TokenResponse{AccessToken: token, TokenType: "bearer",
		ExpiresIn: int64(s.opts.TokenLifetime / time.Second)})
}

// throttleKey is what the token endpoint's failures are counted by: a client id and the host of
// the address its request came from.
func throttleKey(clientID, remoteAddr string) digest {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	return sha256.Sum256([]byte(clientID + "\x00" + host))
}

// authenticate finds the credential of a client id (by its digest) and secret. It compares
// them with every credential, in constant time, whatever matches: neither the answer nor its
// timing tells a known client id from an unknown one.
func (s *Server) authenticate(idSum digest, secret string) (string, bool) {
	secretSum := sha256.Sum256([]byte(secret))
	found := -1
	for i, c := range s.creds {
		if s.compare(idSum[:], c.id[:])&s.compare(secretSum[:], c.secret[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", false
	}
	return s.creds[found].clientID, true
}

// locked reports whether a client id is locked out, and for how long still.
func (a *auth) locked(id digest, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[id]
	if f == nil || !now.Before(f.lockedUntil) {
		return 0, false
	}
	return f.lockedUntil.Sub(now), true
}

// fail records a failed attempt, locking the id out past the free ones.
func (a *auth) fail(id digest, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[id]
	if f == nil {
		if len(a.failures) >= maxFailureRecords {
			a.forgetFailuresLocked(now)
		}
		f = &failures{}
		a.failures[id] = f
	}
	f.count++
	f.last = now
	if extra := f.count - freeFailures; extra > 0 {
		lockout := maxLockout
		if extra <= 20 { // beyond that, the doubling has long passed the cap
			lockout = min(maxLockout, firstLockout<<(extra-1))
		}
		f.lockedUntil = now.Add(lockout)
	}
}

// forgetFailuresLocked makes room for more ids: ids whose failures are old are forgotten, and
// if that leaves the records more than half full, the older half of them, by their last failure
// or the end of their lockout, whichever is later, so that a lockout is not cut short by failures
// of other ids. Room is made for many at once, so that a stream of new ids costs a pass over
// the records only now and then.
func (a *auth) forgetFailuresLocked(now time.Time) {
	recent := make([]time.Time, 0, len(a.failures))
	for id, f := range a.failures {
		if now.Sub(f.last) > forgetFailures && !now.Before(f.lockedUntil) {
			delete(a.failures, id)
			continue
		}
		recent = append(recent, f.latest())
	}
	if len(recent) <= maxFailureRecords/2 {
		return
	}
	slices.SortFunc(recent, time.Time.Compare)
	cut := recent[len(recent)/2]
	for id, f := range a.failures {
		if f.latest().Before(cut) {
			delete(a.failures, id)
		}
	}
}

func (f *failures) latest() time.Time {
	if f.lockedUntil.After(f.last) {
		return f.lockedUntil
	}
	return f.last
}

func (a *auth) succeed(id digest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.failures, id)
}

// issue keeps a token until it expires, sweeping out the expired ones now and then.
func (a *auth) issue(token string, t issuedToken, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if now.Sub(a.swept) >= sweepTokensEvery || len(a.tokens) >= maxTokens {
		for k, v := range a.tokens {
			if !now.Before(v.expires) {
				a.drop(k)
			}
		}
		a.swept = now
	}
	if a.held[t.clientID] >= a.share {
		// The client's own token closest to expiring goes.
		oldest, at := "", time.Time{}
		for k, v := range a.tokens {
			if v.clientID == t.clientID && (oldest == "" || v.expires.Before(at)) {
				oldest, at = k, v.expires
			}
		}
		a.drop(oldest)
	}
	if len(a.tokens) >= maxTokens {
		expiries := make([]time.Time, 0, len(a.tokens))
		for _, v := range a.tokens {
			expiries = append(expiries, v.expires)
		}
		slices.SortFunc(expiries, time.Time.Compare)
		cut := expiries[len(expiries)/10]
		for k, v := range a.tokens {
			if !v.expires.After(cut) {
				a.drop(k)
			}
		}
	}
	a.drop(token) // issued again: counted once
	a.tokens[token] = t
	a.held[t.clientID]++
}

// clientOf returns the client a token was issued to, while it is valid.
func (s *Server) clientOf(token string) (string, bool) {
	if id, ok := s.opts.AccessTokens[token]; ok {
		return id, true
	}
	a := s.auth
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.tokens[token]
	if !ok {
		return "", false
	}
	if !s.clock.Now().Before(t.expires) {
		a.drop(token)
		return "", false
	}
	return t.clientID, true
}
