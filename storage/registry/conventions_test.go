package registry_test

import (
	"testing"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// TestScoreConventions: a score's conventions survive a round trip through
// PutScore and through PutScoreTx (the job queue's path; it stores the
// typed selection too), a zero value is stored as "" and reads back zero,
// and a database made before migration 7 keeps its scores, read with zero
// conventions.
func TestScoreConventions(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		ctx := t.Context()
		restore := registry.LimitMigrationsForTest(6)
		old := openDB()
		restore()
		q := "INSERT INTO scores (model_hash, model_name, benchmark_id, benchmark_version, scorer_version, raw, ceiling, ceiled, " +
			"layer, selection, candidates, layers, seed, selection_data, elapsed_nanos, peak_rss_bytes, created_at) VALUES ('" +
			hash("before") + "', 'before', 'algonauts2019-92.IT', 'v1', '" + scoring.ScorerVersion + "', 0.25, 0.5, 0.5, " +
			"'L001.Conv', 'held-out splits', 'all-but-output', '[]', 1, '', 0, 0, '2026-01-02 03:04:05')"
		if err := registry.ExecForTest(old, q); err != nil {
			t.Fatal(err)
		}
		old.Close()

		r := openDB()
		if v, err := r.SchemaVersion(ctx); err != nil || v != registry.LatestSchemaVersion || v < 7 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		key := func(s scoring.Score) registry.ScoreKey {
			return registry.ScoreKey{ModelHash: s.ModelHash, BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion}
		}
		got, err := r.GetScore(ctx, registry.ScoreKey{ModelHash: hash("before"), BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion})
		if err != nil {
			t.Fatal(err)
		}
		if !got.Conventions.IsZero() || got.Raw != 0.25 || got.Ceiled != 0.5 || got.Layer != "L001.Conv" {
			t.Errorf("a score stored before migration 7 reads %+v, want its values and no conventions", got)
		}

		conv := scoring.Conventions{Ceiling: "leave-one-subject-out", Transform: "squared-clipped", Features: "zscore-reliable",
			Reduction: "pca:100@imagenet-val-1000", Degrees: 8, FieldOfView: 8, Region: "IT", Declared: true}
		want := sampleScore("with", "v1")
		want.Conventions = conv
		if _, _, err := r.PutScore(ctx, want); err != nil {
			t.Fatal(err)
		}
		if got, err = r.GetScore(ctx, key(want)); err != nil {
			t.Fatal(err)
		}
		if got.Conventions != conv {
			t.Errorf("conventions %+v, want %+v", got.Conventions, conv)
		}
		same(t, got, want)

		// The job queue's transactional path.
		db, err := r.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		viaTx := sampleScore("tx", "v1")
		viaTx.Conventions = scoring.Conventions{Ceiling: "halves", Transform: "ratio"}
		viaTx.SelectionData = scoring.Selection{Method: scoring.HeldOutStimuli, Splits: 2, Seed: 7, PerSplit: []float64{0.25, 0.5}, Chosen: []string{"L042.Conv", "L042.Conv"}}
		if _, err := r.PutScoreTx(ctx, sqlTxExec{tx}, viaTx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, err = r.GetScore(ctx, key(viaTx)); err != nil {
			t.Fatal(err)
		}
		if got.Conventions != viaTx.Conventions || got.SelectionData.Method != scoring.HeldOutStimuli || len(got.SelectionData.Chosen) != 2 {
			t.Errorf("via PutScoreTx: conventions %+v, selection %+v", got.Conventions, got.SelectionData)
		}
		same(t, got, viaTx)

		// The zero value is stored as "" (as rows before migration 7).
		zero := sampleScore("zero", "v1")
		if _, _, err := r.PutScore(ctx, zero); err != nil {
			t.Fatal(err)
		}
		if err := registry.ExecForTest(r, "UPDATE scores SET conventions = 'x' WHERE model_name = 'zero' AND conventions = ''"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GetScore(ctx, key(zero)); err == nil {
			t.Error("the zero conventions were not stored as '' (the update found no empty column), or a corrupt column decoded")
		}
	})
}
