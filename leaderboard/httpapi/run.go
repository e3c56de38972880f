package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/cortexbench/cortexbench/internal/graceful"
)

// Serve answers on ln, at most cfg.MaxConns connections at once and with
// the header, idle and body timeouts of the Config, with s's handler at "/" and the extra handlers at
// their patterns (the submissions API), until ctx ends; then it shuts
// down gracefully (5 s for requests in flight; connections that never
// sent a request, such as a browser's preconnects, are closed at once). Every refresh it calls Refresh, so scores
// committed by workers appear (and nothing is reloaded while nothing
// changed): the leaderboard is precomputed per generation, not per
// request. A failed refresh is written to errs.
func (s *Server) Serve(ctx context.Context, ln net.Listener, extra map[string]http.Handler, refresh time.Duration, errs io.Writer) error {
	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	for pat, h := range extra {
		mux.Handle(pat, h)
	}
	hs := &http.Server{
		Handler:           SecurityHeaders(bodyDeadline(mux, s.cfg.BodyReadTimeout, s.cfg.MinBodyRate)),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
	}
	shut := graceful.Track(hs)
	ln = netutil.LimitListener(ln, s.cfg.MaxConns)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	go func() {
		t := time.NewTicker(refresh)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
					fmt.Fprintf(errs, "leaderboard refresh: %v\n", err)
				}
			}
		}
	}()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shut.Shutdown(sctx, hs); err != nil {
			return fmt.Errorf("shut down the HTTP server: requests still in flight after 5 s were cut: %w", err)
		}
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// CheckLoopback refuses an address that is not on the loopback interface
// (the embedded default serves there only).
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New("the embedded default serves on loopback only (127.0.0.1)")
	}
	return nil
}

// bodyDeadline gives every request with a body a read deadline of grace
// plus the bytes received so far at rate bytes per second, extended as
// bytes arrive and cleared once the body is read (so a handler that works
// long after reading its upload is not cut). A request without a body gets
// none: between requests the server's IdleTimeout applies.
func bodyDeadline(h http.Handler, grace time.Duration, rate int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			h.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		b := &deadlineBody{ReadCloser: r.Body, rc: rc, start: time.Now(), grace: grace, rate: rate}
		if err := rc.SetReadDeadline(b.deadline()); err == nil {
			r.Body = b
		}
		h.ServeHTTP(w, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64
	n     int64
	done  bool
}

func (b *deadlineBody) deadline() time.Time {
	return b.start.Add(b.grace + time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)))
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.done {
		return n, err
	}
	b.n += int64(n)
	switch {
	case errors.Is(err, io.EOF): // the whole body is in
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	case err != nil: // timed out or failed: keep the deadline, so discarding the rest fails fast too
		b.done = true
	case n > 0:
		_ = b.rc.SetReadDeadline(b.deadline())
	}
	return n, err
}
