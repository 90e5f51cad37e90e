package aepserver

import (
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxHeaderBytes bounds a request's line and headers together.
const maxHeaderBytes = 64 << 10

// shutdownGrace is how long Serve waits for requests in flight when it stops.
const shutdownGrace = 10 * time.Second

// Serve serves the API on ln until ctx is done, as a server a team shares: headers, bodies and
// idle connections are held to the timeouts, connections to the limits, and, when tlsConfig is
// set, connections are TLS (HTTP/1.1). When ctx is done it stops taking connections and waits a
// while for the requests in flight.
func (s *Server) Serve(ctx context.Context, ln net.Listener, tlsConfig *tls.Config) error {
	limit := newConnLimit(s.limits, s.logf)
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

// connLimit bounds the connections served at once, in all (Limits.Conns) and from each client
// address (Limits.ConnsPerAddr).
//
// A connection that waits on its client for a request (through its TLS handshake and its
// request's headers, or idle between requests) costs its client nothing to hold, so it keeps its
// place only until another connection needs it: otherwise anyone could take every place with
// connections that say nothing. A new connection past a limit closes the connection of that
// limit (of its address when its address is at its limit, else of all) that has waited longest
// on its client, an idle one first. When none is waiting, every connection being served, the new
// connection is held back, its reads waiting, until a place is free. An address may have as many
// connections held back as it may have served; past that, the one of them held back longest is
// closed unserved. The listener itself never waits on one address: only with as many
// connections held back as may be served in all does it stop taking new ones until one goes.
type connLimit struct {
	max, perAddr int
	byAddr       bool // perAddr is below max
	log          func(format string, args ...any)

	mu      sync.Mutex
	seq     uint64
	open    int                     // connections given a place, and not yet ended or closed to make room
	openOf  map[string]int          // of them, from each address
	waiting map[*limitedConn]uint64 // of them, those waiting on their client for a request, and since when (in order)
	held    []*limitedConn          // connections held back, oldest first
	heldOf  map[string]int          // of them, from each address
	changed chan struct{}           // closed and replaced when a connection held back goes
}

func newConnLimit(l Limits, logf func(format string, args ...any)) *connLimit {
	return &connLimit{max: l.Conns, perAddr: l.ConnsPerAddr, byAddr: l.ConnsPerAddr < l.Conns, log: logf,
		openOf: map[string]int{}, waiting: map[*limitedConn]uint64{}, heldOf: map[string]int{}, changed: make(chan struct{})}
}

// place is where a connection stands with the limit.
type place int

const (
	heldBack place = iota // waiting for a place
	placed                // has a place
	gone                  // ended, or closed by the limit
)

// limitedConn is a connection under the limit: until it has a place, its reads wait.
type limitedConn struct {
	net.Conn
	addr   string
	in     chan struct{} // closed when the connection is given a place
	closed chan struct{} // closed when the connection is closed
	once   sync.Once
	place  place // under connLimit.mu
	idle   bool  // under connLimit.mu: it has been served a request
}

func (c *limitedConn) Read(p []byte) (int, error) {
	select {
	case <-c.in:
	case <-c.closed:
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// CloseWrite lets the HTTP server half-close the connection after a last answer, as it does a
// TCP connection, so that the client reads the answer before the connection closes.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// limited is the limitedConn under a connection the HTTP server reports on.
func limited(c net.Conn) *limitedConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, _ := c.(*limitedConn)
	return lc
}

// addressOf is what the limit of each address counts a connection by: its client's IPv4
// address, or the /64 of its IPv6 address, which a single machine usually holds whole.
func addressOf(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		if a == nil {
			return ""
		}
		return a.String()
	}
	if ip4 := tcp.IP.To4(); ip4 != nil {
		return ip4.String()
	}
	return tcp.IP.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// track follows the HTTP server's connections (its ConnState hook).
func (l *connLimit) track(nc net.Conn, state http.ConnState) {
	c := limited(nc)
	if c == nil {
		return
	}
	l.mu.Lock()
	var victims []*limitedConn
	switch state {
	case http.StateIdle:
		if c.place == placed {
			c.idle = true
			l.seq++
			l.waiting[c] = l.seq
			victims = l.settleLocked()
		}
	case http.StateActive:
		delete(l.waiting, c)
	case http.StateClosed, http.StateHijacked:
		l.leaveLocked(c)
		victims = l.settleLocked()
	}
	l.mu.Unlock()
	for _, v := range victims {
		closeNow(v)
	}
}

// admit takes a new connection in: it gives it a place, closing (victim) the connection that has
// waited longest on its client where that makes room, or holds it back until a place is free,
// dropping its address's connection held back longest where the address has as many as it may.
// It reports false, and what to wait on, when as many connections are held back as may be
// served. The caller closes victim and dropped.
func (l *connLimit) admit(c *limitedConn) (ok bool, changed <-chan struct{}, victim, dropped *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.roomLocked(c.addr) {
		l.placeLocked(c)
		return true, nil, nil, nil
	}
	if victim = l.victimLocked(c.addr, false); victim != nil {
		l.leaveLocked(victim)
		l.placeLocked(c)
		return true, nil, victim, nil
	}
	if l.byAddr && l.heldOf[c.addr] >= l.perAddr {
		dropped = l.held[slices.IndexFunc(l.held, func(h *limitedConn) bool { return h.addr == c.addr })]
		l.leaveLocked(dropped)
	} else if len(l.held) >= l.max {
		return false, l.changed, nil, nil
	}
	l.held = append(l.held, c)
	l.heldOf[c.addr]++
	return true, nil, nil, dropped
}

// roomLocked reports whether a connection from addr has a place free.
func (l *connLimit) roomLocked(addr string) bool {
	return l.open < l.max && !l.fullLocked(addr)
}

// fullLocked reports whether addr has as many places as an address may.
func (l *connLimit) fullLocked(addr string) bool {
	return l.byAddr && l.openOf[addr] >= l.perAddr
}

// victimLocked is the connection to close to make room for one from addr: of those waiting on
// their client (of addr's when addr is at its limit), the one idle the longest, or, with none
// idle and unless idleOnly, the one that has waited longest for its first request; nil when there
// is none. An idle connection goes first: its client has had its answers, where one not yet read
// from may hold a request already sent.
func (l *connLimit) victimLocked(addr string, idleOnly bool) *limitedConn {
	own := l.fullLocked(addr)
	var victim *limitedConn
	var since uint64
	for c, at := range l.waiting {
		if own && c.addr != addr || idleOnly && !c.idle {
			continue
		}
		if victim == nil || c.idle && !victim.idle || c.idle == victim.idle && at < since {
			victim, since = c, at
		}
	}
	return victim
}

// placeLocked gives a connection its place: from now on it waits on its client for a request.
func (l *connLimit) placeLocked(c *limitedConn) {
	c.place = placed
	l.open++
	l.openOf[c.addr]++
	l.seq++
	l.waiting[c] = l.seq
	close(c.in)
}

// leaveLocked takes a connection out of the limit's count, once.
func (l *connLimit) leaveLocked(c *limitedConn) {
	switch c.place {
	case placed:
		l.open--
		decrement(l.openOf, c.addr)
		delete(l.waiting, c)
	case heldBack:
		l.unholdLocked(c)
	}
	c.place = gone
}

// unholdLocked takes a connection out of those held back.
func (l *connLimit) unholdLocked(c *limitedConn) {
	l.held = slices.DeleteFunc(l.held, func(h *limitedConn) bool { return h == c })
	decrement(l.heldOf, c.addr)
	close(l.changed)
	l.changed = make(chan struct{})
}

// settleLocked gives places to the connections held back, oldest first, where one is free or
// closing an idle connection makes one. It returns the connections to close. A connection held
// back does not close one waiting for its first request: that one came when there was room for
// it, or was held back too, and may hold a request already sent.
func (l *connLimit) settleLocked() (victims []*limitedConn) {
	for i := 0; i < len(l.held); {
		c := l.held[i]
		if !l.roomLocked(c.addr) {
			v := l.victimLocked(c.addr, true)
			if v == nil {
				i++
				continue
			}
			l.leaveLocked(v)
			victims = append(victims, v)
		}
		l.unholdLocked(c)
		l.placeLocked(c)
	}
	return victims
}

func decrement(m map[string]int, k string) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}

// closeNow closes a connection that has a place at once, under any TLS: without a closing
// alert, which could wait on a client that does not read.
func closeNow(c *limitedConn) {
	_ = c.Conn.Close()
}

type limitListener struct {
	net.Listener
	limit *connLimit
	done  chan struct{}
	once  sync.Once
}

// Accept takes the next connection in, giving it a place or holding it back; it waits only while
// as many connections are held back as may be served.
func (ln *limitListener) Accept() (net.Conn, error) {
	nc, err := ln.Listener.Accept()
	if err != nil {
		return nil, err
	}
	c := &limitedConn{Conn: nc, addr: addressOf(nc.RemoteAddr()), in: make(chan struct{}), closed: make(chan struct{})}
	for {
		ok, changed, victim, dropped := ln.limit.admit(c)
		if victim != nil {
			closeNow(victim)
		}
		if dropped != nil {
			_ = dropped.Close()
			ln.limit.log("connection from %s closed unserved: %d connections from its address were served and %d more "+
				"waited for a place, the most one address may have (the limit of connections per address); raise the limit "+
				"where a proxy, or a team behind one address, makes the connections", c.addr, ln.limit.perAddr, ln.limit.perAddr)
		}
		if ok {
			return c, nil
		}
		select {
		case <-changed:
		case <-ln.done:
			_ = nc.Close()
			return nil, net.ErrClosed
		}
	}
}

func (ln *limitListener) Close() error {
	ln.once.Do(func() { close(ln.done) })
	return ln.Listener.Close()
}
