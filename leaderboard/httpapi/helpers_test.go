package httpapi

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
)

// newLoopbackServer serves srv on 127.0.0.1 until the test ends and returns
// its base URL.
func newLoopbackServer(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// srvIndex returns the index the server is serving.
func srvIndex(t *testing.T, srv *Server) *leaderboard.Index {
	t.Helper()
	st, err := srv.current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.ix
}
