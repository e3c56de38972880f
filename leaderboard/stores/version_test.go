package stores_test

import (
	"context"
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

// TestBoardScoresGeneration: the generation read from a real (SQLite)
// registry's scores version grows by one with a new score and with a
// withdrawal, and never with a score stored again (issue 15, finding 8).
func TestBoardScoresGeneration(t *testing.T) {
	ctx := t.Context()
	db, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := stores.Board{DB: db, Bench: fakeBench{}}
	gen := func() int64 {
		t.Helper()
		g, err := b.ScoresGeneration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := gen(); g != 0 {
		t.Fatalf("empty registry: generation %d, want 0", g)
	}
	h := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	s := scoring.Score{ModelHash: h, ModelName: "m", BenchmarkID: "pub", BenchmarkVersion: "v1",
		ScorerVersion: scoring.ScorerVersion, Raw: 0.3, Ceiling: 0.6, Ceiled: 0.5, CreatedAt: time.Now()}
	for i := 0; i < 2; i++ { // the second put keeps the first score
		if _, _, err := db.PutScore(ctx, s); err != nil {
			t.Fatal(err)
		}
		if g := gen(); g != 1 {
			t.Fatalf("after put %d of one score: generation %d, want 1", i+1, g)
		}
	}
	if err := db.WithdrawModel(ctx, h, "admin", "test"); err != nil {
		t.Fatal(err)
	}
	if g := gen(); g != 2 {
		t.Fatalf("after a withdrawal: generation %d, want 2", g)
	}
	if _, err := (stores.Board{DB: plainRegistry{}}).ScoresGeneration(ctx); err == nil {
		t.Error("no error from a registry without a scores version")
	}
}

// plainRegistry lists nothing and has no scores version.
type plainRegistry struct{}

func (plainRegistry) ListScores(context.Context, registry.ScoreFilter) ([]scoring.Score, error) {
	return nil, nil
}
func (plainRegistry) ListModels(context.Context, registry.ModelFilter) ([]registry.Model, error) {
	return nil, nil
}
func (plainRegistry) WithdrawnModels(context.Context) (map[string]bool, error) { return nil, nil }
