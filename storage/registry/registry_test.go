package registry_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// postgresEnv names the variable holding a PostgreSQL DSN for the tests
// (.ci/run sets it); without it only SQLite runs.
const postgresEnv = "CORTEXBENCH_TEST_POSTGRES"

// forEachDB runs fn on a fresh SQLite registry and, when postgresEnv is set,
// on a fresh PostgreSQL one (its own schema, dropped afterwards).
func forEachDB(t *testing.T, fn func(t *testing.T, open func() *registry.Registry)) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "registry.db")
		fn(t, func() *registry.Registry { return open(t, registry.Config{SQLitePath: path}) })
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv(postgresEnv)
		if dsn == "" {
			t.Skipf("%s not set: PostgreSQL tests skipped (.ci/run starts a server and sets it)", postgresEnv)
		}
		schema := fmt.Sprintf("test_%d_%d", time.Now().UnixNano(), rand.Uint32())
		admin := open(t, registry.Config{PostgresDSN: dsn})
		if err := registry.ExecForTest(admin, "CREATE SCHEMA "+schema); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := registry.ExecForTest(admin, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
				t.Error(err)
			}
		})
		scoped := withSearchPath(dsn, schema)
		fn(t, func() *registry.Registry { return open(t, registry.Config{PostgresDSN: scoped}) })
	})
}

func withSearchPath(dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + "search_path=" + schema
	}
	return dsn + " search_path=" + schema
}

func open(t *testing.T, cfg registry.Config) *registry.Registry {
	t.Helper()
	r, err := registry.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func sampleScore(model, benchVersion string) scoring.Score {
	return scoring.Score{
		ModelHash: hash(model), ModelName: model,
		BenchmarkID: "algonauts2019-92.IT", BenchmarkVersion: benchVersion, ScorerVersion: scoring.ScorerVersion,
		Raw: 0.31, Ceiling: 0.62, Ceiled: 0.5, SE: 0.01, CILow: 0.29, CIHigh: 0.33,
		Layer: "L042.Conv", Selection: "held-out splits", Candidates: "all-but-output",
		Layers: []scoring.LayerScore{
			// No name: stored as scores were before issue 17 (no "name" key), read back as "".
			{Layer: "L001.Conv", Depth: 0, Raw: 0.1, Ceiled: 0.16, SE: 0.02},
			{Layer: "L042.Conv", Name: "/layer3/layer3.1/relu_1/Relu", Depth: 0.5, Raw: 0.31, Ceiled: 0.5, SE: 0.01},
		},
		Seed: math.MaxUint64 - 7, Elapsed: 1500 * time.Millisecond, PeakRSSBytes: 3 << 30,
		CreatedAt: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC),
	}
}

// same compares scores, NaN equal to NaN; times to the microsecond
// (PostgreSQL's resolution).
func same(t *testing.T, got, want scoring.Score) {
	t.Helper()
	eq := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	if !got.CreatedAt.Truncate(time.Microsecond).Equal(want.CreatedAt.Truncate(time.Microsecond)) {
		t.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	}
	g, w := got, want
	g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
	floats := [][2]float64{{g.Raw, w.Raw}, {g.Ceiling, w.Ceiling}, {g.Ceiled, w.Ceiled}, {g.SE, w.SE}, {g.CILow, w.CILow}, {g.CIHigh, w.CIHigh}}
	for i, f := range floats {
		if !eq(f[0], f[1]) {
			t.Errorf("float field %d = %v, want %v", i, f[0], f[1])
		}
	}
	if len(g.Layers) != len(w.Layers) {
		t.Fatalf("%d layers, want %d", len(g.Layers), len(w.Layers))
	}
	for i := range g.Layers {
		a, b := g.Layers[i], w.Layers[i]
		if a.Layer != b.Layer || a.Name != b.Name || a.Depth != b.Depth || !eq(a.Raw, b.Raw) || !eq(a.Ceiled, b.Ceiled) || !eq(a.SE, b.SE) {
			t.Errorf("layer %d = %+v, want %+v", i, a, b)
		}
	}
	g.Raw, g.Ceiling, g.Ceiled, g.SE, g.CILow, g.CIHigh, g.Layers = 0, 0, 0, 0, 0, 0, nil
	w.Raw, w.Ceiling, w.Ceiled, w.SE, w.CILow, w.CIHigh, w.Layers = 0, 0, 0, 0, 0, 0, nil
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("score\n got %+v\nwant %+v", g, w)
	}
}

func TestScores(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		ctx := t.Context()
		r := openDB()
		want := sampleScore("resnet50", "v1")
		stored, created, err := r.PutScore(ctx, want)
		if err != nil || !created {
			t.Fatalf("PutScore = %v, %v; want created", created, err)
		}
		same(t, stored, want)

		key := registry.ScoreKey{ModelHash: want.ModelHash, BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion}
		got, err := r.GetScore(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		same(t, got, want)

		// A second put of the same key is a no-op that returns the first.
		again := want
		again.Raw, again.Layer = 0.99, "L099.Other"
		stored, created, err = r.PutScore(ctx, again)
		if err != nil || created {
			t.Fatalf("second PutScore = %v, %v; want not created", created, err)
		}
		same(t, stored, want)

		// NaN ceiling (a benchmark without one) round-trips.
		nan := sampleScore("vit-b16", "v1")
		nan.Ceiling, nan.Ceiled = math.NaN(), math.NaN()
		nan.Layers[0].Ceiled = math.NaN()
		if _, _, err := r.PutScore(ctx, nan); err != nil {
			t.Fatal(err)
		}
		got, err = r.GetScore(ctx, registry.ScoreKey{ModelHash: nan.ModelHash, BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion})
		if err != nil {
			t.Fatal(err)
		}
		same(t, got, nan)

		// A new benchmark version is a new score.
		if _, created, err := r.PutScore(ctx, sampleScore("resnet50", "v2")); err != nil || !created {
			t.Fatalf("PutScore(v2) = %v, %v", created, err)
		}

		all, err := r.ListScores(ctx, registry.ScoreFilter{})
		if err != nil || len(all) != 3 {
			t.Fatalf("ListScores = %d, %v; want 3", len(all), err)
		}
		mine, err := r.ListScores(ctx, registry.ScoreFilter{ModelHash: hash("resnet50"), WithoutLayers: true})
		if err != nil || len(mine) != 2 {
			t.Fatalf("ListScores(model) = %d, %v; want 2", len(mine), err)
		}
		if mine[0].Layers != nil || mine[0].Raw != 0.31 {
			t.Errorf("WithoutLayers: %+v", mine[0])
		}
		v2, err := r.ListScores(ctx, registry.ScoreFilter{BenchmarkVersion: "v2", BenchmarkID: "algonauts2019-92.IT"})
		if err != nil || len(v2) != 1 || len(v2[0].Layers) != 2 {
			t.Errorf("ListScores(v2) = %+v, %v", v2, err)
		}

		if _, err := r.GetScore(ctx, registry.ScoreKey{ModelHash: hash("nope"), BenchmarkVersion: "v1", ScorerVersion: "1"}); !registry.IsNotFound(err) {
			t.Errorf("GetScore(missing) = %v, want ErrNotFound", err)
		}
	})
}

func TestPutScoreConcurrent(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		r := openDB()
		const writers = 8
		var wg sync.WaitGroup
		created := make([]bool, writers)
		for i := range writers {
			wg.Go(func() {
				s := sampleScore("convnext", "v1")
				s.Raw = float64(i)
				_, c, err := r.PutScore(t.Context(), s)
				if err != nil {
					t.Errorf("writer %d: %v", i, err)
				}
				created[i] = c
			})
		}
		wg.Wait()
		n := 0
		for _, c := range created {
			if c {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d writers created the score, want exactly 1", n)
		}
	})
}

func TestModelsAndBenchmarks(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		ctx := t.Context()
		r := openDB()
		m := registry.Model{
			Hash: hash("resnet50"), Name: "resnet50", Version: "1", Family: "resnet", TrainingData: "ImageNet-1k",
			Params: 25_557_032, Preprocessing: json.RawMessage(`{"resize":256,"crop":224,"mean":[0.485,0.456,0.406]}`), Owner: "alice",
		}
		if err := r.PutModel(ctx, m); err != nil {
			t.Fatal(err)
		}
		got, err := r.GetModel(ctx, m.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != m.Name || got.Params != m.Params || got.CreatedAt.IsZero() {
			t.Errorf("GetModel = %+v", got)
		}
		var spec map[string]any
		if err := json.Unmarshal(got.Preprocessing, &spec); err != nil || spec["crop"] != 224.0 {
			t.Errorf("preprocessing = %s, %v", got.Preprocessing, err)
		}
		// A second put updates metadata and keeps CreatedAt.
		m.Name = "ResNet-50"
		if err := r.PutModel(ctx, m); err != nil {
			t.Fatal(err)
		}
		again, _ := r.GetModel(ctx, m.Hash)
		if again.Name != "ResNet-50" || !again.CreatedAt.Equal(got.CreatedAt) {
			t.Errorf("after update GetModel = %+v (created %v before)", again, got.CreatedAt)
		}
		if err := r.PutModel(ctx, registry.Model{Hash: hash("vit"), Name: "vit-b16", Family: "vit"}); err != nil {
			t.Fatal(err)
		}
		all, err := r.ListModels(ctx, registry.ModelFilter{})
		if err != nil || len(all) != 2 || all[0].Name != "ResNet-50" {
			t.Errorf("ListModels = %+v, %v", all, err)
		}
		vits, err := r.ListModels(ctx, registry.ModelFilter{Family: "vit"})
		if err != nil || len(vits) != 1 {
			t.Errorf("ListModels(vit) = %+v, %v", vits, err)
		}
		if _, err := r.GetModel(ctx, hash("missing")); !registry.IsNotFound(err) {
			t.Errorf("GetModel(missing) = %v, want ErrNotFound", err)
		}

		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for i, b := range []registry.Benchmark{
			{ID: "algonauts2019-92.IT", Version: "aaa", Parent: "IT", Metadata: json.RawMessage(`{"species":"human"}`), CreatedAt: t0},
			{ID: "algonauts2019-92.IT", Version: "bbb", Parent: "IT", CreatedAt: t0.Add(time.Hour)},
			{ID: "private.V1", Version: "ccc", Parent: "V1", Private: true, CreatedAt: t0},
		} {
			if err := r.PutBenchmark(ctx, b); err != nil {
				t.Fatalf("PutBenchmark %d: %v", i, err)
			}
		}
		bs, err := r.ListBenchmarks(ctx, registry.BenchmarkFilter{})
		if err != nil || len(bs) != 3 {
			t.Fatalf("ListBenchmarks = %+v, %v", bs, err)
		}
		latest, err := r.ListBenchmarks(ctx, registry.BenchmarkFilter{LatestOnly: true, PublicOnly: true})
		if err != nil || len(latest) != 1 || latest[0].Version != "bbb" {
			t.Errorf("ListBenchmarks(latest, public) = %+v, %v", latest, err)
		}
		b, err := r.GetBenchmark(ctx, "algonauts2019-92.IT", "aaa")
		if err != nil || string(b.Metadata) != `{"species":"human"}` && !strings.Contains(string(b.Metadata), "human") {
			t.Errorf("GetBenchmark = %+v, %v", b, err)
		}
	})
}

func TestBadInput(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		ctx := t.Context()
		r := openDB()
		bad := sampleScore("m", "v1")
		bad.ModelHash = "not-a-hash"
		if _, _, err := r.PutScore(ctx, bad); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Errorf("PutScore(bad hash) = %v", err)
		}
		noVersion := sampleScore("m", "")
		if _, _, err := r.PutScore(ctx, noVersion); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Errorf("PutScore(no benchmark version) = %v", err)
		}
		if err := r.PutModel(ctx, registry.Model{Hash: hash("x"), Name: "x", Preprocessing: json.RawMessage(`{`)}); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Errorf("PutModel(bad JSON) = %v", err)
		}
		if err := r.PutBenchmark(ctx, registry.Benchmark{ID: "x"}); !errors.Is(err, registry.ErrInvalidArgument) {
			t.Errorf("PutBenchmark(no version) = %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := r.ListScores(cctx, registry.ScoreFilter{}); !errors.Is(err, context.Canceled) {
			t.Errorf("ListScores(cancelled) = %v, want context.Canceled", err)
		}
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		r := openDB()
		if _, _, err := r.PutScore(t.Context(), sampleScore("m", "v1")); err != nil {
			t.Fatal(err)
		}
		v, err := r.SchemaVersion(t.Context())
		if err != nil || v != registry.LatestSchemaVersion {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, registry.LatestSchemaVersion)
		}
		// Reopening applies nothing and keeps the data.
		r2 := openDB()
		if v2, err := r2.SchemaVersion(t.Context()); err != nil || v2 != v {
			t.Errorf("after reopen SchemaVersion = %d, %v", v2, err)
		}
		if all, err := r2.ListScores(t.Context(), registry.ScoreFilter{}); err != nil || len(all) != 1 {
			t.Errorf("after reopen ListScores = %d, %v", len(all), err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	if err := (registry.Config{}).WithDefaults().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (registry.Config{PostgresDSN: "x", SQLitePath: "y"}).Validate(); err == nil {
		t.Error("Validate accepted both databases")
	}
	if err := (registry.Config{SQLitePath: "a.db?mode=memory"}).Validate(); err == nil {
		t.Error("Validate accepted a SQLite path with a query")
	}
}

// Issue 14 finding 7: the SQLite registry and its WAL files are private
// (0600) after Open, even under a permissive umask, and an existing 0644
// database is tightened.
func TestSQLiteFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "registry.db")
	r := open(t, registry.Config{SQLitePath: path})
	if err := r.PutBenchmark(t.Context(), registry.Benchmark{ID: "b", Version: "b-v1"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if p != path && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
	old2 := filepath.Join(dir, "old.db")
	if err := os.WriteFile(old2, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	open(t, registry.Config{SQLitePath: old2})
	if st, _ := os.Stat(old2); st.Mode().Perm() != 0o600 {
		t.Errorf("existing database: mode %v, want 0600", st.Mode().Perm())
	}
}
