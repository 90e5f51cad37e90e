package aepserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxHeaderBytes bounds a request's line and headers together.
const maxHeaderBytes = 64 << 10

// shutdownGrace is how long Serve waits for requests in flight when it stops.
const shutdownGrace = 10 * time.Second

// Serve serves the API on ln until ctx is done, as a server a team shares: headers, bodies and
// idle connections are held to the timeouts, connections to the limit, and, when tlsConfig is
// set, connections are TLS (HTTP/1.1). When ctx is done it stops taking connections and waits a
// while for the requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	limit := &connLimit{max: s.limits.Conns, idle: map[net.Conn]uint64{}, changed: make(chan struct{})}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.timeouts.Header,
		IdleTimeout:       s.timeouts.Idle,
		MaxHeaderBytes:    maxHeaderBytes,
		ConnState:         limit.track,
		ErrorLog:          log.New(serverLog{s}, "", 0),
		// HTTP/1.1 only: one request at a time per connection, under the limits above.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	ln = &limitListener{Listener: ln, limit: limit, done: make(chan struct{})}
	if tlsConfig != nil {
		cfg := tlsConfig.Clone()
		cfg.NextProtos = []string{"http/1.1"}
		if cfg.MinVersion == 0 {
			cfg.MinVersion = tls.VersionTLS12
		}
		ln = tls.NewListener(ln, cfg)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// serverLog takes the HTTP server's own messages (TLS handshakes that failed, and the like)
// into the server's log, quoted like everything else a client may have a hand in.
type serverLog struct{ s *Server }

func (l serverLog) Write(p []byte) (int, error) {
	l.s.logf("http server: %q", strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// connLimit bounds the connections served at once. When a new connection comes past the limit,
// the connection that has waited longest for its next request is closed to make room; when
// none is waiting, the new connection waits for one to end.
type connLimit struct {
	max int

	mu      sync.Mutex
	open    int
	idle    map[net.Conn]uint64 // connections between requests, and when they became idle (in order)
	seq     uint64
	changed chan struct{} // closed and replaced when a connection ends or becomes idle
}

// track follows the HTTP server's connections (its ConnState hook).
func (l *connLimit) track(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateIdle:
		l.seq++
		l.idle[c] = l.seq
	case http.StateActive:
		delete(l.idle, c)
		return
	case http.StateClosed, http.StateHijacked:
		delete(l.idle, c)
		l.open--
	default:
		return
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// admit makes room for one more connection: it reports whether there is room, and otherwise
// closes the longest idle connection, if any, and returns what to wait on.
func (l *connLimit) admit() (bool, <-chan struct{}) {
	l.mu.Lock()
	if l.open < l.max {
		l.open++
		l.mu.Unlock()
		return true, nil
	}
	var victim net.Conn
	var since uint64
	for c, at := range l.idle {
		if victim == nil || at < since {
			victim, since = c, at
		}
	}
	delete(l.idle, victim)
	changed := l.changed
	l.mu.Unlock()
	if victim != nil {
		closeNow(victim)
	}
	return false, changed
}

// closeNow closes a connection at once: a TLS connection without its closing alert, which could
// wait on a client that does not read.
func closeNow(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	_ = c.Close()
}

type limitListener struct {
	net.Listener
	limit *connLimit
	done  chan struct{}
	once  sync.Once
}

func (ln *limitListener) Accept() (net.Conn, error) {
	c, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	for {
		ok, changed := ln.limit.admit()
		if ok {
			return c, nil
		}
		select {
		case <-changed:
		case <-ln.done:
			_ = c.Close()
			return nil, net.ErrClosed
		}
	}
}

func (ln *limitListener) Close() error {
	ln.once.Do(func() { close(ln.done) })
	return ln.Listener.Close()
}
