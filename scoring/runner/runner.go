// Package runner scores models on benchmarks: a small loop (open the
// benchmark → its metric's candidate layers → extraction → the metric →
// store) over the metrics of one table (metrics.go), each metric one type
// in one file. See package scoring's documentation for adding a metric.
package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
)

// Model is a network the runner can take activations from.
type Model interface {
	Hash() string // sha256 of the ONNX file
	Name() string
	// Layers lists every layer in topological order.
	Layers() []models.Layer
	// Features is the number of values per stimulus Extract delivers for
	// layer l (after any in-graph reduction).
	Features(l models.Layer) int
	// Extract runs the network over stim and hands every chosen layer's
	// mini-batches to c.
	Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error
}

// SessionHolder is a Model that can keep its inference session open
// between extractions (onnxrun.Model.HoldSessions): Run holds it for the
// run, so benchmarks with several image sets on the same layers (and sets
// shared by benchmarks) do not each start a session.
type SessionHolder interface {
	HoldSessions() (release func())
}

// Benchmarks opens benchmarks for scoring.
type Benchmarks interface {
	Open(ctx context.Context, ref string) (*benchmarks.Loaded, error)
}

// Results stores scores. Get reports ok=false when there is none.
type Results interface {
	GetScore(ctx context.Context, k scoring.Key) (s scoring.Score, ok bool, err error)
	PutScore(ctx context.Context, s scoring.Score) error
}

// ModelRDMs optionally keeps the reported layer's RDM of an RSA benchmark,
// for the leaderboard's heat maps.
// A ModelRDMs that is also an RDMChecker is asked, when a score is found
// stored, whether the model RDM kept with it is still good.
type ModelRDMs interface {
	PutModelRDM(ctx context.Context, modelHash, benchmarkID string, n int, upper []float64) error
}

// RDMChecker reports whether a stored model RDM must be computed again
// (stale: it is corrupt, or was stored without a checksum; why says so).
// None stored is not stale.
type RDMChecker interface {
	CheckModelRDM(ctx context.Context, modelHash, benchmarkID string) (stale bool, why error)
}

// Config tunes a Runner. The zero value is not valid; start from
// DefaultConfig.
type Config struct {
	// Candidates is the default for RSA benchmarks; RidgeCandidates for
	// encoding benchmarks, whose per-layer cost is far higher. A
	// comma-separated list of layer ids ("L010.Conv,L020.Add") names a
	// subset.
	Candidates      Candidates
	RidgeCandidates Candidates
	// Bootstrap is the number of resamples of the bootstrap interval.
	Bootstrap int
	// FeatureBudget bounds the bytes of activations held at once; layers
	// are extracted in groups that fit (one forward pass per group).
	FeatureBudget int64
	// PeakRSS reports the process's peak resident memory (optional).
	PeakRSS func() int64
	// Now is the clock (optional, for tests).
	Now func() time.Time
	// Fresh computes every score with this configuration, neither reading
	// nor storing results. A stored score is kept once per key, whatever
	// settings a later run asks for; Fresh is how to see what other
	// settings (candidate layers, bootstrap, reduction) give.
	Fresh bool
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{Candidates: AllButOutput, RidgeCandidates: "spaced:20", Bootstrap: 1000, FeatureBudget: 1 << 30}
}

// Validate reports a configuration that cannot run.
func (c Config) Validate() error {
	if c.Candidates == "" || c.RidgeCandidates == "" {
		return errors.New("runner config: candidates not set")
	}
	if c.Bootstrap < 0 {
		return fmt.Errorf("runner config: bootstrap %d is negative", c.Bootstrap)
	}
	if c.FeatureBudget <= 0 {
		return fmt.Errorf("runner config: feature budget %d bytes must be positive", c.FeatureBudget)
	}
	return nil
}

// Event reports progress.
type Event struct {
	Model, Benchmark string
	Stage            string // "cached", "recompute", "extracting", "scoring", "done", "failed"
	Done, Total      int
	Message          string
}

// Runner scores models on benchmarks. A Runner runs one model at a time:
// Run must not be called concurrently.
type Runner struct {
	bench   Benchmarks
	results Results
	env     *Env
	metrics map[benchmarks.MetricKind]Metric
	// commits memoises region commitments within a Run (commit.go).
	commits map[commitKey]commitment
	// stored holds the keys of the scores this runner stored, so that a
	// later read of one is not announced as an old result.
	stored map[scoring.Key]bool
	// fresh holds, within a Run with Config.Fresh, the scores computed so
	// far, so a public partner listed too is not computed twice (once for
	// itself, once for its private benchmark's committed layer).
	fresh map[scoring.Key]scoring.Score
	// The last Run's timings: in total and per benchmark (timings.go).
	total      *timings
	benchTimes map[string]*benchTiming
	benchOrder []*benchTiming
	benchStack *benchTiming
}

// NewRunner returns a runner. rdms and progress may be nil.
func NewRunner(cfg Config, b Benchmarks, r Results, rdms ModelRDMs, progress func(Event)) (*Runner, error) {
	return newRunner(cfg, b, r, rdms, progress, metrics)
}

func newRunner(cfg Config, b Benchmarks, r Results, rdms ModelRDMs, progress func(Event), table map[benchmarks.MetricKind]Metric) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if progress == nil {
		progress = func(Event) {}
	}
	if cfg.Fresh {
		rdms = nil // nothing is stored, the model RDMs neither
	}
	env := &Env{cfg: cfg, rdms: rdms, progress: progress}
	return &Runner{bench: shownBenchmarks{b, env}, results: r, env: env, metrics: table}, nil
}

// Failure classes, wrapped by Run's errors so callers can tell a submitter
// what to do (the same values as scoring.ErrBadModel and
// scoring.ErrInternal).
var (
	ErrBadModel = scoring.ErrBadModel
	ErrInternal = scoring.ErrInternal
)

// Run scores model on every benchmark in refs (private benchmarks after the
// public partners their layer is committed on, benchmarks in commit mode
// after their region's commit benchmarks, see commit.go) and returns the
// scores, from the results store where they exist already. The commit
// benchmarks a committed layer was chosen on are scored (and stored) too,
// but only the scores of refs are returned. A model that is a
// SessionHolder keeps its session between extractions for the run.
func (r *Runner) Run(ctx context.Context, m Model, refs []string) ([]scoring.Score, error) {
	if h, ok := m.(SessionHolder); ok {
		defer h.HoldSessions()()
	}
	r.env.layerRDMs = map[string][][]float64{}
	r.total = &timings{}
	r.env.timings = r.total
	r.benchTimes, r.benchOrder, r.benchStack = map[string]*benchTiming{}, nil, nil
	r.commits = map[commitKey]commitment{}
	r.fresh = map[scoring.Key]scoring.Score{}
	defer func() { r.env.layerRDMs, r.commits, r.fresh = nil, nil, nil }()
	defer func() { r.env.degrees = nil }()
	loaded := make([]*benchmarks.Loaded, 0, len(refs))
	byID := map[string]*benchmarks.Loaded{}
	var open func(ref string) (*benchmarks.Loaded, error)
	open = func(ref string) (*benchmarks.Loaded, error) {
		if l, ok := byID[ref]; ok {
			return l, nil
		}
		done := r.timeBenchmark(ref)
		start := time.Now()
		l, err := r.bench.Open(ctx, ref)
		r.env.timings.add(stageOpen, start)
		done()
		if err != nil {
			return nil, fmt.Errorf("open benchmark %s: %w", ref, err)
		}
		byID[ref] = l
		return l, nil
	}
	for _, ref := range refs {
		l, err := open(ref)
		if err != nil {
			return nil, err
		}
		loaded = append(loaded, l)
	}
	// Public ones first: a private benchmark scores the layer committed on
	// its partner, a benchmark in commit mode the layer committed on its
	// region's commit benchmarks (commit.go).
	slices.SortStableFunc(loaded, func(a, b *benchmarks.Loaded) int {
		return boolInt(dependent(a.Benchmark)) - boolInt(dependent(b.Benchmark))
	})
	r.groupByCandidates(m, loaded)
	r.env.reuse, r.env.reuseRun, r.env.reuseDone = nil, loaded, false
	defer func() {
		r.env.reuse.release()
		r.env.reuse, r.env.reuseRun = nil, nil
	}()
	var out []scoring.Score
	for _, l := range loaded {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		s, err := r.score(ctx, m, l, open)
		if err != nil {
			r.env.progress(Event{Model: m.Name(), Benchmark: l.Benchmark.ID, Stage: "failed", Message: err.Error()})
			return out, fmt.Errorf("score %s on %s: %w", m.Name(), l.Benchmark.ID, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// groupByCandidates puts next to each other, stably, the public
// benchmarks of loaded (a prefix: dependent ones follow) whose metrics
// take the same candidate layers of m: the model keeps one ONNX Runtime
// session between extractions of the same layers (SessionHolder), so
// kriegeskorte2008's extraction of MobileNetV2's 240 layers no longer
// opens and warms up again the session algonauts2019-92's left, closed by
// cowley2023.V4.public's 20 layers in between (~1.6 s on 2 cores). Which
// benchmark is scored first changes no score.
func (r *Runner) groupByCandidates(m Model, loaded []*benchmarks.Loaded) {
	public := 0
	for public < len(loaded) && !dependent(loaded[public].Benchmark) {
		public++
	}
	key := make(map[*benchmarks.Loaded]string, public)
	first := map[string]int{}
	for i, l := range loaded[:public] {
		k := "\x00" + l.Benchmark.ID // its own group, unless its candidates are known
		if metric, ok := r.metrics[l.Benchmark.Metric.Kind]; ok {
			if layers, _, err := metric.Candidates(r.env.cfg, m, l.Benchmark); err == nil {
				ids := make([]string, len(layers))
				for j, ly := range layers {
					ids[j] = ly.ID
				}
				k = strings.Join(ids, "\x00")
			}
		}
		key[l] = k
		if _, ok := first[k]; !ok {
			first[k] = i
		}
	}
	slices.SortStableFunc(loaded[:public], func(a, b *benchmarks.Loaded) int {
		return first[key[a]] - first[key[b]]
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// score returns the stored score of m on l, computing it if absent.
func (r *Runner) score(ctx context.Context, m Model, l *benchmarks.Loaded, open func(string) (*benchmarks.Loaded, error)) (scoring.Score, error) {
	b := l.Benchmark
	defer r.timeBenchmark(b.ID)()
	red, err := r.ready(ctx, m, l)
	if err != nil {
		return scoring.Score{}, err
	}
	key := scoring.Key{ModelHash: m.Hash(), BenchmarkVersion: b.Version, ScorerVersion: scorerVersion(red)}
	metric, ok := r.metrics[b.Metric.Kind]
	if !ok {
		return scoring.Score{}, fmt.Errorf("%w: benchmark %s has unknown metric %q", ErrInternal, b.ID, b.Metric.Kind)
	}
	// stored is set when a stored score is computed again only to rewrite
	// the model RDM kept with it; the stored score stays as it is.
	var stored *scoring.Score
	if !r.env.cfg.Fresh {
		t0 := time.Now()
		s, ok, err := r.results.GetScore(ctx, key)
		r.env.timings.add(stageOpen, t0)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("%w: read stored score: %w", ErrInternal, err)
		} else if ok {
			redo := false
			if red == "" { // a reduced score keeps no model RDM
				if redo, err = r.redoModelRDM(ctx, metric, m, b, s); err != nil {
					return scoring.Score{}, err
				}
			}
			if !redo {
				r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "cached", Message: r.cachedMessage(metric, m, b, key, s)})
				return s, nil
			}
			stored = &s
		}
	}
	if s, ok := r.fresh[key]; ok && r.env.cfg.Fresh {
		r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "cached", Message: "computed earlier in this run: " + scoreLine(s) + ", not stored"})
		return s, nil
	}
	start := r.env.cfg.Now()
	var s scoring.Score
	declared := false
	if _, ok := metric.(Committer); ok && b.Partner != "" {
		if _, declared, err = declaredLayer(m, region(b)); err != nil {
			return scoring.Score{}, err
		}
	}
	switch {
	case commitMode(b) || declared:
		s, err = r.scoreRegion(ctx, metric, m, l, open)
		if err != nil {
			return scoring.Score{}, err
		}
	case b.Partner != "":
		partner, err := open(b.Partner)
		if err != nil {
			return scoring.Score{}, err
		}
		ps, err := r.score(ctx, m, partner, open)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("partner %s: %w", b.Partner, err)
		}
		if _, err := r.ready(ctx, m, l); err != nil { // scoring the partner readied m for it
			return scoring.Score{}, err
		}
		s, err = r.scoreCommitted(ctx, metric, m, l, ps)
		if err != nil {
			return scoring.Score{}, err
		}
	default:
		s, err = r.scoreHeldOut(ctx, metric, m, l)
		if err != nil {
			return scoring.Score{}, err
		}
	}
	s.ModelHash, s.ModelName = m.Hash(), m.Name()
	s.BenchmarkID, s.BenchmarkVersion, s.ScorerVersion = b.ID, b.Version, key.ScorerVersion
	applyConventions(b, &s) // Ceiled under b's transform, and Conventions
	s.Conventions.Reduction = red
	s.CreatedAt = r.env.cfg.Now().UTC()
	s.Elapsed = s.CreatedAt.Sub(start)
	s.Conventions.Degrees, s.Conventions.FieldOfView = shownAt(m, b)
	if r.env.cfg.PeakRSS != nil {
		s.PeakRSSBytes = r.env.cfg.PeakRSS()
	}
	if r.env.cfg.Fresh {
		if r.fresh != nil {
			r.fresh[key] = s
		}
		r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "done", Message: scoreLine(s) + ", not stored"})
		return s, nil
	}
	if stored != nil {
		r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "done", Message: fmt.Sprintf("model RDM of layer %s stored again; the stored score is kept", s.Layer)})
		return *stored, nil
	}
	t0 := time.Now()
	err = r.results.PutScore(ctx, s)
	r.env.timings.add(stageOpen, t0)
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%w: store score: %w", ErrInternal, err)
	}
	if r.stored == nil {
		r.stored = map[scoring.Key]bool{}
	}
	r.stored[key] = true
	r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "done", Message: scoreLine(s)})
	return s, nil
}

// scoreLine is a score in a progress line: "ceiled 0.456 (raw 0.123,
// layer L042.Conv)", or "raw 0.123 (no ceiling), layer L042.Conv" for a
// benchmark without a noise ceiling.
func scoreLine(s scoring.Score) string {
	if math.IsNaN(s.Ceiled) || math.IsInf(s.Ceiled, 0) {
		return fmt.Sprintf("raw %.3f (no ceiling), layer %s", s.Raw, s.Layer)
	}
	return fmt.Sprintf("ceiled %.3f (raw %.3f, layer %s)", s.Ceiled, s.Raw, s.Layer)
}

// cachedMessage says that s, m's stored score on b under key, is used.
// Advice to compute again with --fresh is given only when this run asked
// for what s cannot give: other candidate layers than s competed over. (A
// score of an older scorer or benchmark version is never found: both are
// in the key.) A score this runner stored itself is only named.
func (r *Runner) cachedMessage(metric Metric, m Model, b *benchmarks.Benchmark, key scoring.Key, s scoring.Score) string {
	if r.stored[key] {
		return "stored earlier in this run: " + scoreLine(s)
	}
	msg := fmt.Sprintf("stored score: %s, computed %s", scoreLine(s), s.CreatedAt.UTC().Format("2006-01-02 15:04"))
	if dependent(b) {
		return msg // its layers are those of its partner or region
	}
	if _, cand, err := metric.Candidates(r.env.cfg, m, b); err == nil && cand != s.Candidates {
		msg += fmt.Sprintf("; it was computed with layers %s, not %s as asked: 'cortexbench score --fresh' computes with these settings, without storing", s.Candidates, cand)
	}
	return msg
}

// redoModelRDM reports whether stored, m's stored score on b, is to be
// computed again because the model RDM kept with it cannot be trusted
// (corrupt, or stored without a checksum): a corrupt RDM is never used,
// only rewritten. That is done only with the settings that chose the
// stored score's layer, so the RDM rewritten is of that layer.
func (r *Runner) redoModelRDM(ctx context.Context, metric Metric, m Model, b *benchmarks.Benchmark, stored scoring.Score) (bool, error) {
	c, ok := r.env.rdms.(RDMChecker)
	if !ok {
		return false, nil
	}
	stale, why := c.CheckModelRDM(ctx, m.Hash(), b.ID)
	if !stale {
		if why != nil {
			return false, fmt.Errorf("%w: check stored model RDM: %w", ErrInternal, why)
		}
		return false, nil
	}
	_, committed := metric.(Committer)
	if !dependent(b) || !committed {
		_, cand, err := metric.Candidates(r.env.cfg, m, b)
		if err != nil || cand != stored.Candidates {
			r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "cached",
				Message: fmt.Sprintf("stored score; its model RDM cannot be trusted (%v) and is rewritten only by scoring with the settings of the stored score (layers %s)", why, stored.Candidates)})
			return false, nil
		}
	}
	r.env.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "recompute",
		Message: fmt.Sprintf("stored score, but its model RDM cannot be trusted (%v): computing again to replace it", why)})
	return true, nil
}

// scoreHeldOut scores a benchmark with its metric on the metric's
// candidate layers.
func (r *Runner) scoreHeldOut(ctx context.Context, metric Metric, m Model, l *benchmarks.Loaded) (scoring.Score, error) {
	layers, cand, err := metric.Candidates(r.env.cfg, m, l.Benchmark)
	if err != nil {
		return scoring.Score{}, err
	}
	s, err := metric.Score(ctx, r.env, m, l, layers)
	if err != nil {
		return scoring.Score{}, err
	}
	s.Candidates = cand
	return s, nil
}

// scoreCommitted scores a private benchmark on the layer committed on its
// public partner: that one layer, on all its data. A metric that cannot
// score a given layer (it is not a Committer) fits and chooses within the
// benchmark, and the partner is not needed.
func (r *Runner) scoreCommitted(ctx context.Context, metric Metric, m Model, l *benchmarks.Loaded, partner scoring.Score) (scoring.Score, error) {
	b := l.Benchmark
	c, ok := metric.(Committer)
	if !ok {
		s, err := r.scoreHeldOut(ctx, metric, m, l)
		if err != nil {
			return scoring.Score{}, err
		}
		s.Selection = "cross-validated within this benchmark (the partner " + b.Partner + " is not needed); " + s.Selection
		s.SelectionData.Partner = b.Partner
		return s, nil
	}
	var layer models.Layer
	found := false
	for _, ly := range m.Layers() {
		if ly.ID == partner.Layer {
			layer, found = ly, true
		}
	}
	if !found {
		return scoring.Score{}, fmt.Errorf("%w: layer %s committed on %s is not in %s", ErrInternal, partner.Layer, b.Partner, m.Name())
	}
	s, err := c.ScoreLayer(ctx, r.env, m, l, layer)
	if err != nil {
		return scoring.Score{}, err
	}
	s.Layer, s.Selection, s.Candidates, s.Seed = layer.ID, "committed on "+b.Partner, partner.Candidates, b.Metric.Seed
	s.SelectionData = scoring.Selection{Method: scoring.Committed, Partner: b.Partner}
	s.Layers = []scoring.LayerScore{{Layer: layer.ID, Name: layer.Name(), Depth: layer.Depth, Raw: s.Raw, Ceiled: ceiledBy(b, s.Raw, s.Ceiling), SE: s.SE}}
	return s, nil
}

// StimulusKey identifies a stimulus set by content, for caching.
func StimulusKey(set benchmarks.StimulusSet) string {
	h := sha256.New()
	if set.Zip != nil {
		fmt.Fprintf(h, "zip %s\n", set.Zip.SHA256)
	}
	for _, s := range set.Stimuli {
		if s.File != nil {
			fmt.Fprintf(h, "file %s\n", s.File.SHA256)
		} else {
			fmt.Fprintf(h, "member %s\n", s.Member)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
