package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/scoring"
)

// downSource fails as a registry whose database refuses connections
// while down is set.
type downSource struct {
	leaderboard.Source
	down atomic.Bool
}

func (s *downSource) Scores(ctx context.Context) ([]scoring.Score, error) {
	if s.down.Load() {
		dial := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
		return nil, fmt.Errorf("registry: list scores: failed to connect to `user=cortexbench`: %w", dial)
	}
	return s.Source.Scores(ctx)
}

// The leaderboard during a database outage (issue 15, finding 6): before
// any copy was loaded it answers 503 with Retry-After (not 500); once a
// copy is loaded, a failed refresh keeps it served with 200. The outage
// with a real PostgreSQL is in cmd/cortexbench (TestPostgresOutageAnswered503).
func TestDatabaseOutage(t *testing.T) {
	src := &downSource{Source: lbtest.Synthetic(3, 2, 0, 1)}
	src.down.Store(true)
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	res, body := get(t, h, "/api/v1/leaderboard")
	var doc errorDoc
	json.Unmarshal(body, &doc)
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "10" || doc.Error.Code != "unavailable" || doc.Error.Message != apierr.MsgUnavailable {
		t.Fatalf("no copy yet, database down: %d Retry-After %q %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	src.down.Store(false)
	if err := srv.Invalidate(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, good := get(t, h, "/api/v1/leaderboard")
	src.down.Store(true)
	if err := srv.Invalidate(t.Context()); apierr.CodeOf(err) != apierr.EUNAVAILABLE {
		t.Fatalf("refresh with the database down: %v", err)
	}
	for _, p := range []string{"/api/v1/leaderboard", "/api/v1/leaderboard.csv", "/api/v1/models", "/"} {
		if res, _ := get(t, h, p); res.StatusCode != 200 {
			t.Errorf("GET %s with the database down after a good load: %d", p, res.StatusCode)
		}
	}
	if _, b := get(t, h, "/api/v1/leaderboard"); string(b) != string(good) {
		t.Errorf("the kept copy changed")
	}
}
