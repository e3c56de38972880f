package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Serve answers on ln with s's handler at "/" and the extra handlers at
// their patterns (the submissions API), until ctx ends; then it shuts
// down gracefully (5 s). Every refresh it calls Invalidate, so scores
// committed by workers appear: the leaderboard is precomputed per
// generation, not per request. A failed refresh is written to errs.
func (s *Server) Serve(ctx context.Context, ln net.Listener, extra map[string]http.Handler, refresh time.Duration, errs io.Writer) error {
	mux := http.NewServeMux()
	mux.Handle("/", s.Handler())
	for pat, h := range extra {
		mux.Handle(pat, h)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
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
				if err := s.Invalidate(ctx); err != nil && ctx.Err() == nil {
					fmt.Fprintf(errs, "leaderboard refresh: %v\n", err)
				}
			}
		}
	}()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
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
