package httpapi

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"mime"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

//go:embed openapi.json
var openapiJSON []byte

//go:embed web
var webFS embed.FS

// routes registers every route; openapi.json must list each /api/v1 one
// (a test checks).
func (s *Server) routes() {
	r := s.engine
	// Every route answers GET and HEAD (net/http drops HEAD bodies).
	get := func(g gin.IRoutes, path string, h handler) {
		g.GET(path, s.wrap(h))
		g.HEAD(path, s.wrap(h))
	}
	api := r.Group("/api/v1")
	get(api, "/leaderboard", s.getLeaderboard)
	get(api, "/leaderboard.csv", s.getLeaderboardCSV)
	get(api, "/models", s.getModels)
	get(api, "/models/:hash", s.getModel)
	get(api, "/models/:hash/rdm/:benchmark", s.getRDM)
	get(api, "/models/:hash/benchmarks/:id/profile.json", s.getProfileJSON)
	get(api, "/models/:hash/benchmarks/:id/profile.csv", s.getProfileCSV)
	get(api, "/preprocessing/presets", s.getPresets)
	get(api, "/benchmarks", s.getBenchmarks)
	get(api, "/benchmarks/:id", s.getBenchmark)
	get(api, "/benchmarks/:id/comparisons", s.getComparisons)
	get(api, "/compare", s.getCompare)
	get(api, "/openapi.json", s.getOpenAPI)

	get(r, "/", s.page("index.html"))
	get(r, "/models/:hash", s.page("model.html"))
	get(r, "/benchmarks/:id", s.page("benchmark.html"))
	get(r, "/submissions", s.page("submissions.html"))
	get(r, "/compare", s.page("compare.html"))
	get(r, "/static/:file", s.getStatic)
	r.NoRoute(s.wrap(func(c *gin.Context) error {
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "no route %s %s; the API is under /api/v1 (see /api/v1/openapi.json)", c.Request.Method, c.Request.URL.Path)
	}))
}

func (s *Server) apiCache() string {
	return fmt.Sprintf("public, max-age=%d", int(s.cfg.MaxAge.Seconds()))
}

// leaderboardQuery is a parsed /leaderboard query.
type leaderboardQuery struct {
	filter        leaderboard.Filter
	offset, limit int
}

// pageKeyPrefix starts the cache key of every leaderboard page.
const pageKeyPrefix = "lb?"

func (q leaderboardQuery) key() string {
	return fmt.Sprintf(pageKeyPrefix+"%s&offset=%d&limit=%d", q.filter.Key(), q.offset, q.limit)
}

// parseFilter reads the filter parameters from v, rejecting any parameter
// not in allowed. Values may repeat or be comma-separated.
func parseFilter(v url.Values, allowed ...string) (leaderboard.Filter, error) {
	var f leaderboard.Filter
	for name, vals := range v {
		if !slices.Contains(allowed, name) {
			return f, leaderboard.Errorf(leaderboard.EINVALID, "unknown query parameter %q; allowed: %s", name, strings.Join(allowed, ", "))
		}
		var list []string
		for _, val := range vals {
			for _, item := range strings.Split(val, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
		}
		switch name {
		case "region":
			f.Regions = list
		case "species":
			f.Species = list
		case "method":
			f.Methods = list
		case "family":
			f.Families = list
		case "coverage":
			f.Coverage = strings.Join(list, ",")
		}
	}
	return f, nil
}

func intParam(v url.Values, name string, def, lo, hi int) (int, error) {
	vals, ok := v[name]
	if !ok {
		return def, nil
	}
	if len(vals) != 1 {
		return 0, leaderboard.Errorf(leaderboard.EINVALID, "query parameter %q given %d times; give it once", name, len(vals))
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil || n < lo || n > hi {
		return 0, leaderboard.Errorf(leaderboard.EINVALID, "query parameter %q is %q; want an integer from %d to %d", name, vals[0], lo, hi)
	}
	return n, nil
}

func (s *Server) getLeaderboard(c *gin.Context) error {
	v := c.Request.URL.Query()
	f, err := parseFilter(v, "region", "species", "method", "family", "coverage", "offset", "limit")
	if err != nil {
		return err
	}
	q := leaderboardQuery{filter: f}
	if q.offset, err = intParam(v, "offset", 0, 0, 1<<30); err != nil {
		return err
	}
	if q.limit, err = intParam(v, "limit", s.cfg.DefaultLimit, 1, s.cfg.MaxLimit); err != nil {
		return err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	if err := st.ix.CheckFilter(f); err != nil {
		return err
	}
	e, err := st.getEntry(s, q.key(), false, func() (*entry, error) {
		rb, err := st.board(s, q.filter, true)
		if err != nil {
			return nil, err
		}
		return rb.page(q.offset, q.limit), nil
	})
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

func (s *Server) getLeaderboardCSV(c *gin.Context) error {
	f, err := parseFilter(c.Request.URL.Query(), "region", "species", "method", "family", "coverage")
	if err != nil {
		return err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	if err := st.ix.CheckFilter(f); err != nil {
		return err
	}
	// Ranked again rather than kept with the pages' ranking: a ranking
	// takes ~1 ms, a kept one ~2 MB per filter.
	e, err := st.get(s, "csv?"+f.Key(), csvType, func() ([]byte, error) { return wire.CSV(st.ix.Rank(f)) })
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="leaderboard.csv"`)
	serveEntry(c, e, s.apiCache())
	return nil
}

// noQuery rejects any query parameter on routes that take none.
func noQuery(c *gin.Context) error {
	_, err := parseFilter(c.Request.URL.Query())
	return err
}

// summaries ranks the whole leaderboard once and returns each model's
// summary, keyed by hash.
func summaries(ix *leaderboard.Index) map[string]wire.ModelSummary {
	out := make(map[string]wire.ModelSummary)
	lb := ix.Rank(leaderboard.Filter{})
	for _, m := range ix.Models() {
		out[m.Hash] = wire.ModelSummary{Model: wire.FromModel(m)}
	}
	for _, r := range lb.Rows {
		avg := wire.Num(r.Average)
		scored := 0
		for _, c := range r.Cells {
			if c.Present {
				scored++
			}
		}
		out[r.Model.Hash] = wire.ModelSummary{Model: wire.FromModel(r.Model), Rank: r.Rank, Average: &avg, Complete: r.Complete(), Scored: scored}
	}
	return out
}

func (s *Server) getModels(c *gin.Context) error {
	if err := noQuery(c); err != nil {
		return err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	e, err := st.get(s, "models", "application/json", func() ([]byte, error) { return s.buildModels(st) })
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

func (s *Server) buildModels(st *state) ([]byte, error) {
	sums := st.summaries()
	out := wire.Models{Models: make([]wire.ModelSummary, 0, len(sums))}
	for _, m := range st.ix.Models() {
		out.Models = append(out.Models, sums[m.Hash])
	}
	slices.SortStableFunc(out.Models, func(a, b wire.ModelSummary) int {
		// Ranked first, by rank; then the unranked by name.
		if (a.Rank == 0) != (b.Rank == 0) {
			if a.Rank == 0 {
				return 1
			}
			return -1
		}
		if a.Rank != b.Rank {
			return a.Rank - b.Rank
		}
		return strings.Compare(a.Name, b.Name)
	})
	return marshal(out)
}

var (
	hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	idRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

func checkHash(h string) error {
	if !hashRE.MatchString(h) {
		return leaderboard.Errorf(leaderboard.EINVALID, "model id %q is malformed: want 64 lowercase hex digits (a model entry's id, as the leaderboard lists it)", h)
	}
	return nil
}

func checkID(id string) error {
	if !idRE.MatchString(id) {
		return leaderboard.Errorf(leaderboard.EINVALID, "benchmark id %q is malformed: want letters, digits, '.', '_' or '-' (at most 128)", id)
	}
	return nil
}

func (s *Server) getModel(c *gin.Context) error {
	if err := noQuery(c); err != nil {
		return err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	// A unique id prefix names the model; a withdrawn one is 410 (withdrawn.go).
	hash, err := s.resolveModel(c.Request.Context(), st, c.Param("hash"))
	if err != nil {
		return err
	}
	m, ok := st.ix.Model(hash)
	if !ok {
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "no model with hash %s; list them at /api/v1/models", hash)
	}
	e, err := st.get(s, "model/"+hash, "application/json", func() ([]byte, error) {
		d := wire.ModelDetail{ModelSummary: st.summaries()[hash], Missing: []string{}, Rules: wire.CurrentRules(), Scores: []wire.ModelScore{},
			Paper: m.Paper, Description: m.Description, License: m.License, BibTeX: m.BibTeX}
		for _, b := range st.ix.Benchmarks() {
			if !b.Ranked() {
				continue // not averaged: never missing
			}
			if sc, ok := st.ix.Score(hash, b.ID); !ok || !leaderboard.CellOf(sc).Present {
				d.Missing = append(d.Missing, b.ID)
			}
		}
		for _, sc := range st.ix.ModelScores(hash) {
			b, _ := st.ix.Benchmark(sc.BenchmarkID)
			rdm := ""
			if s.rdms != nil {
				rdm = "/api/v1/models/" + hash + "/rdm/" + b.ID
			}
			d.Scores = append(d.Scores, wire.FromScore(b, sc, rdm))
		}
		return marshal(d)
	})
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

func (s *Server) getRDM(c *gin.Context) error {
	id := c.Param("benchmark")
	if err := checkID(id); err != nil {
		return err
	}
	if err := noQuery(c); err != nil {
		return err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	hash, err := s.resolveModel(c.Request.Context(), st, c.Param("hash"))
	if err != nil {
		return err
	}
	b, ok := st.ix.Benchmark(id)
	if !ok {
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %q; list them at /api/v1/benchmarks", id)
	}
	if b.Private {
		// Checked here, before any data is read, whatever the source does.
		return leaderboard.ErrPrivate
	}
	if s.rdms == nil {
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "this server has no RDMs")
	}
	ctx := c.Request.Context()
	e, err := st.getUnlimited(s, "rdm/"+hash+"/"+id, "application/json", func() ([]byte, error) {
		n, model, err := s.rdms.ModelRDM(ctx, hash, id)
		if err != nil {
			return nil, fmt.Errorf("model RDM %s on %s: %w", hash, id, err)
		}
		bn, brain, err := s.rdms.BrainRDM(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("brain RDM %s: %w", id, err)
		}
		if n != bn || len(model) != n*(n-1)/2 || len(brain) != len(model) {
			return nil, fmt.Errorf("RDMs of %s on %s disagree: n %d vs %d, %d and %d values", hash, id, n, bn, len(model), len(brain))
		}
		return marshal(wire.RDMPair{ModelHash: hash, BenchmarkID: id, N: n, Model: model, Brain: brain})
	})
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

func scoredCounts(ix *leaderboard.Index) map[string]int {
	n := make(map[string]int)
	for _, b := range ix.Benchmarks() {
		n[b.ID] = len(ix.RankBenchmark(b.ID))
	}
	return n
}

func (s *Server) getBenchmarks(c *gin.Context) error {
	if err := noQuery(c); err != nil {
		return err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return err
	}
	e, err := st.get(s, "benchmarks", "application/json", func() ([]byte, error) { return s.buildBenchmarks(st) })
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

func (s *Server) buildBenchmarks(st *state) ([]byte, error) {
	counts := scoredCounts(st.ix)
	out := wire.Benchmarks{Benchmarks: []wire.BenchmarkSummary{}}
	for _, b := range st.ix.Benchmarks() {
		out.Benchmarks = append(out.Benchmarks, wire.BenchmarkSummary{Benchmark: wire.FromBenchmark(b), ScoredModels: counts[b.ID]})
	}
	return marshal(out)
}

// benchmarkOf checks the request for a benchmark route and finds the
// benchmark in the current state.
func (s *Server) benchmarkOf(c *gin.Context) (*state, leaderboard.BenchmarkInfo, error) {
	id := c.Param("id")
	if err := checkID(id); err != nil {
		return nil, leaderboard.BenchmarkInfo{}, err
	}
	if err := noQuery(c); err != nil {
		return nil, leaderboard.BenchmarkInfo{}, err
	}
	st, err := s.current(c.Request.Context())
	if err != nil {
		return nil, leaderboard.BenchmarkInfo{}, err
	}
	b, ok := st.ix.Benchmark(id)
	if !ok {
		return nil, leaderboard.BenchmarkInfo{}, leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %q; list them at /api/v1/benchmarks", id)
	}
	return st, b, nil
}

func (s *Server) getBenchmark(c *gin.Context) error {
	st, b, err := s.benchmarkOf(c)
	if err != nil {
		return err
	}
	id := b.ID
	if e, ok := st.cached("benchmark/" + id); ok {
		serveEntry(c, e, s.apiCache())
		return nil
	}
	// The controls' reliability tests run outside the build slots (they
	// are bounded and memoized on their own, as comparisons are), and a
	// client that gives up does not cancel them.
	controls := s.benchmarkControls(context.WithoutCancel(c.Request.Context()), st, b)
	e, err := st.get(s, "benchmark/"+id, "application/json", func() ([]byte, error) {
		ranking := st.ix.RankBenchmark(id)
		d := wire.BenchmarkDetail{
			BenchmarkSummary: wire.BenchmarkSummary{Benchmark: wire.FromBenchmark(b), ScoredModels: len(ranking)},
			Ranking:          make([]wire.RankEntry, len(ranking)),
			Controls:         controls,
		}
		for i, r := range ranking {
			d.Ranking[i] = wire.RankEntry{Rank: r.Rank, Model: wire.FromModel(r.Model), Score: wire.FromCell(r.Cell)}
		}
		return marshal(d)
	})
	if err != nil {
		return err
	}
	serveEntry(c, e, s.apiCache())
	return nil
}

func contentType(name string) string {
	switch ext := path.Ext(name); ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return mime.TypeByExtension(ext)
	}
}

func (s *Server) getOpenAPI(c *gin.Context) error {
	serveEntry(c, s.openapi, s.apiCache())
	return nil
}

func (s *Server) page(name string) handler {
	return func(c *gin.Context) error {
		e, ok := s.static["web/"+name]
		if !ok {
			return fmt.Errorf("page %s not embedded", name)
		}
		// Pages are shells that fetch the API: revalidate every time.
		serveEntry(c, e, "no-cache")
		return nil
	}
}

func (s *Server) getStatic(c *gin.Context) error {
	e, ok := s.static["web/"+path.Clean(c.Param("file"))]
	if !ok {
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "no static file %q", c.Param("file"))
	}
	serveEntry(c, e, "no-cache")
	return nil
}

// loadStatic encodes the embedded files once.
func loadStatic() (map[string]*entry, *entry, error) {
	files := make(map[string]*entry)
	err := fs.WalkDir(webFS, "web", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := webFS.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = newEntry(contentType(p), b)
		return nil
	})
	return files, newEntry("application/json", openapiJSON), err
}
