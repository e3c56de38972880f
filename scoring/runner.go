package scoring

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"image"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
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

// Benchmarks opens benchmarks for scoring.
type Benchmarks interface {
	Open(ctx context.Context, ref string) (*benchmarks.Loaded, error)
}

// Key identifies a result: running again with the same key is a no-op.
type Key struct{ ModelHash, BenchmarkVersion, ScorerVersion string }

// Results stores scores. Get reports ok=false when there is none.
type Results interface {
	GetScore(ctx context.Context, k Key) (s Score, ok bool, err error)
	PutScore(ctx context.Context, s Score) error
}

// ModelRDMs optionally keeps the reported layer's RDM of an RSA benchmark,
// for the leaderboard's heat maps.
type ModelRDMs interface {
	PutModelRDM(ctx context.Context, modelHash, benchmarkID string, n int, upper []float64) error
}

// Candidates names which layers compete for a benchmark.
type Candidates string

const (
	// AllButOutput: every per-stimulus layer except the network's output
	// (class logits or probabilities mostly encode the training labels).
	AllButOutput Candidates = "all-but-output"
	// AllLayers: every per-stimulus layer.
	AllLayers Candidates = "all"
	// Blocks: block outputs only: the outputs of merges (Add, Sum, Concat)
	// and of pooling, where residual and inception blocks end.
	Blocks Candidates = "blocks"
	// "spaced:K" takes K layers evenly spaced in topological order among
	// AllButOutput, for metrics too costly to run on every layer.
	spacedPrefix = "spaced:"
)

// blockOps are the operators whose outputs end a block.
var blockOps = map[string]bool{"Add": true, "Sum": true, "Concat": true, "MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true}

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
	Stage            string // "cached", "extracting", "scoring", "done", "failed"
	Done, Total      int
	Message          string
}

// Runner scores models on benchmarks. A Runner runs one model at a time:
// Run must not be called concurrently.
type Runner struct {
	cfg      Config
	bench    Benchmarks
	results  Results
	rdms     ModelRDMs
	progress func(Event)

	// layerRDMs keeps, for the model being run, the layer RDMs of each
	// stimulus set, so benchmarks sharing stimuli (the EVC and IT RDMs of
	// one experiment) extract once.
	layerRDMs map[string][][]float64
}

// NewRunner returns a runner. rdms and progress may be nil.
func NewRunner(cfg Config, b Benchmarks, r Results, rdms ModelRDMs, progress func(Event)) (*Runner, error) {
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
	return &Runner{cfg: cfg, bench: b, results: r, rdms: rdms, progress: progress}, nil
}

// Failure classes, wrapped by Run's errors so callers can tell a submitter
// what to do.
var (
	ErrBadModel = errors.New("bad model")
	ErrInternal = errors.New("internal error")
)

// Run scores model on every benchmark in refs (private benchmarks after the
// public partners their layer is committed on) and returns the scores, from
// the results store where they exist already.
func (r *Runner) Run(ctx context.Context, m Model, refs []string) ([]Score, error) {
	r.layerRDMs = map[string][][]float64{}
	defer func() { r.layerRDMs = nil }()
	loaded := make([]*benchmarks.Loaded, 0, len(refs))
	byID := map[string]*benchmarks.Loaded{}
	var open func(ref string) (*benchmarks.Loaded, error)
	open = func(ref string) (*benchmarks.Loaded, error) {
		if l, ok := byID[ref]; ok {
			return l, nil
		}
		l, err := r.bench.Open(ctx, ref)
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
	// its partner.
	slices.SortStableFunc(loaded, func(a, b *benchmarks.Loaded) int {
		return boolInt(a.Benchmark.Partner != "") - boolInt(b.Benchmark.Partner != "")
	})
	var out []Score
	for _, l := range loaded {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		s, err := r.score(ctx, m, l, open)
		if err != nil {
			r.progress(Event{Model: m.Name(), Benchmark: l.Benchmark.ID, Stage: "failed", Message: err.Error()})
			return out, fmt.Errorf("score %s on %s: %w", m.Name(), l.Benchmark.ID, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// score returns the stored score of m on l, computing it if absent.
func (r *Runner) score(ctx context.Context, m Model, l *benchmarks.Loaded, open func(string) (*benchmarks.Loaded, error)) (Score, error) {
	b := l.Benchmark
	key := Key{ModelHash: m.Hash(), BenchmarkVersion: b.Version, ScorerVersion: ScorerVersion}
	if !r.cfg.Fresh {
		if s, ok, err := r.results.GetScore(ctx, key); err != nil {
			return Score{}, fmt.Errorf("%w: read stored score: %v", ErrInternal, err)
		} else if ok {
			r.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "cached",
				Message: fmt.Sprintf("stored score, computed %s with layers %s ('cortexbench score --fresh' computes again with other settings, without storing)", s.CreatedAt.UTC().Format("2006-01-02 15:04"), s.Candidates)})
			return s, nil
		}
	}
	start := r.cfg.Now()
	var s Score
	var err error
	if b.Partner != "" {
		partner, err := open(b.Partner)
		if err != nil {
			return Score{}, err
		}
		ps, err := r.score(ctx, m, partner, open)
		if err != nil {
			return Score{}, fmt.Errorf("partner %s: %w", b.Partner, err)
		}
		s, err = r.scoreCommitted(ctx, m, l, ps)
		if err != nil {
			return Score{}, err
		}
	} else {
		s, err = r.scoreHeldOut(ctx, m, l)
		if err != nil {
			return Score{}, err
		}
	}
	s.ModelHash, s.ModelName = m.Hash(), m.Name()
	s.BenchmarkID, s.BenchmarkVersion, s.ScorerVersion = b.ID, b.Version, ScorerVersion
	s.Ceiled = ceiled(s.Raw, s.Ceiling)
	s.CreatedAt = r.cfg.Now().UTC()
	s.Elapsed = s.CreatedAt.Sub(start)
	if r.cfg.PeakRSS != nil {
		s.PeakRSSBytes = r.cfg.PeakRSS()
	}
	if r.cfg.Fresh {
		r.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "done", Message: fmt.Sprintf("ceiled %.3f (raw %.3f, layer %s), not stored", s.Ceiled, s.Raw, s.Layer)})
		return s, nil
	}
	if err := r.results.PutScore(ctx, s); err != nil {
		return Score{}, fmt.Errorf("%w: store score: %v", ErrInternal, err)
	}
	r.progress(Event{Model: m.Name(), Benchmark: b.ID, Stage: "done", Message: fmt.Sprintf("ceiled %.3f (raw %.3f, layer %s)", s.Ceiled, s.Raw, s.Layer)})
	return s, nil
}

func ceiled(raw, ceiling float64) float64 {
	if !(ceiling > 0) {
		return math.NaN()
	}
	return raw / ceiling
}

// candidates returns the layers that compete on a benchmark.
func candidates(m Model, policy Candidates) ([]models.Layer, error) {
	var out []models.Layer
	all := m.Layers()
	if strings.HasPrefix(string(policy), "L") || strings.Contains(string(policy), ",") {
		want := map[string]bool{}
		for _, id := range strings.Split(string(policy), ",") {
			want[strings.TrimSpace(id)] = true
		}
		for _, l := range all {
			if want[l.ID] && l.PerStimulus {
				out = append(out, l)
				delete(want, l.ID)
			}
		}
		if len(want) > 0 {
			missing := make([]string, 0, len(want))
			for id := range want {
				missing = append(missing, id)
			}
			slices.Sort(missing)
			return nil, fmt.Errorf("%w: no per-stimulus layer %s in %s", ErrBadModel, strings.Join(missing, ", "), m.Name())
		}
		return out, nil
	}
	spaced := 0
	if k, ok := strings.CutPrefix(string(policy), spacedPrefix); ok {
		if _, err := fmt.Sscan(k, &spaced); err != nil || spaced < 1 {
			return nil, fmt.Errorf("layer policy %q: want spaced:K with K ≥ 1", policy)
		}
		policy = AllButOutput
	}
	head := outputHead(all)
	for _, l := range all {
		if !l.PerStimulus || m.Features(l) < 2 {
			continue
		}
		switch policy {
		case AllLayers:
		case AllButOutput:
			if head[l.ID] {
				continue
			}
		case Blocks:
			if head[l.ID] || !blockOps[l.Op] {
				continue
			}
		default:
			return nil, fmt.Errorf("unknown layer policy %q (want all, all-but-output, blocks, spaced:K or a list of layer ids)", policy)
		}
		out = append(out, l)
	}
	if spaced > 0 && spaced < len(out) {
		picked := make([]models.Layer, spaced)
		for i := range picked {
			// Evenly spaced, always ending on the deepest candidate.
			picked[i] = out[(i+1)*len(out)/spaced-1]
		}
		out = picked
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no candidate layers under policy %s", ErrBadModel, m.Name(), policy)
	}
	return out, nil
}

// outputHead returns the network's output head: the output tensors and
// the layers right before them in topological order that have the same
// number of values per stimulus (the class logits, their bias, softmax
// and any quantisation clip around them). It encodes the training labels
// more than the image, so by default it does not compete.
func outputHead(layers []models.Layer) map[string]bool {
	head := map[string]bool{}
	var size int64 = -2
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		if !l.PerStimulus {
			continue
		}
		if l.IsOutput {
			head[l.ID] = true
			if size == -2 {
				size = l.Features()
			}
			continue
		}
		if size == -2 || l.Features() != size {
			break
		}
		head[l.ID] = true
	}
	return head
}

// features holds one stimulus set's activations of a group of layers.
type features struct {
	n    int
	data map[string]linalg.Matrix[float32] // by layer id
}

func (f *features) Consume(l models.Layer, first int, rows [][]float32) error {
	x, ok := f.data[l.ID]
	if !ok {
		q := len(rows[0])
		x = linalg.NewMatrix[float32](f.n, q)
		f.data[l.ID] = x
	}
	for i, row := range rows {
		if len(row) != x.Cols {
			return fmt.Errorf("%w: layer %s gave %d values for stimulus %d, %d before", ErrInternal, l.ID, len(row), first+i, x.Cols)
		}
		if err := finite(row); err != nil {
			return fmt.Errorf("%w: layer %s, stimulus %d: %v", ErrBadModel, l.ID, first+i, err)
		}
		copy(x.Row(first+i), row)
	}
	return nil
}

func finite(row []float32) error {
	for j, v := range row {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("activation %d is %v (the network produces NaN or Inf on this image)", j, v)
		}
	}
	return nil
}

// forEachGroup extracts the layers over stim in groups that fit the
// feature budget and calls fn with each group's activations.
func (r *Runner) forEachGroup(ctx context.Context, m Model, bench string, stim models.Stimuli, layers []models.Layer, fn func(layers []models.Layer, f *features) error) error {
	n := stim.Len()
	var groups [][]models.Layer
	var cur []models.Layer
	var bytes int64
	for _, l := range layers {
		sz := int64(n) * int64(m.Features(l)) * 4
		if len(cur) > 0 && bytes+sz > r.cfg.FeatureBudget {
			groups = append(groups, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, l)
		bytes += sz
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	for g, group := range groups {
		f := &features{n: n, data: map[string]linalg.Matrix[float32]{}}
		msg := fmt.Sprintf("%d layers, pass %d of %d", len(group), g+1, len(groups))
		err := m.Extract(ctx, stim, group, f, func(done, total int) {
			r.progress(Event{Model: m.Name(), Benchmark: bench, Stage: "extracting", Done: done, Total: total, Message: msg})
		})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: extract %s: %v", ErrBadModel, msg, err)
		}
		if err := fn(group, f); err != nil {
			return err
		}
	}
	return nil
}

// images adapts benchmark stimuli to the models' image source.
type images struct {
	ctx context.Context
	s   *benchmarks.Stimuli
}

func (im images) Len() int                         { return im.s.Len() }
func (im images) Image(i int) (image.Image, error) { return im.s.Image(im.ctx, i) }

// Key names the stimulus set by content, for activation caches.
func (im images) Key() string { return StimulusKey(im.s.Set()) }

// modelRDMs computes every layer's RDM (upper-triangle vector) on stim.
func (r *Runner) modelRDMs(ctx context.Context, m Model, bench string, stim images, layers []models.Layer, metric rdm.Metric) ([][]float64, error) {
	key := StimulusKey(stim.s.Set()) + "/" + string(metric)
	for _, l := range layers {
		key += "/" + l.ID
	}
	if v, ok := r.layerRDMs[key]; ok {
		return v, nil
	}
	out := make([][]float64, len(layers))
	pos := map[string]int{}
	for i, l := range layers {
		pos[l.ID] = i
	}
	done := 0
	err := r.forEachGroup(ctx, m, bench, stim, layers, func(group []models.Layer, f *features) error {
		for _, l := range group {
			full, err := rdm.Compute(f.data[l.ID], metric)
			if err != nil {
				// A layer whose patterns are constant for some stimulus
				// (a dead ReLU map) has no correlation RDM: it cannot
				// compete, which is recorded as a NaN score.
				out[pos[l.ID]] = nil
			} else {
				out[pos[l.ID]] = rdm.Upper(stim.Len(), full)
			}
			delete(f.data, l.ID)
			done++
			r.progress(Event{Model: m.Name(), Benchmark: bench, Stage: "scoring", Done: done, Total: len(layers), Message: "layer " + l.ID})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r.layerRDMs != nil {
		r.layerRDMs[key] = out
	}
	return out, nil
}

// scoreHeldOut scores a public benchmark: every candidate layer, the layer
// chosen on held-out data.
func (r *Runner) scoreHeldOut(ctx context.Context, m Model, l *benchmarks.Loaded) (Score, error) {
	b := l.Benchmark
	if b.Metric.Kind.Advanced() {
		return r.scoreAdvanced(ctx, m, l)
	}
	switch b.Metric.Kind {
	case benchmarks.MetricRSA:
		layers, err := candidates(m, r.cfg.Candidates)
		if err != nil {
			return Score{}, err
		}
		return r.rsaHeldOut(ctx, m, l, layers)
	case benchmarks.MetricRidge:
		layers, err := candidates(m, r.cfg.RidgeCandidates)
		if err != nil {
			return Score{}, err
		}
		return r.ridgeHeldOut(ctx, m, l, layers)
	}
	return Score{}, fmt.Errorf("%w: benchmark %s has unknown metric %q", ErrInternal, b.ID, b.Metric.Kind)
}

func splitPolicy(b *benchmarks.Benchmark) SplitPolicy {
	p := SplitPolicy{Splits: b.Splits.Count, SelectFraction: b.Splits.SelectionFraction, Seed: b.Splits.Seed}
	if p.Splits == 0 {
		p = DefaultSplitPolicy
	}
	return p
}

func (r *Runner) rsaHeldOut(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	method, err := rsa.ParseMethod(b.Metric.Comparison)
	if err != nil {
		return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	metric, err := rdm.ParseMetric(b.Metric.Distance)
	if err != nil {
		return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	layerRDMs, err := r.modelRDMs(ctx, m, b.ID, images{ctx, l.Stimuli}, layers, metric)
	if err != nil {
		return Score{}, err
	}
	ev, kept, splits, policy, sel, err := rsaSelect(l, layerRDMs, layers, method, "on these stimuli")
	if err != nil {
		return Score{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	// The per-layer profile: every layer on all stimuli.
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	full, err := ev.Subset(all)
	if err != nil {
		return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	fullCeil := math.NaN()
	if l.Ceiling.Valid {
		fullCeil = l.Ceiling.Upper
	}
	s := Score{Layer: kept[sel.Layer].ID, Selection: b.SelectionPolicy(), Candidates: string(r.cfg.Candidates), Seed: policy.Seed}
	for k, ly := range kept {
		v, err := full.Score(k)
		if err != nil {
			return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
		}
		s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: v, Ceiled: ceiled(v, fullCeil)})
	}
	s.Raw, s.SE = sel.Raw, sel.SE
	s.Ceiling = sel.Ceiling
	if len(l.RDMs) < 2 {
		s.Ceiling = math.NaN()
	}
	s.CILow, s.CIHigh = r.rsaSplitBootstrap(ev, splits, sel.Chosen, policy.Seed)
	if r.rdms != nil {
		if err := r.rdms.PutModelRDM(ctx, m.Hash(), b.ID, n, ev.Layers[sel.Layer]); err != nil {
			return Score{}, fmt.Errorf("%w: store model RDM: %v", ErrInternal, err)
		}
	}
	return s, nil
}

// fullRDM expands an upper-triangle vector into an n×n matrix.
func fullRDM(n int, upper []float64) []float64 {
	out := make([]float64, n*n)
	k := 0
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			out[i*n+j], out[j*n+i] = upper[k], upper[k]
			k++
		}
	}
	return out
}

// ridgeConfig is the benchmark's encoding settings.
func ridgeConfig(b *benchmarks.Benchmark) ridge.Config {
	return ridge.Config{Folds: max(b.Metric.Folds, 2), Alphas: b.Metric.Alphas, Seed: b.Metric.Seed}
}

// sessionScores runs ridge encoding of every session's targets from every
// layer and returns res[session][layer].
func (r *Runner) sessionScores(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) ([][]*ridge.Result, error) {
	b := l.Benchmark
	cfg := ridgeConfig(b)
	res := make([][]*ridge.Result, len(l.Sessions))
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	for si, sess := range l.Sessions {
		res[si] = make([]*ridge.Result, len(layers))
		n := sess.Stimuli.Len()
		y := linalg.View(sess.Targets, n, sess.Responses)
		yt := linalg.NewMatrix[float64](n, sess.Targets)
		for i := 0; i < sess.Targets; i++ {
			for j := 0; j < n; j++ {
				yt.Data[j*sess.Targets+i] = y.At(i, j)
			}
		}
		label := b.ID
		if sess.ID != "" {
			label += " session " + sess.ID
		}
		done := 0
		err := r.forEachGroup(ctx, m, label, images{ctx, sess.Stimuli}, layers, func(group []models.Layer, f *features) error {
			for _, ly := range group {
				out, err := ridge.CV(f.data[ly.ID], yt, cfg)
				if err != nil {
					return fmt.Errorf("%w: ridge on layer %s, %s: %v", ErrBadModel, ly.ID, label, err)
				}
				out.Predictions = linalg.Matrix[float64]{} // not kept: only scores are
				res[si][pos[ly.ID]] = out
				delete(f.data, ly.ID)
				done++
				r.progress(Event{Model: m.Name(), Benchmark: label, Stage: "scoring", Done: done, Total: len(layers), Message: "layer " + ly.ID})
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// ridgeHeldOut scores a public encoding benchmark. With several sessions
// the layer is chosen on a seeded half of the sessions and scored on the
// other half (sessions have disjoint images and neurons); with one, on
// seeded halves of its stimuli.
func (r *Runner) ridgeHeldOut(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	policy := splitPolicy(b)
	ceil := math.NaN()
	if l.Ceiling.Valid {
		ceil = l.Ceiling.Reliability
	}
	s := Score{Selection: b.SelectionPolicy(), Candidates: string(r.cfg.RidgeCandidates), Seed: policy.Seed}
	if len(l.Sessions) >= 2 {
		res, err := r.sessionScores(ctx, m, l, layers)
		if err != nil {
			return Score{}, err
		}
		splits, err := MakeSplits(len(l.Sessions), nil, policy, 1)
		if err != nil {
			return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
		}
		t := Table{}
		for _, sp := range splits {
			t.Select = append(t.Select, meanOver(res, sp.Select, len(layers)))
			t.Test = append(t.Test, meanOver(res, sp.Test, len(layers)))
			t.Ceiling = append(t.Ceiling, ceil)
		}
		sel, err := t.Select1()
		if err != nil {
			return Score{}, fmt.Errorf("%w: %v", ErrBadModel, err)
		}
		s.Layer, s.Raw, s.SE, s.Ceiling = layers[sel.Layer].ID, sel.Raw, sel.SE, ceil
		s.Selection = fmt.Sprintf("%d seeded splits of the %d sessions (seed %d): chosen on half, scored on the rest", policy.Splits, len(l.Sessions), policy.Seed)
		all := make([]int, len(l.Sessions))
		for i := range all {
			all[i] = i
		}
		profile := meanOver(res, all, len(layers))
		for k, ly := range layers {
			s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: profile[k], Ceiled: ceiled(profile[k], ceil)})
		}
		s.CILow, s.CIHigh = r.sessionBootstrap(res, splitSessions(splits), sel.Chosen, policy.Seed)
		return s, nil
	}
	return r.ridgeStimulusSplits(ctx, m, l, layers, ceil, s)
}

// meanOver returns, per layer, the mean over the given sessions of the
// session's cross-validated score (mean over folds of the median r).
func meanOver(res [][]*ridge.Result, sessions []int, layers int) []float64 {
	out := make([]float64, layers)
	for k := range out {
		var v []float64
		for _, s := range sessions {
			v = append(v, res[s][k].Mean)
		}
		out[k] = stats.Mean(v)
	}
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// ridgeStimulusSplits chooses the layer on seeded halves of one session's
// stimuli: per split, ridge CV within the selection part picks the layer,
// ridge CV within the test part scores it.
func (r *Runner) ridgeStimulusSplits(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer, ceil float64, s Score) (Score, error) {
	b := l.Benchmark
	sess := l.Sessions[0]
	n := sess.Stimuli.Len()
	cfg := ridgeConfig(b)
	splits, policy, err := partSplits(b, n, sess.Stimuli.Labels(), 2*cfg.Folds)
	if err != nil {
		return Score{}, err
	}
	t := Table{Select: make([][]float64, len(splits)), Test: make([][]float64, len(splits)), Ceiling: make([]float64, len(splits))}
	for i := range splits {
		t.Select[i] = make([]float64, len(layers))
		t.Test[i] = make([]float64, len(layers))
		t.Ceiling[i] = ceil
	}
	yt := linalg.NewMatrix[float64](n, sess.Targets)
	for i := 0; i < sess.Targets; i++ {
		for j := 0; j < n; j++ {
			yt.Data[j*sess.Targets+i] = sess.Responses[i*n+j]
		}
	}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	full := make([]*ridge.Result, len(layers))
	testRes := make([][]*ridge.Result, len(splits)) // [split][layer]
	for i := range testRes {
		testRes[i] = make([]*ridge.Result, len(layers))
	}
	err = r.forEachGroup(ctx, m, b.ID, images{ctx, sess.Stimuli}, layers, func(group []models.Layer, f *features) error {
		for _, ly := range group {
			x := f.data[ly.ID]
			k := pos[ly.ID]
			res, err := ridge.CV(x, yt, cfg)
			if err != nil {
				return fmt.Errorf("%w: ridge on layer %s: %v", ErrBadModel, ly.ID, err)
			}
			full[k] = res
			for si, sp := range splits {
				for part, idx := range [][]int{sp.Select, sp.Test} {
					res, err := ridge.CV(rowsOf(x, idx), rowsOf(yt, idx), cfg)
					if err != nil {
						return fmt.Errorf("%w: ridge on layer %s, split %d: %v", ErrBadModel, ly.ID, si, err)
					}
					res.Predictions = linalg.Matrix[float64]{}
					if part == 0 {
						t.Select[si][k] = res.Mean
					} else {
						t.Test[si][k] = res.Mean
						testRes[si][k] = res
					}
				}
			}
			delete(f.data, ly.ID)
		}
		return nil
	})
	if err != nil {
		return Score{}, err
	}
	sel, err := t.Select1()
	if err != nil {
		return Score{}, fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	s.Layer, s.Raw, s.SE, s.Ceiling = layers[sel.Layer].ID, sel.Raw, sel.SE, ceil
	for k, ly := range layers {
		s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: full[k].Mean, Ceiled: ceiled(full[k].Mean, ceil), SE: full[k].SE})
	}
	s.CILow, s.CIHigh = r.targetBootstrap(testRes, sel.Chosen, policy.Seed)
	return s, nil
}

// rowsOf copies the given rows of x.
func rowsOf[T linalg.Float](x linalg.Matrix[T], idx []int) linalg.Matrix[T] {
	out := linalg.NewMatrix[T](len(idx), x.Cols)
	for i, r := range idx {
		copy(out.Row(i), x.Row(r))
	}
	return out
}

// scoreCommitted scores a private benchmark on the layer committed on its
// public partner: that one layer, on all its data.
func (r *Runner) scoreCommitted(ctx context.Context, m Model, l *benchmarks.Loaded, partner Score) (Score, error) {
	b := l.Benchmark
	if b.Metric.Kind.Advanced() {
		// Cross-validated within the benchmark: nothing to commit.
		s, err := r.scoreAdvanced(ctx, m, l)
		if err != nil {
			return Score{}, err
		}
		s.Selection = "cross-validated within this benchmark (the partner " + b.Partner + " is not needed); " + s.Selection
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
		return Score{}, fmt.Errorf("%w: layer %s committed on %s is not in %s", ErrInternal, partner.Layer, b.Partner, m.Name())
	}
	s := Score{Layer: layer.ID, Selection: "committed on " + b.Partner, Candidates: partner.Candidates, Seed: b.Metric.Seed}
	switch b.Metric.Kind {
	case benchmarks.MetricRSA:
		method, err := rsa.ParseMethod(b.Metric.Comparison)
		if err != nil {
			return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
		}
		metric, err := rdm.ParseMetric(b.Metric.Distance)
		if err != nil {
			return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
		}
		n := l.Stimuli.Len()
		v, err := r.modelRDMs(ctx, m, b.ID, images{ctx, l.Stimuli}, []models.Layer{layer}, metric)
		if err != nil {
			return Score{}, err
		}
		if v[0] == nil {
			return Score{}, fmt.Errorf("%w: layer %s has no defined %s RDM on %s's stimuli", ErrBadModel, layer.ID, metric, b.ID)
		}
		per := make([]float64, len(l.RDMs))
		for i, subj := range l.RDMs {
			if per[i], err = rsa.Compare(v[0], subj, method); err != nil {
				return Score{}, fmt.Errorf("%w: subject %d: %v", ErrBadModel, i, err)
			}
		}
		s.Raw, s.SE = MeanSE(per)
		s.Ceiling = math.NaN()
		if l.Ceiling.Valid {
			s.Ceiling = l.Ceiling.Upper
		}
		if r.rdms != nil {
			// Kept for server-side comparisons; never served for a private benchmark.
			if err := r.rdms.PutModelRDM(ctx, m.Hash(), b.ID, n, v[0]); err != nil {
				return Score{}, fmt.Errorf("%w: store model RDM: %v", ErrInternal, err)
			}
		}
		ev := &RSAEvaluator{N: n, Layers: v, Subjects: l.RDMs, Method: method, Pool: ceiling.Pool(b.Ceiling.Pool)}
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		s.CILow, s.CIHigh = r.rsaSplitBootstrap(ev, []Split{{Test: all}}, []int{0}, b.Splits.Seed)
		s.Layers = []LayerScore{{Layer: layer.ID, Depth: layer.Depth, Raw: s.Raw, Ceiled: ceiled(s.Raw, s.Ceiling), SE: s.SE}}
		return s, nil
	case benchmarks.MetricRidge:
		res, err := r.sessionScores(ctx, m, l, []models.Layer{layer})
		if err != nil {
			return Score{}, err
		}
		per := make([]float64, len(res))
		for i := range res {
			per[i] = res[i][0].Mean
		}
		s.Raw, s.SE = MeanSE(per)
		if len(per) == 1 {
			s.SE = res[0][0].SE
		}
		s.Ceiling = math.NaN()
		if l.Ceiling.Valid {
			s.Ceiling = l.Ceiling.Reliability
		}
		all := make([]int, len(res))
		for i := range all {
			all[i] = i
		}
		s.CILow, s.CIHigh = r.sessionBootstrap(res, [][]int{all}, []int{0}, b.Metric.Seed)
		s.Layers = []LayerScore{{Layer: layer.ID, Depth: layer.Depth, Raw: s.Raw, Ceiled: ceiled(s.Raw, s.Ceiling), SE: s.SE}}
		return s, nil
	}
	return Score{}, fmt.Errorf("%w: benchmark %s has unknown metric %q", ErrInternal, b.ID, b.Metric.Kind)
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

// rsaSelect chooses among layer RDMs (nil: the layer has no defined RDM and
// cannot compete) on the benchmark's held-out splits of its stimuli.
// what says which RDMs, for the error when none is defined.
func rsaSelect(l *benchmarks.Loaded, layerRDMs [][]float64, layers []models.Layer, method rsa.Method, what string) (*RSAEvaluator, []models.Layer, []Split, SplitPolicy, Selection, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	ev := &RSAEvaluator{N: n, Subjects: l.RDMs, Method: method, Pool: ceiling.Pool(b.Ceiling.Pool)}
	var cand []int
	var kept []models.Layer
	for i, v := range layerRDMs {
		if v != nil {
			cand = append(cand, len(ev.Layers))
			ev.Layers = append(ev.Layers, v)
			kept = append(kept, layers[i])
		}
	}
	if len(cand) == 0 {
		return nil, nil, nil, SplitPolicy{}, Selection{}, fmt.Errorf("%w: no layer gives a defined RDM %s", ErrBadModel, what)
	}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3)
	if err != nil {
		return nil, nil, nil, policy, Selection{}, err
	}
	sel, err := SelectHeldOut(ev, splits, cand)
	if err != nil {
		return nil, nil, nil, policy, Selection{}, fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	return ev, kept, splits, policy, sel, nil
}
