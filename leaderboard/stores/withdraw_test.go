package stores_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard/httpapi"
	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// pubCatalogue lists one public benchmark, "pub" v1 (its settings are
// not stored: conventions unstated).
type pubCatalogue struct{}

func (pubCatalogue) List(context.Context) ([]benchmarks.Summary, error) {
	return []benchmarks.Summary{{ID: "pub", Version: "v1", Region: "IT", Species: "macaque", Method: "rsa", CeilingValid: true, CeilingUpper: 0.8}}, nil
}
func (pubCatalogue) Benchmark(_ context.Context, ref string) (*benchmarks.Benchmark, error) {
	return nil, fmt.Errorf("benchmark %s: %w", ref, benchmarks.ErrNotFound)
}
func (pubCatalogue) Open(_ context.Context, ref string) (*benchmarks.Loaded, error) {
	return nil, fmt.Errorf("open %s: not in this fake", ref)
}

// Issue 17, finding 2: a withdrawn model leaves everything the board
// feeds: the served leaderboard (after the server's periodic refresh,
// which notices the withdrawal), its CSV, the benchmark's ranking, the
// model list, the model's own route, and the next published snapshot.
// Its record and scores stay in the registry.
func TestWithdrawnModelLeavesEveryListing(t *testing.T) {
	ctx := t.Context()
	db, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hashes []string
	for i, ceiled := range []float64{0.5, 0.7, 0.3} {
		// Models 0 and 2 share their first 12 digits.
		h := []string{"aaaaaaaaaaaa" + strings.Repeat("0", 52), strings.Repeat("b", 64), "aaaaaaaaaaaa" + strings.Repeat("1", 52)}[i]
		hashes = append(hashes, h)
		name := fmt.Sprintf("model-%d", i)
		if err := db.PutModel(ctx, registry.Model{Hash: h, File: h, Name: name, Family: "f", Owner: "ada"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.PutScore(ctx, scoring.Score{ModelHash: h, ModelName: name, BenchmarkID: "pub", BenchmarkVersion: "v1",
			ScorerVersion: scoring.ScorerVersion, Raw: ceiled * 0.8, Ceiling: 0.8, Ceiled: ceiled, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	gone := hashes[1] // the best one
	board := stores.Board{DB: db, Bench: pubCatalogue{}}
	gin.SetMode(gin.TestMode)
	srv, err := httpapi.NewServer(httpapi.Config{}, board, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Invalidate(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(body)
	}
	type rows struct {
		Total int
		Rows  []struct{ Model struct{ Hash string } }
	}
	ranked := func() rows {
		t.Helper()
		code, body := get("/api/v1/leaderboard")
		var r rows
		if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
			t.Fatalf("GET /api/v1/leaderboard: %d %s", code, body)
		}
		return r
	}
	if r := ranked(); r.Total != 3 || r.Rows[0].Model.Hash != gone {
		t.Fatalf("before: %+v, want 3 rows led by %s", r, gone)
	}
	if code, _ := get("/api/v1/models/" + gone); code != 200 {
		t.Fatalf("model route before: %d", code)
	}
	// A unique prefix of 8 or more hex digits names a model (issue 17,
	// finding 10); an ambiguous one lists the candidates.
	if code, body := get("/api/v1/models/" + strings.ToUpper(hashes[0][:12])); code != http.StatusConflict || !strings.Contains(body, hashes[2]) {
		t.Errorf("ambiguous prefix: %d %s, want 409 listing the candidates", code, body)
	}
	if code, body := get("/api/v1/models/" + hashes[1][:9]); code != 200 || !strings.Contains(body, `"model-1"`) {
		t.Errorf("unique 9-digit prefix: %d %.200s", code, body)
	}
	if code, body := get("/api/v1/models/" + hashes[0][:7]); code != http.StatusBadRequest || !strings.Contains(body, "at least 8") {
		t.Errorf("7-digit prefix: %d %s, want 400", code, body)
	}
	bucket := objstore.NewMemory()
	publish := func() {
		t.Helper()
		if _, err := (&snapshot.Publisher{Bucket: bucket, Source: board}).PublishNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	latest := func() rows {
		t.Helper()
		rc, err := bucket.Get(ctx, snapshot.LatestJSON)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		var r rows
		if err := json.NewDecoder(rc).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	publish()
	if r := latest(); r.Total != 3 {
		t.Fatalf("first snapshot: %d models, want 3", r.Total)
	}

	if err := db.WithdrawModel(ctx, gone, "ada", "wrong preprocessing"); err != nil {
		t.Fatal(err)
	}
	// The refresh notices the withdrawal (the scores' version counts it).
	if reloaded, err := srv.Refresh(ctx); err != nil || !reloaded {
		t.Fatalf("refresh after a withdrawal: reloaded %v, %v; want a reload", reloaded, err)
	}
	if r := ranked(); r.Total != 2 || r.Rows[0].Model.Hash != hashes[0] || r.Rows[1].Model.Hash != hashes[2] {
		t.Errorf("after: %+v, want the two others", r)
	}
	for _, path := range []string{"/api/v1/leaderboard", "/api/v1/leaderboard.csv", "/api/v1/models", "/api/v1/benchmarks/pub", "/api/v1/benchmarks"} {
		code, body := get(path)
		if code != 200 || strings.Contains(body, gone) || strings.Contains(body, "model-1") {
			t.Errorf("GET %s: %d, and it still names the withdrawn model: %.300s", path, code, body)
		}
	}
	// Its own route answers 410 Gone saying when, by whom and why, by its
	// id or a prefix; nothing of it is served.
	for _, path := range []string{gone, gone[:12], gone[:8] + "/rdm/pub"} {
		code, body := get("/api/v1/models/" + path)
		if code != http.StatusGone || !strings.Contains(body, `"gone"`) || !strings.Contains(body, "withdrawn on "+time.Now().UTC().Format("2006-01-02")+" by its owner: wrong preprocessing") ||
			strings.Contains(body, `"scores"`) {
			t.Errorf("GET /api/v1/models/%s of a withdrawn model: %d %s, want 410 saying when, by whom and why", path, code, body)
		}
	}
	publish()
	if r := latest(); r.Total != 2 || strings.Contains(fmt.Sprint(r.Rows), gone) {
		t.Errorf("the next snapshot: %+v, want the withdrawn model gone", r)
	}
	// Nothing is deleted: the record and its score are kept.
	if m, err := db.GetModel(ctx, gone); err != nil || m.Name != "model-1" {
		t.Errorf("record of the withdrawn model: %+v %v", m, err)
	}
	if scores, err := db.ListScores(ctx, registry.ScoreFilter{ModelHash: gone}); err != nil || len(scores) != 1 {
		t.Errorf("scores of the withdrawn model: %d %v", len(scores), err)
	}
}
