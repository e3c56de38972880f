package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/scoring"
)

// fakeComparer answers every benchmark with made-up statistics: the pair
// of models i < j differs by 0.01·(j−i), significantly (q = 0.001) when
// j − i ≥ 2 or i = 0, and not (q = 0.3) otherwise. It refuses unsupported as
// an encoding benchmark and fails on broken with an internal error.
type fakeComparer struct {
	unsupported, broken string

	mu    sync.Mutex
	calls int
}

func (f *fakeComparer) Compare(_ context.Context, id string, hashes []string) (*leaderboard.Comparison, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	switch id {
	case f.unsupported:
		return nil, leaderboard.Errorf(leaderboard.EUNSUPPORTED, "%s is an encoding benchmark: comparisons are RSA-only for now", id)
	case f.broken:
		return nil, errors.New("object store: connection refused to 10.0.0.7")
	}
	c := &leaderboard.Comparison{BenchmarkID: id, Method: "rsa (spearman)", Resamples: 100, Seed: 1, Models: hashes}
	for i := range hashes {
		c.Scores = append(c.Scores, 0.5-0.01*float64(i))
		for j := i + 1; j < len(hashes); j++ {
			d := 0.01 * float64(j-i)
			p := leaderboard.ModelPair{A: hashes[i], B: hashes[j], Diff: d, Lower: d - 0.005, Upper: d + 0.005, P: 0.2, Q: 0.3}
			if j-i >= 2 || i == 0 {
				p.P, p.Q = 0.0005, 0.001
			}
			c.Pairs = append(c.Pairs, p)
		}
	}
	return c, nil
}

func (f *fakeComparer) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

type comparisonDoc struct {
	BenchmarkID string `json:"benchmark_id"`
	Rule        string `json:"rule"`
	Level       float64
	Models      []struct {
		Model struct{ Hash, Name string }
		Score *float64
	}
	Skipped []json.RawMessage
	Pairs   []struct {
		A, B        string
		Diff        float64
		CI          [2]float64
		P, Q        float64
		Significant bool
	}
}

func TestComparisons(t *testing.T) {
	src := lbtest.Synthetic(6, 4, 0, 3)
	bs, _ := src.Benchmarks(context.Background())
	cmp := &fakeComparer{unsupported: bs[1].ID, broken: bs[2].ID}
	srv, err := NewServer(Config{Comparer: cmp}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	path := "/api/v1/benchmarks/" + bs[0].ID + "/comparisons"
	res, body := get(t, h, path)
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
		t.Fatalf("GET %s: %d, ETag %q\n%s", path, res.StatusCode, res.Header.Get("ETag"), body)
	}
	var doc comparisonDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	ranking := srvIndex(t, srv).RankBenchmark(bs[0].ID)
	if len(doc.Models) != len(ranking) || len(doc.Pairs) != len(ranking)*(len(ranking)-1)/2 {
		t.Fatalf("%d models and %d pairs, want the %d ranked models and every pair", len(doc.Models), len(doc.Pairs), len(ranking))
	}
	for i, r := range ranking {
		if doc.Models[i].Model.Hash != r.Model.Hash || doc.Models[i].Model.Name != r.Model.Name {
			t.Errorf("models[%d] = %+v, want %s in rank order", i, doc.Models[i].Model, r.Model.Name)
		}
	}
	for _, p := range doc.Pairs {
		if p.Significant != (p.Q < leaderboard.FDRLevel) {
			t.Errorf("pair %s/%s: q %g, significant %v", p.A[:6], p.B[:6], p.Q, p.Significant)
		}
	}
	if doc.BenchmarkID != bs[0].ID || doc.Rule != leaderboard.ComparisonRule || doc.Level != leaderboard.FDRLevel || doc.Skipped == nil {
		t.Errorf("document header: %s %q level %g skipped %v", doc.BenchmarkID, doc.Rule, doc.Level, doc.Skipped)
	}

	// Cached in the generation, and across generations while the scores stay.
	get(t, h, path)
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, again := get(t, h, path); string(again) != string(body) || cmp.count() != 1 {
		t.Errorf("after a reload with the same scores: %d comparer calls, want 1; same body %v", cmp.count(), string(again) == string(body))
	}
	// A new score on the benchmark makes a new comparison.
	sc, _ := srvIndex(t, srv).Score(ranking[0].Model.Hash, bs[0].ID)
	sc.CreatedAt = sc.CreatedAt.Add(time.Hour)
	sc.Raw, sc.Ceiled = sc.Raw/2, sc.Ceiled/2
	src.AddScores(sc)
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	get(t, h, path)
	if cmp.count() != 2 {
		t.Errorf("after a new score: %d comparer calls, want 2", cmp.count())
	}

	for _, c := range []struct {
		path   string
		code   leaderboard.Code
		status int
	}{
		{"/api/v1/benchmarks/nosuch.IT/comparisons", leaderboard.ENOTFOUND, http.StatusNotFound},
		{"/api/v1/benchmarks/bad%20id/comparisons", leaderboard.EINVALID, http.StatusBadRequest},
		{path + "?seed=2", leaderboard.EINVALID, http.StatusBadRequest},
		{"/api/v1/benchmarks/" + bs[1].ID + "/comparisons", leaderboard.EUNSUPPORTED, http.StatusUnprocessableEntity},
		{"/api/v1/benchmarks/" + bs[2].ID + "/comparisons", leaderboard.EINTERNAL, http.StatusInternalServerError},
	} {
		res, body := get(t, h, c.path)
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(body, &e)
		if res.StatusCode != c.status || e.Error.Code != string(c.code) || e.Error.Message == "" {
			t.Errorf("GET %s: %d %s, want %d %s", c.path, res.StatusCode, body, c.status, c.code)
		}
		if c.code == leaderboard.EINTERNAL && e.Error.Message != "internal error" {
			t.Errorf("internal failure leaked: %s", body)
		}
	}
}

func TestComparisonsWithoutComparer(t *testing.T) {
	src := lbtest.Synthetic(3, 2, 0, 1)
	bs, _ := src.Benchmarks(context.Background())
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, body := get(t, srv.Handler(), "/api/v1/benchmarks/"+bs[0].ID+"/comparisons"); res.StatusCode != http.StatusNotFound {
		t.Errorf("no comparer: %d %s, want 404", res.StatusCode, body)
	}
}

// A single ranked model: the comparer is asked and answers no pairs; the
// document still has empty arrays, not nulls.
func TestComparisonsOneModel(t *testing.T) {
	b := leaderboard.BenchmarkInfo{ID: "solo.IT", Version: "v1", Region: "IT", Ceiling: 0.8}
	m := leaderboard.ModelInfo{Hash: lbtest.Hash("solo"), Name: "solo"}
	src := leaderboard.NewMemSource([]leaderboard.ModelInfo{m}, []leaderboard.BenchmarkInfo{b}, []scoring.Score{{
		ModelHash: m.Hash, BenchmarkID: b.ID, BenchmarkVersion: "v1", ScorerVersion: scoring.ScorerVersion, Raw: 0.4, Ceiling: 0.8, Ceiled: 0.5}})
	srv, err := NewServer(Config{Comparer: &fakeComparer{}}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, srv.Handler(), "/api/v1/benchmarks/solo.IT/comparisons")
	var doc map[string]any
	json.Unmarshal(body, &doc)
	if res.StatusCode != http.StatusOK || doc["pairs"] == nil || len(doc["pairs"].([]any)) != 0 {
		t.Errorf("one model: %d %s", res.StatusCode, body)
	}
}
