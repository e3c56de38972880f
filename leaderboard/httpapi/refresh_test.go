package httpapi

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/scoring"
)

// watchedSource counts the loads of every score and can rename models.
type watchedSource struct {
	*leaderboard.MemSource
	mu         sync.Mutex
	scoreLoads int
	renamed    map[string]string
}

func (w *watchedSource) Scores(ctx context.Context) ([]scoring.Score, error) {
	w.mu.Lock()
	w.scoreLoads++
	w.mu.Unlock()
	return w.MemSource.Scores(ctx)
}

func (w *watchedSource) Models(ctx context.Context) ([]leaderboard.ModelInfo, error) {
	ms, err := w.MemSource.Models(ctx)
	w.mu.Lock()
	defer w.mu.Unlock()
	ms = slices.Clone(ms)
	for i := range ms {
		if n, ok := w.renamed[ms[i].Hash]; ok {
			ms[i].Name = n
		}
	}
	return ms, err
}

func (w *watchedSource) loads() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.scoreLoads
}

// TestRefreshOnlyOnChange (issue 15, finding 7): the periodic refresh does
// not reload the scores, nor make a new generation, while nothing changed;
// a new score, or a model's metadata edited in place, does show.
func TestRefreshOnlyOnChange(t *testing.T) {
	mem := lbtest.Synthetic(30, 5, 0, 1)
	src := &watchedSource{MemSource: mem, renamed: map[string]string{}}
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	refresh := func(want bool) {
		t.Helper()
		got, err := srv.Refresh(ctx)
		if err != nil || got != want {
			t.Fatalf("Refresh reloaded %v, %v; want %v", got, err, want)
		}
	}
	refresh(true)
	for range 3 {
		refresh(false)
	}
	if g, n := srv.Generation(), src.loads(); g != 1 || n != 1 {
		t.Fatalf("after refreshes with nothing changed: generation %d, scores loaded %d times; want 1, 1", g, n)
	}

	// A worker commits a better score.
	models, _ := mem.Models(ctx)
	benchmarks, _ := mem.Benchmarks(ctx)
	m, b := models[4], benchmarks[0]
	old, ok := srvIndex(t, srv).Score(m.Hash, b.ID)
	if !ok {
		t.Fatal("no score to improve")
	}
	better := old
	better.Raw, better.Ceiled, better.CreatedAt = old.Raw+0.05, (old.Raw+0.05)/old.Ceiling, old.CreatedAt.Add(time.Hour)
	mem.AddScores(better)
	refresh(true)
	if got, _ := srvIndex(t, srv).Score(m.Hash, b.ID); got.Raw != better.Raw {
		t.Fatalf("after a new score: raw %v, want %v", got.Raw, better.Raw)
	}
	refresh(false)
	if n := src.loads(); n != 2 {
		t.Fatalf("scores loaded %d times, want 2", n)
	}

	// Model metadata edited in place: no score changes, the name shows.
	src.mu.Lock()
	src.renamed[m.Hash] = "renamed-model"
	src.mu.Unlock()
	refresh(true)
	_, body := get(t, srv.Handler(), "/api/v1/models/"+m.Hash)
	var doc struct{ Name string }
	if err := json.Unmarshal(body, &doc); err != nil || doc.Name != "renamed-model" {
		t.Fatalf("model after rename: %q, %v", doc.Name, err)
	}
	if n := src.loads(); n != 2 {
		t.Fatalf("a rename reloaded the scores: %d loads, want 2", n)
	}

	// Invalidate always reloads.
	if err := srv.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := src.loads(); n != 3 {
		t.Fatalf("Invalidate: %d loads, want 3", n)
	}
}

// unversioned hides MemSource's ScoresVersion: every refresh reloads.
type unversioned struct{ leaderboard.Source }

func TestRefreshWithoutVersionReloads(t *testing.T) {
	srv, err := NewServer(Config{}, unversioned{lbtest.Synthetic(5, 3, 0, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, err := srv.Refresh(context.Background()); err != nil || !ok {
			t.Fatalf("refresh %d: reloaded %v, %v; want a reload every time", i, ok, err)
		}
	}
}

// TestRefreshRanksAskedFilters: the filters ranked in a generation are
// ranked again by the reload that replaces it, before it is served, so the
// first page of a popular filter after a refresh is a slice, not a ranking.
func TestRefreshRanksAskedFilters(t *testing.T) {
	srv, err := NewServer(Config{}, lbtest.Synthetic(30, 5, 0, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := srv.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	asked := []leaderboard.Filter{{Regions: []string{"V1"}}, {Regions: []string{"IT"}, Families: []string{"resnet"}}}
	for _, p := range []string{"/api/v1/leaderboard?region=V1&offset=3", "/api/v1/leaderboard?family=resnet&region=IT&limit=5"} {
		if res, body := get(t, h, p); res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", p, res.StatusCode, body)
		}
	}
	if err := srv.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	st := srv.state.Load()
	for _, f := range asked {
		if _, ok := st.boards[f.Key()]; !ok {
			t.Errorf("filter %s not ranked by the reload; ranked: %v", f.Key(), st.boardOrder)
		}
	}
	if _, ok := st.boards[(leaderboard.Filter{Species: []string{"human"}}).Key()]; ok {
		t.Error("a filter nobody asked for was ranked")
	}
}
