package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/lbtest"
	"github.com/cortexbench/cortexbench/scoring"
)

func TestMain(m *testing.M) {
	runLoadServerIfChild() // BenchmarkLoad's server process
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// spyRDMs records which benchmarks' RDMs were asked for.
type spyRDMs struct {
	leaderboard.RDMSource
	mu    sync.Mutex
	asked []string
}

func (s *spyRDMs) ModelRDM(ctx context.Context, h, id string) (int, []float64, error) {
	s.mu.Lock()
	s.asked = append(s.asked, id)
	s.mu.Unlock()
	return s.RDMSource.ModelRDM(ctx, h, id)
}

func (s *spyRDMs) BrainRDM(ctx context.Context, id string) (int, []float64, error) {
	s.mu.Lock()
	s.asked = append(s.asked, id)
	s.mu.Unlock()
	return s.RDMSource.BrainRDM(ctx, id)
}

type fixture struct {
	srv     *Server
	src     *leaderboard.MemSource
	rdms    *spyRDMs
	models  []leaderboard.ModelInfo
	benches []leaderboard.BenchmarkInfo
}

// newFixture serves 12 models × 5 benchmarks (the last one private) with
// 6-stimulus RDMs.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	src := lbtest.Synthetic(12, 5, 6, 1)
	spy := &spyRDMs{RDMSource: src}
	srv, err := NewServer(Config{}, src, spy)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := src.Models(context.Background())
	bs, _ := src.Benchmarks(context.Background())
	return &fixture{srv: srv, src: src, rdms: spy, models: ms, benches: bs}
}

func (f *fixture) private() leaderboard.BenchmarkInfo {
	for _, b := range f.benches {
		if b.Private {
			return b
		}
	}
	panic("fixture has no private benchmark")
}

func (f *fixture) public() leaderboard.BenchmarkInfo { return f.benches[0] }

// get performs a request and returns the response with its body decoded
// from gzip when needed.
func get(t *testing.T, h http.Handler, path string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body := rec.Body.Bytes()
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: bad gzip: %v", path, err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("%s: bad gzip: %v", path, err)
		}
	}
	return res, body
}

type errorDoc struct {
	Error struct{ Code, Message string }
}

func TestEveryRouteAnswers(t *testing.T) {
	f := newFixture(t)
	h := f.srv.Handler()
	m, pub, priv := f.models[0].Hash, f.public().ID, f.private().ID
	for _, tc := range []struct{ path, ctype string }{
		{"/api/v1/leaderboard", "application/json"},
		{"/api/v1/leaderboard?region=IT,V1&species=macaque&family=resnet&limit=3&offset=1", "application/json"},
		{"/api/v1/leaderboard.csv", "text/csv"},
		{"/api/v1/models", "application/json"},
		{"/api/v1/models/" + m, "application/json"},
		{"/api/v1/models/" + m + "/rdm/" + pub, "application/json"},
		{"/api/v1/benchmarks", "application/json"},
		{"/api/v1/benchmarks/" + pub, "application/json"},
		{"/api/v1/benchmarks/" + priv, "application/json"},
		{"/api/v1/openapi.json", "application/json"},
		{"/", "text/html"},
		{"/models/" + m, "text/html"},
		{"/benchmarks/" + pub, "text/html"},
		{"/static/app.js", "text/javascript"},
		{"/static/style.css", "text/css"},
	} {
		res, body := get(t, h, tc.path, "Accept-Encoding", "gzip")
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", tc.path, res.StatusCode, body)
			continue
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, ct, tc.ctype)
		}
		if et := res.Header.Get("ETag"); !strings.HasPrefix(et, `"`) || res.Header.Get("Cache-Control") == "" {
			t.Errorf("GET %s: ETag %q Cache-Control %q", tc.path, et, res.Header.Get("Cache-Control"))
		}
		if tc.ctype == "application/json" && !json.Valid(body) {
			t.Errorf("GET %s: invalid JSON", tc.path)
		}
	}
}

func TestLeaderboardDocument(t *testing.T) {
	f := newFixture(t)
	res, body := get(t, f.srv.Handler(), "/api/v1/leaderboard?region=it&limit=5&offset=2")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	var doc struct {
		Rules      struct{ Aggregation, Missing, Ties string }
		Benchmarks []struct{ ID, Region string }
		Total      int
		Offset     int
		Rows       []struct {
			Rank     int
			Complete bool
			Missing  []string
			Scores   []*struct{ Ceiled, CeiledSE float64 }
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rules.Aggregation != leaderboard.AggregationRule || doc.Rules.Missing == "" || doc.Rules.Ties == "" {
		t.Errorf("rules not stated: %+v", doc.Rules)
	}
	for _, b := range doc.Benchmarks {
		if b.Region != "IT" {
			t.Errorf("region=it returned benchmark %s in %s", b.ID, b.Region)
		}
	}
	if doc.Total != 12 || doc.Offset != 2 || len(doc.Rows) != 5 || doc.Rows[0].Rank < 2 {
		t.Errorf("paging: total %d offset %d rows %d first rank %d", doc.Total, doc.Offset, len(doc.Rows), doc.Rows[0].Rank)
	}
	for _, r := range doc.Rows {
		if len(r.Scores) != len(doc.Benchmarks) {
			t.Errorf("row has %d scores for %d benchmarks", len(r.Scores), len(doc.Benchmarks))
		}
		nulls := 0
		for _, s := range r.Scores {
			if s == nil {
				nulls++
			}
		}
		if nulls != len(r.Missing) || r.Complete != (nulls == 0) {
			t.Errorf("row %d: %d null scores but missing %v complete %v", r.Rank, nulls, r.Missing, r.Complete)
		}
	}
}

func TestBadRequestsGetJSONErrors(t *testing.T) {
	f := newFixture(t)
	h := f.srv.Handler()
	m := f.models[0].Hash
	for _, tc := range []struct {
		path   string
		status int
		code   string
		says   string
	}{
		{"/api/v1/leaderboard?region=V2", 400, "invalid", `unknown region "V2"`},
		{"/api/v1/leaderboard?family=nope", 400, "invalid", "known values"},
		{"/api/v1/leaderboard?limit=0", 400, "invalid", `"limit"`},
		{"/api/v1/leaderboard?limit=abc", 400, "invalid", "integer"},
		{"/api/v1/leaderboard?offset=-1", 400, "invalid", `"offset"`},
		{"/api/v1/leaderboard?limit=1&limit=2", 400, "invalid", "once"},
		{"/api/v1/leaderboard?sort=rank", 400, "invalid", `unknown query parameter "sort"`},
		{"/api/v1/leaderboard.csv?limit=3", 400, "invalid", `unknown query parameter "limit"`},
		{"/api/v1/leaderboard.csv?method=laser", 400, "invalid", `unknown method`},
		{"/api/v1/models?x=1", 400, "invalid", "unknown query parameter"},
		{"/api/v1/models/xyz", 400, "invalid", "64 lowercase hex"},
		{"/api/v1/models/" + strings.Repeat("0", 64), 404, "not_found", "no model"},
		{"/api/v1/models/" + m + "/rdm/bad$id", 400, "invalid", "malformed"},
		{"/api/v1/models/" + m + "/rdm/nope", 404, "not_found", "no benchmark"},
		{"/api/v1/models/" + m + "/rdm/" + f.private().ID, 403, "forbidden", "private"},
		{"/api/v1/benchmarks/nope", 404, "not_found", "no benchmark"},
		{"/api/v1/benchmarks/" + f.public().ID + "?x=1", 400, "invalid", "unknown query parameter"},
		{"/api/v1/nothing", 404, "not_found", "no route"},
	} {
		res, body := get(t, h, tc.path)
		var doc errorDoc
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Errorf("GET %s: body is not JSON: %s", tc.path, body)
			continue
		}
		if res.StatusCode != tc.status || doc.Error.Code != tc.code || !strings.Contains(doc.Error.Message, tc.says) {
			t.Errorf("GET %s: %d %+v, want %d %s saying %q", tc.path, res.StatusCode, doc.Error, tc.status, tc.code, tc.says)
		}
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: headers %v", tc.path, res.Header)
		}
	}
}

// failingSource fails with a message that must not reach clients.
type failingSource struct{ leaderboard.Source }

func (failingSource) Scores(context.Context) ([]scoring.Score, error) {
	return nil, errors.New("dial postgres://admin:hunter2@db: refused")
}

func TestInternalErrorsSayOnlyInternalError(t *testing.T) {
	srv, err := NewServer(Config{}, failingSource{lbtest.Synthetic(2, 2, 0, 1)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/api/v1/leaderboard", "/api/v1/models", "/api/v1/benchmarks/x"} {
		res, body := get(t, srv.Handler(), p)
		var doc errorDoc
		json.Unmarshal(body, &doc)
		if res.StatusCode != 500 || doc.Error.Code != "internal" || doc.Error.Message != "internal error" || strings.Contains(string(body), "hunter2") {
			t.Errorf("GET %s: %d %s", p, res.StatusCode, body)
		}
	}
}

func TestETagAndNotModified(t *testing.T) {
	f := newFixture(t)
	h := f.srv.Handler()
	for _, enc := range []string{"", "gzip"} {
		for _, p := range []string{"/api/v1/leaderboard", "/api/v1/leaderboard.csv", "/api/v1/models/" + f.models[1].Hash, "/", "/static/app.js", "/api/v1/openapi.json"} {
			res, _ := get(t, h, p, "Accept-Encoding", enc)
			tag := res.Header.Get("ETag")
			if len(tag) < 34 || strings.HasPrefix(tag, "W/") {
				t.Fatalf("GET %s: ETag %q, want a strong content hash", p, tag)
			}
			res2, body := get(t, h, p, "Accept-Encoding", enc, "If-None-Match", `"other", `+tag)
			if res2.StatusCode != http.StatusNotModified || len(body) != 0 || res2.Header.Get("ETag") != tag {
				t.Errorf("GET %s (%q) with If-None-Match: %d, %d bytes, ETag %q", p, enc, res2.StatusCode, len(body), res2.Header.Get("ETag"))
			}
			if res3, _ := get(t, h, p, "Accept-Encoding", enc, "If-None-Match", `"stale"`); res3.StatusCode != 200 {
				t.Errorf("GET %s with a stale tag: %d, want 200", p, res3.StatusCode)
			}
		}
	}
	// New data, new generation, new tag.
	res, _ := get(t, h, "/api/v1/leaderboard")
	old, gen := res.Header.Get("ETag"), f.srv.Generation()
	s := lbtest.Synthetic(1, 1, 0, 9)
	extra, _ := s.Scores(context.Background())
	extra[0].BenchmarkID, extra[0].BenchmarkVersion, extra[0].ModelHash = f.public().ID, f.public().Version, "ffff"
	f.src.AddScores(extra[0])
	if err := f.srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, _ = get(t, h, "/api/v1/leaderboard", "If-None-Match", old)
	if res.StatusCode != 200 || res.Header.Get("ETag") == old || f.srv.Generation() != gen+1 {
		t.Errorf("after Invalidate: %d, ETag %q (was %q), generation %d (was %d)", res.StatusCode, res.Header.Get("ETag"), old, f.srv.Generation(), gen)
	}
}

func TestCSVExportParses(t *testing.T) {
	f := newFixture(t)
	res, body := get(t, f.srv.Handler(), "/api/v1/leaderboard.csv?family=vit")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := recs[0]
	if !slices.Equal(head[:5], []string{"rank", "model_hash", "model_name", "family", "average"}) || !slices.Contains(head, f.public().ID+":se") {
		t.Errorf("header %v", head)
	}
	if len(recs) != 1+3 { // 12 models, families cycle over 4: 3 are vit
		t.Errorf("%d rows, want 3", len(recs)-1)
	}
	for _, r := range recs[1:] {
		if r[3] != "vit" {
			t.Errorf("family filter leaked %v", r[:4])
		}
		if _, err := strconv.ParseFloat(r[4], 64); err != nil {
			t.Errorf("average %q: %v", r[4], err)
		}
	}
}

func TestModelDetail(t *testing.T) {
	f := newFixture(t)
	res, body := get(t, f.srv.Handler(), "/api/v1/models/"+f.models[0].Hash)
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, body)
	}
	var doc struct {
		Rank   int
		Scores []struct {
			Benchmark struct {
				ID      string
				Private bool
			}
			Score  *struct{ Layer string }
			Layers []struct {
				Layer string
				Depth float64
			}
			LayersWithheld bool `json:"layers_withheld"`
			RDM            string
		}
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rank < 1 || len(doc.Scores) != len(f.benches) {
		t.Fatalf("rank %d, %d scores", doc.Rank, len(doc.Scores))
	}
	for _, s := range doc.Scores {
		if s.Benchmark.Private {
			if !s.LayersWithheld || len(s.Layers) != 0 || s.RDM != "" {
				t.Errorf("private %s: layers %d withheld %v rdm %q", s.Benchmark.ID, len(s.Layers), s.LayersWithheld, s.RDM)
			}
			continue
		}
		if len(s.Layers) != 8 || s.RDM == "" || s.Score == nil {
			t.Errorf("public %s: %d layers, rdm %q", s.Benchmark.ID, len(s.Layers), s.RDM)
		}
	}
	res, body = get(t, f.srv.Handler(), doc.Scores[0].RDM)
	var pair struct {
		N            int
		Model, Brain []float64
	}
	if err := json.Unmarshal(body, &pair); err != nil || res.StatusCode != 200 || pair.N != 6 || len(pair.Model) != 15 || len(pair.Brain) != 15 {
		t.Errorf("RDM pair: %d n=%d %d/%d values (%v)", res.StatusCode, pair.N, len(pair.Model), len(pair.Brain), err)
	}
}

// TestPrivateDataNeverReturned walks every route, with every model and
// benchmark in the parameters, and checks that no value of the private
// benchmark's RDMs appears and that its RDMs are never even read.
func TestPrivateDataNeverReturned(t *testing.T) {
	f := newFixture(t)
	h := f.srv.Handler()
	var paths []string
	for _, r := range f.srv.engine.Routes() {
		if r.Method != http.MethodGet {
			continue
		}
		ps := []string{r.Path}
		expand := func(param string, vals []string) {
			var next []string
			for _, p := range ps {
				if !strings.Contains(p, param) {
					next = append(next, p)
					continue
				}
				for _, v := range vals {
					next = append(next, strings.Replace(p, param, v, 1))
				}
			}
			ps = next
		}
		var hashes, ids []string
		for _, m := range f.models {
			hashes = append(hashes, m.Hash)
		}
		for _, b := range f.benches {
			ids = append(ids, b.ID)
		}
		expand(":hash", hashes)
		expand(":benchmark", ids)
		expand(":id", ids)
		expand(":file", []string{"app.js", "style.css", "index.html"})
		paths = append(paths, ps...)
	}
	paths = append(paths, "/api/v1/leaderboard?region=IT", "/api/v1/leaderboard?limit=5000", "/api/v1/leaderboard.csv?region=IT")
	if len(paths) < 100 {
		t.Fatalf("only %d paths walked", len(paths))
	}
	sentinels := []string{}
	for _, x := range []float64{lbtest.PrivateBrainSentinel, lbtest.PrivateModelSentinel} {
		sentinels = append(sentinels, strconv.FormatFloat(x, 'g', -1, 64), strconv.FormatFloat(x, 'g', 6, 64))
	}
	priv := f.private().ID
	forbidden := 0
	for _, p := range paths {
		res, body := get(t, h, p, "Accept-Encoding", "gzip")
		for _, s := range sentinels {
			if bytes.Contains(body, []byte(s)) {
				t.Errorf("GET %s: body contains private RDM value %s", p, s)
			}
		}
		if strings.Contains(p, "/rdm/"+priv) {
			forbidden++
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("GET %s: %d, want 403", p, res.StatusCode)
			}
		}
	}
	if forbidden != len(f.models) {
		t.Errorf("walked %d private RDM paths, want %d", forbidden, len(f.models))
	}
	for _, id := range f.rdms.asked {
		if id == priv {
			t.Fatalf("the server asked the RDM source for private benchmark %s", id)
		}
	}
	if len(f.rdms.asked) == 0 {
		t.Error("walk never reached an RDM")
	}
}

// TestOpenAPIListsEveryRoute checks the embedded document against the router.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	f := newFixture(t)
	_, body := get(t, f.srv.Handler(), "/api/v1/openapi.json")
	var doc struct {
		OpenAPI string
		Paths   map[string]map[string]any
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi %q, want 3.x", doc.OpenAPI)
	}
	n := 0
	listed := make(map[string]bool)
	for _, r := range f.srv.engine.Routes() {
		rest, ok := strings.CutPrefix(r.Path, "/api/v1")
		if !ok || r.Method == http.MethodHead {
			continue
		}
		n++
		parts := strings.Split(rest, "/")
		for i, p := range parts {
			if strings.HasPrefix(p, ":") {
				parts[i] = "{" + p[1:] + "}"
			}
		}
		key := strings.Join(parts, "/")
		listed[key] = true
		if _, ok := doc.Paths[key][strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s is not in openapi.json (as %s)", r.Method, r.Path, key)
		}
	}
	for p := range doc.Paths {
		if !listed[p] {
			t.Errorf("openapi.json lists %s, which no route serves", p)
		}
	}
	if n < 8 {
		t.Errorf("only %d API routes", n)
	}
}

func TestHead(t *testing.T) {
	f := newFixture(t)
	req := httptest.NewRequest(http.MethodHead, "/api/v1/leaderboard", nil)
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("ETag") == "" {
		t.Errorf("HEAD /api/v1/leaderboard: %d %v", rec.Code, rec.Header())
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := (Config{DefaultLimit: 10, MaxLimit: 5}).Validate(); err == nil {
		t.Error("DefaultLimit > MaxLimit accepted")
	}
	if _, err := NewServer(Config{}, nil, nil); err == nil {
		t.Error("nil source accepted")
	}
}

// TestConcurrentInvalidate serves requests while the data is reloaded; run
// with -race it checks the generation swap.
func TestConcurrentInvalidate(t *testing.T) {
	f := newFixture(t)
	h := f.srv.Handler()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 20 {
				p := "/api/v1/leaderboard"
				if j%2 == 0 {
					p = "/api/v1/models/" + f.models[(i+j)%len(f.models)].Hash
				}
				req := httptest.NewRequest(http.MethodGet, p, nil)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 {
					t.Errorf("GET %s: %d", p, rec.Code)
					return
				}
			}
		}()
	}
	for range 5 {
		if err := f.srv.Invalidate(context.Background()); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if g := f.srv.Generation(); g < 5 {
		t.Errorf("generation %d after 5 Invalidate calls", g)
	}
}

// TestCacheBoundKeepsPrecomputed fills a tiny cache with many filters and
// offsets: answers stay right and the precomputed default page stays put.
func TestCacheBoundKeepsPrecomputed(t *testing.T) {
	src := lbtest.Synthetic(12, 5, 0, 1)
	srv, err := NewServer(Config{MaxCachedResponses: 2}, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Invalidate(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	res, _ := get(t, h, "/api/v1/leaderboard")
	tag := res.Header.Get("ETag")
	st := srv.state.Load()
	for i := range 20 {
		p := "/api/v1/leaderboard?offset=" + strconv.Itoa(i)
		res, body := get(t, h, p)
		var doc struct{ Offset, Total int }
		if err := json.Unmarshal(body, &doc); err != nil || res.StatusCode != 200 || doc.Offset != i || doc.Total != 12 {
			t.Fatalf("GET %s: %d %+v %v", p, res.StatusCode, doc, err)
		}
	}
	st.mu.Lock()
	n := len(st.cache)
	st.mu.Unlock()
	if n > 2 {
		t.Errorf("cache holds %d responses, bound 2", n)
	}
	if _, ok := st.pinned[(leaderboardQuery{limit: 100}).key()]; !ok {
		t.Error("default page not pinned")
	}
	if res, _ := get(t, h, "/api/v1/leaderboard", "If-None-Match", tag); res.StatusCode != http.StatusNotModified {
		t.Errorf("default page changed: %d", res.StatusCode)
	}
}

// Issue 14 finding 5: a model named like a formula is neutralised in the
// CSV served on 127.0.0.1; a negative score stays a number.
func TestCSVExportNeutralisesFormulas(t *testing.T) {
	srv, err := NewServer(Config{}, lbtest.WithEvilModel(6, 3, 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := newLoopbackServer(t, srv)
	res, err := http.Get(base + "/api/v1/leaderboard.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	checkNeutralCSV(t, recs)
}

func checkNeutralCSV(t *testing.T, recs [][]string) {
	t.Helper()
	found, negative := false, false
	for _, r := range recs[1:] {
		for _, c := range r {
			if c != "" && strings.ContainsRune("=+@\t\r", rune(c[0])) {
				t.Errorf("cell %q starts a formula", c)
			}
			if strings.HasPrefix(c, "-") {
				if _, err := strconv.ParseFloat(c, 64); err != nil {
					t.Errorf("cell %q starts with '-' and is not a number", c)
				} else {
					negative = true
				}
			}
		}
		if r[2] == "'"+lbtest.EvilName {
			found = true
			if r[3] != "'-cmd" {
				t.Errorf("family %q, want '-cmd", r[3])
			}
		}
	}
	if !found {
		t.Errorf("no row with the neutralised evil name %q", "'"+lbtest.EvilName)
	}
	if !negative {
		t.Error("no negative score in the CSV: numeric cells must stay unquoted")
	}
}
