package httpapi

import (
	"io"
	"net/http"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
)

// Issue 14 finding 7: the page, the API, an error and a route mounted
// beside the API (the submissions API) all carry the security headers.
func TestSecurityHeaders(t *testing.T) {
	srv, err := NewServer(Config{}, lbtest.Synthetic(4, 2, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := newLoopbackServer(t, srv)
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) })
	addr, _ := serveLoopback(t, Config{}, map[string]http.Handler{"GET /api/v1/submissions": extra})
	want := map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	}
	for _, u := range []string{base + "/", base + "/static/app.js", base + "/api/v1/leaderboard", base + "/api/v1/leaderboard.csv",
		base + "/api/v1/models/nope", "http://" + addr + "/", "http://" + addr + "/api/v1/submissions"} {
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s (%d): %s %q, want %q", u, res.StatusCode, k, got, v)
			}
		}
	}
}
