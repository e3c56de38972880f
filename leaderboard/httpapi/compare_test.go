package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
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

// twoModelDoc is the part of GET /api/v1/compare's document the tests read.
type twoModelDoc struct {
	A, B       struct{ Hash, Name string }
	Rule       string
	Resamples  int
	Benchmarks []struct {
		Benchmark struct {
			ID      string
			Private bool
		}
		A, B struct {
			Units          string
			Score          *float64
			CI             [2]*float64
			Layer          string
			Layers         []struct{ Layer string }
			LayersWithheld bool `json:"layers_withheld"`
		}
		Units    string
		Diff     *float64
		CI       [2]*float64
		P, Q     *float64
		Test     string
		Reliable bool
		Winner   string
	}
	NotCompared []struct {
		Benchmark struct{ ID string }
		Has       string
		Reason    string
	} `json:"not_compared"`
	Summary struct {
		Compared int
		AWins    int      `json:"a_wins"`
		BWins    int      `json:"b_wins"`
		MeanOver int      `json:"mean_over"`
		MeanDiff *float64 `json:"mean_diff"`
	}
}

// TestCompareTwoModels: GET /api/v1/compare?models=A,B compares two models
// over every benchmark both are scored on, by name or id prefix; the RSA
// bootstrap where the comparer has one, the unpaired test elsewhere; a
// benchmark only A is scored on is listed as not compared; private
// profiles are withheld; the result is memoized across generations; bad
// requests answer through the one error table.
func TestCompareTwoModels(t *testing.T) {
	src := lbtest.Synthetic(12, 5, 0, 3)
	bs, _ := src.Benchmarks(context.Background())
	ms, _ := src.Models(context.Background())
	// Model 6 misses benchmark 6 % 5 = 1 (lbtest.Synthetic).
	a, b := ms[0], ms[6]
	cmp := &fakeComparer{unsupported: bs[2].ID}
	srv, err := NewServer(Config{Comparer: cmp}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	path := "/api/v1/compare?models=" + a.Name + "," + b.Hash[:10]
	res, body := get(t, h, path)
	if res.StatusCode != http.StatusOK || res.Header.Get("ETag") == "" {
		t.Fatalf("GET %s: %d\n%s", path, res.StatusCode, body)
	}
	var doc twoModelDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.A.Hash != a.Hash || doc.B.Hash != b.Hash || doc.Rule != leaderboard.TwoModelRule || doc.Resamples != 100 {
		t.Errorf("header: A %s B %s rule %q resamples %d", doc.A.Name, doc.B.Name, doc.Rule, doc.Resamples)
	}
	if len(doc.Benchmarks) != 4 || len(doc.NotCompared) != 1 || doc.NotCompared[0].Benchmark.ID != bs[1].ID || doc.NotCompared[0].Has != "a" {
		t.Fatalf("want 4 benchmarks compared and %s not (only A): %s", bs[1].ID, body)
	}
	for _, r := range doc.Benchmarks {
		want := leaderboard.TestPairedStimuli
		if r.Benchmark.ID == bs[2].ID {
			want = leaderboard.TestUnpaired
		}
		if r.Test != want || r.Diff == nil || r.CI[0] == nil || r.P == nil || r.Q == nil || r.Units != "ceiled" || r.A.Score == nil || r.A.Layer == "" {
			t.Errorf("%s: test %q (want %q), diff %v, units %q, A %+v", r.Benchmark.ID, r.Test, want, r.Diff, r.Units, r.A)
			continue
		}
		// The fake bootstrap: A − B = +0.01 raw, p 0.0005: A wins.
		if want == leaderboard.TestPairedStimuli && (*r.Diff >= 0 || r.Winner != "a" || !r.Reliable) {
			t.Errorf("%s: diff %g, winner %q, reliable %v; want A reliably ahead", r.Benchmark.ID, *r.Diff, r.Winner, r.Reliable)
		}
		if r.Benchmark.Private != (r.A.LayersWithheld && len(r.A.Layers) == 0 && len(r.B.Layers) == 0) || (!r.Benchmark.Private && len(r.A.Layers) != 8) {
			t.Errorf("%s (private %v): profiles %d/%d, withheld %v", r.Benchmark.ID, r.Benchmark.Private, len(r.A.Layers), len(r.B.Layers), r.A.LayersWithheld)
		}
	}
	if doc.Summary.Compared != 4 || doc.Summary.AWins < 3 || doc.Summary.MeanOver != 4 || doc.Summary.MeanDiff == nil {
		t.Errorf("summary %+v", doc.Summary)
	}
	// Memoized: a reload with the same scores runs no bootstrap again.
	calls := cmp.count()
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, again := get(t, h, path); string(again) != string(body) || cmp.count() != calls {
		t.Errorf("after a reload: %d comparer calls, want %d; same body %v", cmp.count(), calls, string(again) == string(body))
	}
	// --benchmark narrows the rows.
	if _, one := get(t, h, "/api/v1/compare?models="+a.Hash+","+b.Hash+"&benchmark="+bs[0].ID); !strings.Contains(string(one), bs[0].ID) || strings.Contains(string(one), bs[3].ID) {
		t.Errorf("benchmark filter: %s", one)
	}

	for _, c := range []struct {
		path   string
		code   leaderboard.Code
		status int
		says   string
	}{
		{"/api/v1/compare?models=" + a.Name + ",resnet-00", leaderboard.ENOTFOUND, http.StatusNotFound, "closest names: resnet-000"},
		{"/api/v1/compare?models=" + a.Name, leaderboard.EINVALID, http.StatusBadRequest, "give two models"},
		{"/api/v1/compare", leaderboard.EINVALID, http.StatusBadRequest, "give two models"},
		{"/api/v1/compare?models=" + a.Name + "," + a.Hash, leaderboard.EINVALID, http.StatusBadRequest, "two different models"},
		{"/api/v1/compare?models=" + a.Name + "," + b.Name + "&benchmark=nosuch.IT", leaderboard.ENOTFOUND, http.StatusNotFound, "no benchmark"},
		{"/api/v1/compare?models=" + a.Name + "," + b.Name + "&sort=1", leaderboard.EINVALID, http.StatusBadRequest, "unknown query parameter"},
	} {
		res, body := get(t, h, c.path)
		var e errorDoc
		if err := json.Unmarshal(body, &e); err != nil || res.StatusCode != c.status || e.Error.Code != string(c.code) || !strings.Contains(e.Error.Message, c.says) {
			t.Errorf("GET %s: %d %s, want %d %s saying %q", c.path, res.StatusCode, body, c.status, c.code, c.says)
		}
	}

	// A comparer failing inside is an internal error, details kept out.
	broken, err := NewServer(Config{Comparer: &fakeComparer{broken: bs[0].ID}}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, body = get(t, broken.Handler(), path)
	if res.StatusCode != http.StatusInternalServerError || strings.Contains(string(body), "10.0.0.7") {
		t.Errorf("broken comparer: %d %s", res.StatusCode, body)
	}
	// The page and its script are served, the page with no inline
	// script (the CSP allows only /static scripts).
	for path, ctype := range map[string]string{"/compare": "text/html", "/static/compare.js": "text/javascript", "/static/dom.js": "text/javascript"} {
		res, body := get(t, h, path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if ctype == "text/html" && (strings.Count(string(body), "<script") != 2 || !strings.Contains(string(body), "<script src=\"/static/dom.js\"></script>\n<script src=\"/static/compare.js\"></script>") || strings.Contains(string(body), "style=")) {
			t.Errorf("compare.html loads scripts other than /static/dom.js and /static/compare.js or has inline style:\n%s", body)
		}
	}
	// Without a comparer every benchmark is compared from the SEs.
	plain, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, body = get(t, plain.Handler(), path)
	if n := strings.Count(string(body), `"test":"`+leaderboard.TestUnpaired+`"`); n != 4 {
		t.Errorf("no comparer: %d unpaired rows, want 4: %s", n, body)
	}
}

// blockingComparer holds every Compare until release is closed.
type blockingComparer struct {
	fakeComparer
	entered chan struct{}
	release chan struct{}
}

func (b *blockingComparer) Compare(ctx context.Context, id string, hashes []string) (*leaderboard.Comparison, error) {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.fakeComparer.Compare(ctx, id, hashes)
}

// TestCompareTwoModelsIsBounded: a two-model comparison exists for every
// pair of models, so the comparisons running at once count against
// MaxBuilds and the queue: past it a request is answered 503 with
// Retry-After, not started.
func TestCompareTwoModelsIsBounded(t *testing.T) {
	src := lbtest.Synthetic(4, 3, 0, 3)
	ms, _ := src.Models(context.Background())
	cmp := &blockingComparer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	srv, err := NewServer(Config{Comparer: cmp, MaxBuilds: 1, MaxQueuedBuilds: 1}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 2)
	request := func(b string) {
		res, _ := get(t, h, "/api/v1/compare?models="+ms[0].Hash+","+b)
		done <- res.StatusCode
	}
	defer func() {
		select {
		case <-cmp.release:
		default:
			close(cmp.release)
		}
	}()
	go request(ms[1].Hash) // runs, held in the comparer
	<-cmp.entered
	go request(ms[2].Hash) // waits in the queue
	deadline := time.Now().Add(10 * time.Second)
	for srv.queued.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	res, body := get(t, h, "/api/v1/compare?models="+ms[0].Hash+","+ms[3].Hash)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("a third comparison with the build slot busy and the queue full: %d %s (Retry-After %q), want 503", res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	close(cmp.release)
	for range 2 {
		if code := <-done; code != http.StatusOK {
			t.Errorf("a comparison admitted: %d", code)
		}
	}
}

// TestCompareAmbiguousName: two entries of one name (one file with two
// preprocessing specs) make the name ambiguous: 409 naming both ids, as
// the id-prefix routes answer; the ids themselves compare them.
func TestCompareAmbiguousName(t *testing.T) {
	h1, h2, h3 := lbtest.Hash("r18 spec 1"), lbtest.Hash("r18 spec 2"), lbtest.Hash("alexnet")
	b := leaderboard.BenchmarkInfo{ID: "b.IT", Version: "v1", Region: "IT", Ceiling: 0.5}
	sc := func(h string, raw float64) scoring.Score {
		return scoring.Score{ModelHash: h, BenchmarkID: "b.IT", BenchmarkVersion: "v1", Raw: raw, Ceiling: 0.5, Ceiled: raw / 0.5, SE: 0.01, Layer: "L1"}
	}
	src := leaderboard.NewMemSource([]leaderboard.ModelInfo{{Hash: h1, Name: "resnet18"}, {Hash: h2, Name: "resnet18"}, {Hash: h3, Name: "alexnet"}},
		[]leaderboard.BenchmarkInfo{b}, []scoring.Score{sc(h1, 0.2), sc(h2, 0.25), sc(h3, 0.1)})
	srv, err := NewServer(Config{}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, srv.Handler(), "/api/v1/compare?models=resnet18,alexnet")
	if res.StatusCode != http.StatusConflict || !strings.Contains(string(body), h1[:12]) || !strings.Contains(string(body), h2[:12]) {
		t.Errorf("ambiguous name: %d %s, want 409 naming both entries", res.StatusCode, body)
	}
	if res, body := get(t, srv.Handler(), "/api/v1/compare?models="+h1[:8]+","+h2[:8]); res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"compared":1`) {
		t.Errorf("the two entries by id prefix: %d %s", res.StatusCode, body)
	}
}
