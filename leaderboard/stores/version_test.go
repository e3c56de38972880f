package stores_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// TestBoardScoresVersion: the board over a real (SQLite) registry has a
// scores version, which moves when a worker stores a score.
func TestBoardScoresVersion(t *testing.T) {
	ctx := t.Context()
	db, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var src leaderboard.Source = stores.Board{DB: db, Bench: fakeBench{}}
	v, ok := src.(leaderboard.ScoresVersioner)
	if !ok {
		t.Fatal("stores.Board is not a leaderboard.ScoresVersioner")
	}
	v0, err := v.ScoresVersion(ctx)
	if err != nil || v0 == "" {
		t.Fatalf("version %q, %v", v0, err)
	}
	h := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	if _, _, err := db.PutScore(ctx, scoring.Score{ModelHash: h, ModelName: "m", BenchmarkID: "pub", BenchmarkVersion: "v1",
		ScorerVersion: scoring.ScorerVersion, Raw: 0.3, Ceiling: 0.6, Ceiled: 0.5, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if v1, err := v.ScoresVersion(ctx); err != nil || v1 == v0 {
		t.Fatalf("version after a new score: %q (was %q), %v", v1, v0, err)
	}
}
