// Package graceful shuts an http.Server down without waiting on
// connections that never sent a request.
//
// net/http's Shutdown waits for every connection in StateNew until it is
// more than 5 s old (Go issue 22682), so one speculative preconnect from a
// browser, opened just before shutdown, makes a 5 s Shutdown fail with
// "context deadline exceeded" although no request was in flight.
package graceful

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Tracker records a server's connections that have not begun a request.
type Tracker struct {
	mu    sync.Mutex
	fresh map[net.Conn]struct{}
}

// Track installs a ConnState hook on hs (chaining any hook already set)
// and returns the tracker; call it before hs serves.
func Track(hs *http.Server) *Tracker {
	t := &Tracker{fresh: map[net.Conn]struct{}{}}
	prev := hs.ConnState
	hs.ConnState = func(c net.Conn, st http.ConnState) {
		t.mu.Lock()
		if st == http.StateNew {
			t.fresh[c] = struct{}{}
		} else {
			delete(t.fresh, c)
		}
		t.mu.Unlock()
		if prev != nil {
			prev(c, st)
		}
	}
	return t
}

// closeFresh closes every connection that has not begun a request.
func (t *Tracker) closeFresh() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.fresh {
		c.Close()
		delete(t.fresh, c)
	}
}

// Shutdown runs hs.Shutdown(ctx): the listeners close and requests in
// flight finish, until ctx ends. Until it returns, connections that have
// not begun a request are closed as they appear (they carry nothing to
// finish), so only real requests are waited for.
func (t *Tracker) Shutdown(ctx context.Context, hs *http.Server) error {
	done := make(chan error, 1)
	go func() { done <- hs.Shutdown(ctx) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		t.closeFresh()
		select {
		case err := <-done:
			return err
		case <-tick.C:
		}
	}
}
