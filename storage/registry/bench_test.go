package registry_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/storage/registry"
)

// BenchmarkListScores lists every score of a leaderboard-sized registry
// (1000 models × 20 benchmarks) on SQLite, with and without the per-layer
// profiles.
func BenchmarkListScores(b *testing.B) {
	ctx := b.Context()
	r, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(b.TempDir(), "r.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for m := range 1000 {
		for bm := range 20 {
			s := sampleScore(fmt.Sprintf("model-%d", m), fmt.Sprintf("bench-v%d", bm))
			s.BenchmarkID = fmt.Sprintf("bench-%d", bm)
			if _, _, err := r.PutScore(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, without := range []bool{true, false} {
		b.Run(fmt.Sprintf("withoutLayers=%v", without), func(b *testing.B) {
			for b.Loop() {
				all, err := r.ListScores(ctx, registry.ScoreFilter{WithoutLayers: without})
				if err != nil || len(all) != 20000 {
					b.Fatalf("%d scores, %v", len(all), err)
				}
			}
		})
	}
}
