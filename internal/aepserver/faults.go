package aepserver

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/aepkit/terraform-provider-experienceplatform/internal/clock"
)

// Fault is a failure the server injects into a request instead of (or before) serving it.
type Fault struct {
	// Status, when set, is answered at once, with RetryAfter as the Retry-After header and
	// RetryAfterMs in a TooManyRequests body.
	Status       int
	RetryAfter   string
	RetryAfterMs int64
	// Reset closes the connection without an answer.
	Reset bool
	// Delay holds the request before it is served (or answered with Status).
	Delay time.Duration
	// Truncate serves the request but cuts its body off halfway.
	Truncate bool
	// Lost serves the request, then drops the connection before any of the answer is sent: the
	// server acted, and the client cannot know it.
	Lost bool
}

// apply carries out the fault and reports whether the request has been answered.
func (f *Fault) apply(w http.ResponseWriter, r *http.Request, c clock.Clock) bool {
	if f.Delay > 0 {
		if clock.Sleep(r.Context(), c, f.Delay) != nil {
			return true
		}
	}
	switch {
	case f.Reset:
		resetConnection(w)
		return true
	case f.Status != 0:
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		if f.Status == http.StatusTooManyRequests {
			writeJSON(w, f.Status, map[string]string{"message": "Too many requests", "retryAfterMs": strconv.FormatInt(f.RetryAfterMs, 10),
				"statusCode": "429"})
		} else {
			writeJSON(w, f.Status, map[string]any{"title": http.StatusText(f.Status), "status": f.Status})
		}
		return true
	}
	return false // served, and cut off by ServeHTTP when f.Truncate
}

func (f *Fault) describe() string {
	switch {
	case f.Reset:
		return "reset"
	case f.Status != 0:
		return fmt.Sprintf("%d (injected)", f.Status)
	case f.Truncate:
		return "truncated"
	case f.Lost:
		return "answer lost"
	}
	return fmt.Sprintf("delayed %s", f.Delay)
}

// resetConnection drops the client's connection: the client sees a reset or an unexpected EOF.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // an RST rather than a FIN
	}
	_ = conn.Close()
}
