package aepserver

import (
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/aepwire"
)

// The records of failed token requests are bounded: ids whose failures are old are forgotten,
// and past the bound the id that failed longest ago goes, never the one being guessed at.
func TestFailureRecordsAreBounded(t *testing.T) {
	a := newAuth(1)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	guessed := sha256.Sum256([]byte("guessed"))
	for range freeFailures + 10 {
		a.fail(guessed, now) // locked out for the longest
	}
	for i := range 3 * maxFailureRecords {
		a.fail(sha256.Sum256([]byte("sprayed-"+strconv.Itoa(i))), now)
		now = now.Add(time.Millisecond)
	}
	if n := len(a.failures); n > maxFailureRecords {
		t.Errorf("%d records, more than %d", n, maxFailureRecords)
	}
	if _, locked := a.locked(guessed, now); !locked {
		t.Error("the id being guessed at was forgotten")
	}
	// Once they are old, the next pass forgets them all.
	now = now.Add(forgetFailures + maxLockout)
	for i := range maxFailureRecords {
		a.fail(sha256.Sum256([]byte("later-"+strconv.Itoa(i))), now)
	}
	if n, f := len(a.failures), a.failures[guessed]; n > maxFailureRecords || f != nil {
		t.Errorf("%d records, the old guessed id among them: %v", n, f != nil)
	}
}

// What a batch holds is counted while it loads, and forgotten when it ends or is left alone.
func TestUploadsCountTheirBatches(t *testing.T) {
	u := newUploads()
	limits := Limits{Batch: 100, BatchFiles: 2}.withDefaults()
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	up, err := u.start(batchKey{"prod", "b"}, "one.json", 0, -1, limits, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := up.charge(60); err != nil {
		t.Fatal(err)
	}
	up.end(true)
	if _, err := u.start(batchKey{"prod", "b"}, "two.json", 0, 41, limits, now); err == nil {
		t.Error("a declared size past the batch's limit was taken")
	}
	if up, err := u.start(batchKey{"prod", "b"}, "one.json", 0, 100, limits, now); err != nil {
		t.Errorf("replacing a file with one of the batch's whole size: %v", err)
	} else {
		up.end(false)
	}
	up, _ = u.start(batchKey{"prod", "b"}, "two.json", 0, -1, limits, now)
	if _, err := u.start(batchKey{"prod", "b"}, "three.json", 0, -1, limits, now); err == nil {
		t.Error("a third file was taken with two stored or on their way")
	}
	up.end(false)
	if _, err := u.start(batchKey{"prod", "b"}, "three.json", 0, -1, limits, now); err != nil {
		t.Errorf("after a failed upload: %v", err)
	}
	// A failed upload into an unknown batch leaves nothing behind.
	up, _ = u.start(batchKey{"prod", "nope"}, "x.json", 0, -1, limits, now)
	up.end(false)
	if _, ok := u.batches[batchKey{"prod", "nope"}]; ok {
		t.Error("an unknown batch is remembered")
	}
	u.forget(batchKey{"prod", "b"})
	up, _ = u.start(batchKey{"prod", "c"}, "x.json", 0, -1, limits, now.Add(2*time.Hour))
	up.end(true)
	if _, err := u.start(batchKey{"prod", "d"}, "x.json", 0, -1, limits, now.Add(forgetBatchAfter+3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, ok := u.batches[batchKey{"prod", "c"}]; ok || len(u.batches) != 1 {
		t.Errorf("batches %v, want only the one being uploaded to now", u.batches)
	}
}

// A 429 of the platform's (a sandbox's quota of waiting jobs) says when to try again, as the
// client's retries read it; one that names its own wait (a lockout's) keeps it.
func TestTooManyRequestsSayWhenToTryAgain(t *testing.T) {
	s := New(nil, Options{})
	r := httptest.NewRequest("POST", profilePath+"/export/jobs", nil)
	w := httptest.NewRecorder()
	s.writeError(w, r, aepwire.Errorf(http.StatusTooManyRequests, "UPS-1429", "Too many requests", "wait"))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != quotaRetryAfter {
		t.Errorf("a quota's 429: %d, Retry-After %q; want %s", w.Code, w.Header().Get("Retry-After"), quotaRetryAfter)
	}
	w = httptest.NewRecorder()
	w.Header().Set("Retry-After", "7")
	s.writeError(w, r, aepwire.Errorf(http.StatusTooManyRequests, "X", "Too many requests", "wait"))
	if w.Header().Get("Retry-After") != "7" {
		t.Errorf("a 429 that named its wait: Retry-After %q, want 7", w.Header().Get("Retry-After"))
	}
}

// No client's token requests drop another client's tokens: past its share of maxTokens, a
// client's own token closest to expiring goes, however soon another's expires.
func TestTokensOfOneClientDoNotDropAnothers(t *testing.T) {
	a := newAuth(2)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a.issue("prod", issuedToken{clientID: "prod-team", expires: now.Add(time.Minute)}, now)
	for i := range maxTokens {
		a.issue("dev-"+strconv.Itoa(i), issuedToken{clientID: "dev-team", expires: now.Add(time.Hour + time.Duration(i)*time.Second)}, now)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, prod := a.tokens["prod"]
	_, first := a.tokens["dev-0"]
	_, last := a.tokens["dev-"+strconv.Itoa(maxTokens-1)]
	if !prod || first || !last || a.held["dev-team"] != maxTokens/2 || len(a.tokens) != maxTokens/2+1 {
		t.Errorf("prod-team's token kept %v; dev-team's first %v, last %v, %d held; %d in all; want prod's kept and dev-team's "+
			"newest %d", prod, first, last, a.held["dev-team"], len(a.tokens), maxTokens/2)
	}
}
