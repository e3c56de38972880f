// Package httpapi serves the leaderboard over HTTP with gin: the JSON API
// under /api/v1 (with its OpenAPI document at /api/v1/openapi.json), CSV
// export, and the web page (embedded HTML, vanilla JS and SVG/canvas).
//
// Every response body is computed once per generation of the source's data
// and kept with its strong ETag and a gzip copy, so a request costs a map
// lookup and a write. Leaderboard pages are sliced from one ranking per
// filter, encoded row by row (pages.go); what is kept is bounded in count
// and bytes, and the builds running at once are limited (Config).
// Call Server.Invalidate after the data change (a scoring run finished, a
// benchmark was added): it reloads the Source, re-ranks and re-encodes the
// common responses (and ranks the filters asked for in the previous
// generation) before swapping them in. Server.Refresh does the same
// only when something changed (Serve calls it periodically).
//
// Mounting: the handler owns the whole path space ("/", "/models/…",
// "/benchmarks/…", "/static/…", "/api/v1/…"), so serve it at the root:
//
//	gin.SetMode(gin.ReleaseMode) // in cmd, once
//	srv, err := httpapi.NewServer(httpapi.Config{}, source, rdms)
//	if err != nil { … }
//	if err := srv.Invalidate(ctx); err != nil { … } // optional: warm up
//	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: srv.Handler()}
//	go hs.ListenAndServe()
//	// after every scoring run: srv.Invalidate(ctx)
package httpapi

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring"
)

// Config configures a Server. The zero value is valid: every zero field
// takes its default.
type Config struct {
	// MaxAge is the Cache-Control max-age of API responses (default 60s).
	MaxAge time.Duration
	// DefaultLimit is the leaderboard page size when no limit is given
	// (default 100); MaxLimit the largest limit accepted (default 5000).
	DefaultLimit, MaxLimit int
	// MaxCachedResponses bounds the encoded responses kept per generation
	// (default 4096), MaxCacheBytes their bytes, gzip copies included
	// (default 64 MiB); past either the oldest are dropped.
	MaxCachedResponses int
	MaxCacheBytes      int64
	// MaxRankedFilters bounds the filters whose ranking is kept per
	// generation to slice pages from (default 16; one is about 3.3 MB at
	// 1000 models × 20 benchmarks); past it the oldest is dropped.
	MaxRankedFilters int
	// MaxBuilds bounds the responses (and rankings) built at once (default
	// GOMAXPROCS); MaxQueuedBuilds the distinct builds waiting for a turn
	// (default 256, half of MaxConns): past it a request is answered 503
	// with Retry-After. Requests for a response being built wait for that
	// build. RDMs (read from storage) and comparisons (long, memoized)
	// are not counted: they must not hold the tokens of the quick builds.
	MaxBuilds, MaxQueuedBuilds int
	// Logger receives internal errors (default: discarded).
	Logger *slog.Logger
	// Comparer computes the model comparisons of a benchmark (nil: the
	// comparisons route answers 404). A comparison is computed on the
	// first request and kept while the benchmark's version and scores
	// stay the same, across generations.
	Comparer leaderboard.Comparer
	// Controls tests the trained models against the controls (entries of
	// family "control") of a benchmark, for the benchmark's detail (nil:
	// only the controls' scores and intervals are shown). ControlTimeout
	// bounds one benchmark's tests (default 60s) and MaxControlModels the
	// trained models tested, the best ranked (default 200); a result is
	// kept while the benchmark's version and scores stay the same.
	Controls         leaderboard.ControlTester
	ControlTimeout   time.Duration
	MaxControlModels int
	// MoreAPI lists OpenAPI 3 documents of other APIs mounted beside this
	// one (the submissions API); their paths and schemas are merged into
	// the document served at /api/v1/openapi.json.
	MoreAPI []API

	// Connection limits of Serve (issue 14): ReadHeaderTimeout bounds
	// the reading of a request's headers (default 10s), IdleTimeout how
	// long a keep-alive connection waits for its next request (default
	// 60s). A request body must arrive within BodyReadTimeout (default
	// 30s) plus its size at MinBodyRate bytes per second (default 16 KiB/s,
	// so a 500 MB upload may take up to 9 hours, a body trickled at 1 B/s is
	// cut after about 30s); the deadline is extended as bytes arrive.
	// MaxConns bounds the connections open at once (default 512); more
	// wait in the listen queue until one closes.
	ReadHeaderTimeout, IdleTimeout, BodyReadTimeout time.Duration
	MinBodyRate                                     int64
	MaxConns                                        int
}

func (c Config) withDefaults() Config {
	if c.MaxAge == 0 {
		c.MaxAge = 60 * time.Second
	}
	if c.DefaultLimit == 0 {
		c.DefaultLimit = 100
	}
	if c.MaxLimit == 0 {
		c.MaxLimit = 5000
	}
	if c.MaxCachedResponses == 0 {
		c.MaxCachedResponses = 4096
	}
	if c.MaxCacheBytes == 0 {
		c.MaxCacheBytes = 64 << 20
	}
	if c.MaxRankedFilters == 0 {
		c.MaxRankedFilters = 16
	}
	if c.MaxBuilds == 0 {
		c.MaxBuilds = runtime.GOMAXPROCS(0)
	}
	if c.MaxQueuedBuilds == 0 {
		c.MaxQueuedBuilds = 256
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = 30 * time.Second
	}
	if c.MinBodyRate == 0 {
		c.MinBodyRate = 16 << 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = 512
	}
	if c.ControlTimeout == 0 {
		c.ControlTimeout = 60 * time.Second
	}
	if c.MaxControlModels == 0 {
		c.MaxControlModels = 200
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.MaxAge < 0:
		return fmt.Errorf("httpapi: MaxAge %v is negative", c.MaxAge)
	case c.DefaultLimit < 1 || c.MaxLimit < c.DefaultLimit:
		return fmt.Errorf("httpapi: need 1 <= DefaultLimit (%d) <= MaxLimit (%d)", c.DefaultLimit, c.MaxLimit)
	case c.MaxCachedResponses < 1:
		return fmt.Errorf("httpapi: MaxCachedResponses %d < 1", c.MaxCachedResponses)
	case c.MaxCacheBytes < 1:
		return fmt.Errorf("httpapi: MaxCacheBytes %d < 1", c.MaxCacheBytes)
	case c.MaxRankedFilters < 1:
		return fmt.Errorf("httpapi: MaxRankedFilters %d < 1", c.MaxRankedFilters)
	case c.MaxBuilds < 1 || c.MaxQueuedBuilds < 0:
		return fmt.Errorf("httpapi: need MaxBuilds (%d) >= 1 and MaxQueuedBuilds (%d) >= 0", c.MaxBuilds, c.MaxQueuedBuilds)
	case c.ReadHeaderTimeout < 0 || c.IdleTimeout < 0 || c.BodyReadTimeout < 0:
		return fmt.Errorf("httpapi: negative timeout (ReadHeaderTimeout %v, IdleTimeout %v, BodyReadTimeout %v)", c.ReadHeaderTimeout, c.IdleTimeout, c.BodyReadTimeout)
	case c.MinBodyRate < 1:
		return fmt.Errorf("httpapi: MinBodyRate %d < 1 byte/s", c.MinBodyRate)
	case c.MaxConns < 1:
		return fmt.Errorf("httpapi: MaxConns %d < 1", c.MaxConns)
	case c.ControlTimeout < 0 || c.MaxControlModels < 1:
		return fmt.Errorf("httpapi: need ControlTimeout (%v) >= 0 and MaxControlModels (%d) >= 1", c.ControlTimeout, c.MaxControlModels)
	}
	return nil
}

// Server serves the leaderboard API and web page.
type Server struct {
	cfg    Config
	src    leaderboard.Source
	rdms   leaderboard.RDMSource
	engine *gin.Engine

	static  map[string]*entry // embedded web files by path, encoded once
	openapi *entry

	loadMu sync.Mutex // serialises Invalidate
	gen    uint64     // guarded by loadMu
	last   *loaded    // guarded by loadMu
	state  atomic.Pointer[state]

	builds chan struct{} // a token per build under way (MaxBuilds)
	queued atomic.Int64  // builds waiting for a token

	// cmpMemo keeps encoded comparisons by the fingerprint of their inputs
	// (benchmark version, and each model's score record), so a new
	// generation with the same scores does not rerun the bootstrap.
	cmpMu   sync.Mutex
	cmpMemo map[string][]byte

	// ctlMemo keeps the benchmarks' controls sections the same way, by
	// the fingerprint of their inputs.
	ctlMu   sync.Mutex
	ctlMemo map[string]*controlFlight
}

// state is one generation: the indexed data and the responses encoded from it.
type state struct {
	gen uint64
	ix  *leaderboard.Index

	// pinned holds the responses precomputed by reload; it is written only
	// before the state is published, so it is read without locking and is
	// never evicted.
	pinned map[string]*entry

	mu         sync.Mutex
	cache      map[string]*entry // built on demand, bounded
	order      []string          // cache keys of other responses, oldest first
	pageOrder  []string          // cache keys of leaderboard pages, oldest first
	cacheBytes int64
	pageBytes  int64             // of cacheBytes, held by pages
	inflight   map[string]*build // builds under way, so a burst builds once

	boardMu     sync.Mutex
	boards      map[string]*rankedBoard // by filter key, bounded
	boardOrder  []string
	boardFlight map[string]*boardBuild

	sumOnce sync.Once
	sums    map[string]wire.ModelSummary
}

// loaded is what the current generation was built from, so that Refresh
// can tell whether anything changed.
type loaded struct {
	models        []leaderboard.ModelInfo
	benchmarks    []leaderboard.BenchmarkInfo
	scores        []scoring.Score
	scoresVersion string // "" when the source cannot tell
}

type build struct {
	done chan struct{}
	e    *entry
	err  error
}

type boardBuild struct {
	done chan struct{}
	rb   *rankedBoard
	err  error
}

func newState(gen uint64, ix *leaderboard.Index) *state {
	return &state{gen: gen, ix: ix, pinned: make(map[string]*entry), cache: make(map[string]*entry), inflight: make(map[string]*build),
		boards: make(map[string]*rankedBoard), boardFlight: make(map[string]*boardBuild)}
}

// summaries returns every model's overall standing, computed once.
func (st *state) summaries() map[string]wire.ModelSummary {
	st.sumOnce.Do(func() { st.sums = summaries(st.ix) })
	return st.sums
}

// entry is an encoded response with its validators.
type entry struct {
	ctype  string
	body   []byte
	etag   string
	gz     []byte // nil when not worth compressing
	gzEtag string
}

// NewServer returns a server reading src (and rdms for the heat maps; nil
// disables the RDM route). It does no I/O: the data is loaded by the first
// request or by Invalidate.
func NewServer(cfg Config, src leaderboard.Source, rdms leaderboard.RDMSource) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if src == nil {
		return nil, errors.New("httpapi: nil Source")
	}
	s := &Server{cfg: cfg.withDefaults(), src: src, rdms: rdms, cmpMemo: make(map[string][]byte), ctlMemo: make(map[string]*controlFlight)}
	s.builds = make(chan struct{}, s.cfg.MaxBuilds)
	var err error
	if s.static, s.openapi, err = loadStatic(); err != nil {
		return nil, fmt.Errorf("httpapi: embedded files: %w", err)
	}
	if len(cfg.MoreAPI) > 0 {
		doc, err := mergeOpenAPI(openapiJSON, cfg.MoreAPI)
		if err != nil {
			return nil, fmt.Errorf("httpapi: merge OpenAPI documents: %w", err)
		}
		s.openapi = newEntry("application/json", doc)
	}
	s.engine = gin.New()
	s.engine.Use(func(c *gin.Context) { SetSecurityHeaders(c.Writer.Header()) })
	s.engine.Use(gin.CustomRecoveryWithWriter(nil, func(c *gin.Context, p any) {
		s.serveError(c, fmt.Errorf("panic: %v", p))
	}))
	s.routes()
	return s, nil
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.engine }

// Generation returns the number of the data generation being served (0
// before the first load). It grows by one with every successful Invalidate.
func (s *Server) Generation() uint64 {
	if st := s.state.Load(); st != nil {
		return st.gen
	}
	return 0
}

// Invalidate reloads the source, ranks it and encodes the common responses,
// then swaps them in: requests keep being answered from the previous
// generation until the new one is ready.
func (s *Server) Invalidate(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	_, err := s.reload(ctx, true)
	return err
}

// Refresh is Invalidate when something changed: it reads the models and
// benchmarks (small) and, when the Source is a
// leaderboard.ScoresVersioner, the scores' version, and reloads the
// scores only when that version moved. With nothing changed it keeps the
// current generation and reports false. Serve calls it periodically.
func (s *Server) Refresh(ctx context.Context) (reloaded bool, err error) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	return s.reload(ctx, false)
}

// reload builds a new generation; unless force, it does not when the
// source's content is what the current one was built from.
func (s *Server) reload(ctx context.Context, force bool) (bool, error) {
	version := ""
	if v, ok := s.src.(leaderboard.ScoresVersioner); ok {
		var err error
		if version, err = v.ScoresVersion(ctx); err != nil {
			return false, fmt.Errorf("httpapi: reload: scores version: %w", err)
		}
	}
	// Read after the version: a score added in between is loaded now and
	// reloaded once more on the next refresh, never missed.
	models, err := s.src.Models(ctx)
	if err != nil {
		return false, fmt.Errorf("httpapi: reload: load models: %w", err)
	}
	benchmarks, err := s.src.Benchmarks(ctx)
	if err != nil {
		return false, fmt.Errorf("httpapi: reload: load benchmarks: %w", err)
	}
	last := s.last
	sameScores := !force && last != nil && version != "" && version == last.scoresVersion
	if sameScores && slices.Equal(models, last.models) && sameBenchmarks(benchmarks, last.benchmarks) {
		return false, nil
	}
	var scores []scoring.Score
	if sameScores {
		scores = last.scores
	} else if scores, err = s.src.Scores(ctx); err != nil {
		return false, fmt.Errorf("httpapi: reload: load scores: %w", err)
	}
	ix := leaderboard.NewIndex(models, benchmarks, scores)
	st := newState(s.gen+1, ix)
	// Precompute what the landing page and most clients ask for.
	for _, limit := range []int{s.cfg.DefaultLimit, pageLimit} {
		if limit > s.cfg.MaxLimit {
			continue
		}
		q := leaderboardQuery{limit: limit}
		rb, err := st.board(s, q.filter, false)
		if err != nil {
			return false, fmt.Errorf("httpapi: precompute %s: %w", q.key(), err)
		}
		// Precomputed once per generation: worth the best compression
		// (a page's chunked gzip is about twice as large).
		st.pinned[q.key()] = newEntry("application/json", rb.page(q.offset, q.limit).body)
	}
	if err := st.pin("csv?"+(leaderboard.Filter{}).Key(), csvType, func() ([]byte, error) { return wire.CSV(ix.Rank(leaderboard.Filter{})) }); err != nil {
		return false, err
	}
	if err := st.pin("models", "application/json", func() ([]byte, error) { return s.buildModels(st) }); err != nil {
		return false, err
	}
	if err := st.pin("benchmarks", "application/json", func() ([]byte, error) { return s.buildBenchmarks(st) }); err != nil {
		return false, err
	}
	// Rank again the filters asked for in the previous generation (at
	// most MaxRankedFilters), so that after a refresh their pages are
	// slices of a ready ranking, not rankings built while users wait
	// (issue 15). A filter the new data rejects is left to the request,
	// which reports it.
	if prev := s.state.Load(); prev != nil {
		for _, f := range prev.rankedFilters() {
			if ix.CheckFilter(f) == nil {
				if _, err := st.board(s, f, false); err != nil {
					s.cfg.Logger.Warn("httpapi: rank a filter of the previous generation", "filter", f.Key(), "err", err)
				}
			}
		}
	}
	s.gen++
	s.state.Store(st)
	s.last = &loaded{models: models, benchmarks: benchmarks, scores: scores, scoresVersion: version}
	return true, nil
}

// sameBenchmarks compares benchmark lists, a NaN ceiling equal to a NaN.
func sameBenchmarks(a, b []leaderboard.BenchmarkInfo) bool {
	return slices.EqualFunc(a, b, func(x, y leaderboard.BenchmarkInfo) bool {
		xc, yc := x.Ceiling, y.Ceiling
		x.Ceiling, y.Ceiling = 0, 0
		return x == y && (xc == yc || math.IsNaN(xc) && math.IsNaN(yc))
	})
}

// pageLimit is the page size the web page asks for.
const pageLimit = 1000

const csvType = "text/csv; charset=utf-8"

// current returns the generation to serve, loading the first on demand.
func (s *Server) current(ctx context.Context) (*state, error) {
	if st := s.state.Load(); st != nil {
		return st, nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if st := s.state.Load(); st != nil {
		return st, nil
	}
	if _, err := s.reload(ctx, true); err != nil {
		return nil, err
	}
	return s.state.Load(), nil
}

// pin builds the response for key into the pinned set; only reload calls
// it, before the state is published.
func (st *state) pin(key, ctype string, fn func() ([]byte, error)) error {
	body, err := fn()
	if err != nil {
		return fmt.Errorf("httpapi: precompute %s: %w", key, err)
	}
	st.pinned[key] = newEntry(ctype, body)
	return nil
}

// get returns the response for key, building and caching it on a miss.
// Concurrent misses on one key wait for a single build.
func (st *state) get(s *Server, key, ctype string, fn func() ([]byte, error)) (*entry, error) {
	return st.getBody(s, key, ctype, true, fn)
}

// getUnlimited is get for builds that do not count against MaxBuilds:
// those that wait on storage (RDMs) or run long on their own schedule
// (comparisons, memoized across generations), which must not hold the
// tokens the quick CPU-bound builds (rankings, CSV, details) share.
func (st *state) getUnlimited(s *Server, key, ctype string, fn func() ([]byte, error)) (*entry, error) {
	return st.getBody(s, key, ctype, false, fn)
}

func (st *state) getBody(s *Server, key, ctype string, limit bool, fn func() ([]byte, error)) (*entry, error) {
	return st.getEntry(s, key, limit, func() (*entry, error) {
		body, err := fn()
		if err != nil {
			return nil, err
		}
		// Built on a request, while the request waits: compressed well,
		// but not at the best level, which costs ~150 ms on a 1 MB CSV;
		// past 16 KiB (CSV exports, model details) at the fastest level,
		// which costs half the default's CPU for ~15% more bytes (most of
		// the server's CPU after a refresh in BenchmarkLoad, issue 15).
		level := gzip.DefaultCompression
		if len(body) > 16<<10 {
			level = gzip.BestSpeed
		}
		return newEntryLevel(ctype, body, level), nil
	})
}

// getEntry is get for a builder that makes the entry itself; limit says
// whether the build counts against MaxBuilds (a page sliced from a
// ranking does not: the ranking does).
func (st *state) getEntry(s *Server, key string, limit bool, fn func() (*entry, error)) (*entry, error) {
	if e, ok := st.pinned[key]; ok {
		return e, nil
	}
	st.mu.Lock()
	if e, ok := st.cache[key]; ok {
		st.mu.Unlock()
		return e, nil
	}
	if b, ok := st.inflight[key]; ok {
		st.mu.Unlock()
		<-b.done
		return b.e, b.err
	}
	b := &build{done: make(chan struct{})}
	st.inflight[key] = b
	st.mu.Unlock()

	if limit {
		b.e, b.err = s.limited(fn)
	} else {
		b.e, b.err = fn()
	}

	st.mu.Lock()
	delete(st.inflight, key)
	if b.err == nil {
		st.insert(s.cfg, key, b.e)
	}
	st.mu.Unlock()
	close(b.done)
	return b.e, b.err
}

// insert caches e under key, dropping the oldest entries past the
// bounds; call with st.mu held. An entry larger than the whole byte
// budget is served but not kept.
//
// Leaderboard pages hold at most half the bytes and are dropped first: a
// page is sliced again from its ranking for about what it cost the first
// time, and pages of distinct offsets (limit=5000 ones are ~2 MB with
// their gzip copy) would otherwise push out the CSV exports and model
// details, which cost a ranking or an encoding to rebuild (issue 15).
func (st *state) insert(cfg Config, key string, e *entry) {
	size := e.size()
	isPage := strings.HasPrefix(key, pageKeyPrefix)
	if size > cfg.MaxCacheBytes || isPage && size > cfg.MaxCacheBytes/2 {
		return
	}
	dropOldest := func() {
		list := &st.order
		if len(st.pageOrder) > 0 {
			list = &st.pageOrder
		}
		old := (*list)[0]
		*list = (*list)[1:]
		if oe, ok := st.cache[old]; ok {
			st.cacheBytes -= oe.size()
			if list == &st.pageOrder {
				st.pageBytes -= oe.size()
			}
			delete(st.cache, old)
		}
	}
	for isPage && len(st.pageOrder) > 0 && st.pageBytes+size > cfg.MaxCacheBytes/2 {
		dropOldest()
	}
	for len(st.order)+len(st.pageOrder) > 0 && (len(st.cache) >= cfg.MaxCachedResponses || st.cacheBytes+size > cfg.MaxCacheBytes) {
		dropOldest()
	}
	st.cache[key] = e
	st.cacheBytes += size
	if isPage {
		st.pageOrder = append(st.pageOrder, key)
		st.pageBytes += size
	} else {
		st.order = append(st.order, key)
	}
}

// rankedFilters returns the filters whose ranking st keeps, oldest first.
func (st *state) rankedFilters() []leaderboard.Filter {
	st.boardMu.Lock()
	defer st.boardMu.Unlock()
	fs := make([]leaderboard.Filter, 0, len(st.boardOrder))
	for _, k := range st.boardOrder {
		if rb, ok := st.boards[k]; ok {
			fs = append(fs, rb.filter)
		}
	}
	return fs
}

// board returns the ranking of f encoded for slicing pages, ranking it on
// the first request; concurrent requests for one filter wait for it. The
// ranking counts against MaxBuilds when limit is set (requests; reload
// does not wait for them).
func (st *state) board(s *Server, f leaderboard.Filter, limit bool) (*rankedBoard, error) {
	key := f.Key()
	st.boardMu.Lock()
	if rb, ok := st.boards[key]; ok {
		st.boardMu.Unlock()
		return rb, nil
	}
	if b, ok := st.boardFlight[key]; ok {
		st.boardMu.Unlock()
		<-b.done
		return b.rb, b.err
	}
	b := &boardBuild{done: make(chan struct{})}
	st.boardFlight[key] = b
	st.boardMu.Unlock()

	if limit {
		_, b.err = s.limited(func() (*entry, error) {
			var err error
			b.rb, err = newRankedBoard(st.ix, f)
			return nil, err
		})
	} else {
		b.rb, b.err = newRankedBoard(st.ix, f)
	}

	st.boardMu.Lock()
	delete(st.boardFlight, key)
	if b.err == nil {
		for len(st.boardOrder) > 0 && len(st.boards) >= s.cfg.MaxRankedFilters {
			delete(st.boards, st.boardOrder[0])
			st.boardOrder = st.boardOrder[1:]
		}
		st.boards[key] = b.rb
		st.boardOrder = append(st.boardOrder, key)
	}
	st.boardMu.Unlock()
	close(b.done)
	return b.rb, b.err
}

// errBusy answers a request whose build cannot even queue.
var errBusy = apierr.Errorf(apierr.EUNAVAILABLE, "the server is busy building other responses; retry in a second")

// limited runs fn when one of the MaxBuilds tokens is free; with
// MaxQueuedBuilds builds already waiting it refuses at once (errBusy).
func (s *Server) limited(fn func() (*entry, error)) (*entry, error) {
	select {
	case s.builds <- struct{}{}:
	default:
		if s.queued.Add(1) > int64(s.cfg.MaxQueuedBuilds) {
			s.queued.Add(-1)
			return nil, errBusy
		}
		s.builds <- struct{}{}
		s.queued.Add(-1)
	}
	defer func() { <-s.builds }()
	return fn()
}

func (e *entry) size() int64 { return int64(len(e.body) + len(e.gz) + 200) }

// newEntry encodes a response precomputed once per generation (or once
// per process), compressed at the best level.
func newEntry(ctype string, body []byte) *entry {
	return newEntryLevel(ctype, body, gzip.BestCompression)
}

func newEntryLevel(ctype string, body []byte, level int) *entry {
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:16])
	e := &entry{ctype: ctype, body: body, etag: `"` + tag + `"`}
	if len(body) >= 1024 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, level)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			e.gz = buf.Bytes()
			// A strong ETag names one representation: the gzip one differs.
			e.gzEtag = `"` + tag + `-gz"`
		}
	}
	return e
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return b, nil
}
