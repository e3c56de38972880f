// Package scoringtest is the conformance suite every metric of the runner
// (scoring/runner) passes. It builds, for a metric kind, a synthetic
// benchmark in memory (benchmarks.Loaded, no files) and a fake network
// (Model, no ONNX) whose layer Planted carries the brain signal while the
// others are noise, and checks that the metric
//
//	(a) reports the planted layer (or a layer set that contains it),
//	(b) never uses test stimuli to choose: a decoy layer whose features
//	    match the brain perfectly on the test part of the benchmark's
//	    split, and are noise on the selection part, must not be chosen
//	    (metrics that choose nothing, SelectionData.Method CrossValidated,
//	    are exempt),
//	(c) is deterministic: two runs give bit-identical scores,
//	(d) has a bootstrap interval that contains its score.
//
// The package does not import the runner, so the runner's own tests can
// run it on every metric of its table and on a deliberately leaking one.
package scoringtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// The fake network's layers: Planted carries the signal, Decoy is the
// leak detector's bait, the others are noise.
const (
	Planted = "L003.Conv"
	Decoy   = "L001.Conv"

	nLayers  = 6
	planted  = 3
	decoy    = 1
	features = 16
	latent   = 6
	stimuli  = 60
	training = 40
	subjects = 4
	targets  = 12
	times    = 5
	peakTime = 2
)

// ScoreFunc scores m on l with the metric under test (e.g. through a
// runner whose table holds that metric).
type ScoreFunc func(ctx context.Context, m *Model, l *benchmarks.Loaded) (scoring.Score, error)

// SplitFunc returns the selection and test parts of the benchmark's first
// seeded split of its n stimuli, as the metric draws them.
type SplitFunc func(b *benchmarks.Benchmark, n int, labels []string) (selection, test []int, err error)

// Run checks the metric of kind and reports every failure on t.
func Run(t testing.TB, kind benchmarks.MetricKind, score ScoreFunc, split SplitFunc) {
	t.Helper()
	for _, err := range Check(t.Context(), kind, score, split) {
		t.Errorf("%s: %v", kind, err)
	}
}

// ErrLeak marks a failure of check (b).
var ErrLeak = errors.New("test stimuli used for selection")

// Check runs the suite on the metric of kind and returns its failures.
func Check(ctx context.Context, kind benchmarks.MetricKind, score ScoreFunc, split SplitFunc) []error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	run := func(w *world, splits int) (scoring.Score, *benchmarks.Loaded, error) {
		l, err := w.loaded(ctx, kind, splits)
		if err != nil {
			return scoring.Score{}, nil, err
		}
		s, err := score(ctx, w.model(), l)
		return s, l, err
	}

	// (a), (c), (d): the planted world.
	s1, _, err := run(newWorld(nil), 4)
	if err != nil {
		return []error{fmt.Errorf("score the planted benchmark: %w", err)}
	}
	if !reportsPlanted(s1) {
		fail("(a) reported layer %s (selection %+v), want %s", s1.Layer, s1.SelectionData, Planted)
	}
	s2, _, err := run(newWorld(nil), 4)
	if err != nil {
		return append(errs, fmt.Errorf("score the planted benchmark again: %w", err))
	}
	if a, b := fingerprint(s1), fingerprint(s2); a != b {
		fail("(c) two runs differ:\n%s\n%s", a, b)
	}
	if !math.IsNaN(s1.CILow) || !math.IsNaN(s1.CIHigh) {
		if !(s1.CILow <= s1.Raw && s1.Raw <= s1.CIHigh) {
			fail("(d) interval [%g, %g] does not contain the score %g", s1.CILow, s1.CIHigh, s1.Raw)
		}
	} else {
		fail("(d) no bootstrap interval")
	}

	// (b): the decoy world.
	if s1.SelectionData.Method == scoring.CrossValidated {
		return errs
	}
	w := newWorld(nil)
	l, err := w.loaded(ctx, kind, 1)
	if err != nil {
		return append(errs, err)
	}
	var labels []string
	if l.Stimuli != nil {
		labels = l.Stimuli.Labels()
	}
	_, test, err := split(l.Benchmark, stimuli, labels)
	if err != nil {
		return append(errs, fmt.Errorf("(b) split: %w", err))
	}
	s3, _, err := run(newWorld(test), 1)
	if err != nil {
		return append(errs, fmt.Errorf("score the decoy benchmark: %w", err))
	}
	if s3.Layer == Decoy || slices.Contains(s3.SelectionData.Chosen, Decoy) {
		errs = append(errs, fmt.Errorf("(b) %w: the decoy %s, which matches the brain only on the test stimuli, was chosen (layer %s, chosen per split %v)",
			ErrLeak, Decoy, s3.Layer, s3.SelectionData.Chosen))
	}
	if len(s3.SelectionData.Chosen) == 0 {
		fail("(b) held-out selection (%s) without the layer chosen per split", s3.SelectionData.Method)
	}
	return errs
}

// reportsPlanted: the reported layer is the planted one, or names a set of
// layers (SelectionData.Sets) that holds it.
func reportsPlanted(s scoring.Score) bool {
	if s.Layer == Planted {
		return true
	}
	for _, set := range s.SelectionData.Sets {
		if slices.Contains(set, s.Layer) && slices.Contains(set, Planted) {
			return true
		}
	}
	return false
}

// fingerprint is every number and choice of s, bit for bit.
func fingerprint(s scoring.Score) string {
	var b bytes.Buffer
	bits := func(v float64) uint64 { return math.Float64bits(v) }
	fmt.Fprintf(&b, "%x %x %x %x %x %x %s %d %q %s|", bits(s.Raw), bits(s.SE), bits(s.CILow), bits(s.CIHigh), bits(s.Ceiling), bits(s.Ceiled), s.Layer, s.Seed, s.Selection, s.Candidates)
	for _, l := range s.Layers {
		fmt.Fprintf(&b, "%s %x %x %x %x|", l.Layer, bits(l.Depth), bits(l.Raw), bits(l.Ceiled), bits(l.SE))
	}
	data, _ := s.SelectionData.MarshalJSON()
	b.Write(data)
	return b.String()
}

// world is the synthetic truth: latent patterns of the stimuli and of the
// training images, from which the brain data and the layers' features
// derive.
type world struct {
	z, ztrain  [][]float64 // stimuli × latent
	w          [][][]float64
	decoyTest  map[int]bool // stimuli on which the decoy carries the signal; nil: no decoy
	store      *objstore.Memory
	stim, tset *benchmarks.Stimuli
}

func gauss(r *rand.Rand, n, d int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		for j := range out[i] {
			out[i][j] = r.NormFloat64()
		}
	}
	return out
}

func newWorld(decoyTest []int) *world {
	r := rand.New(rand.NewPCG(11, 12))
	w := &world{z: gauss(r, stimuli, latent), ztrain: gauss(r, training, latent), store: objstore.NewMemory()}
	for range nLayers {
		w.w = append(w.w, gauss(r, latent, features))
	}
	if decoyTest != nil {
		w.decoyTest = map[int]bool{}
		for _, i := range decoyTest {
			w.decoyTest[i] = true
		}
	}
	return w
}

// row is layer k's features of stimulus i (train: of training image i).
func (w *world) row(k, i int, train bool) []float32 {
	z := w.z
	salt := uint64(0)
	if train {
		z, salt = w.ztrain, 1<<20
	}
	noise := rand.New(rand.NewPCG(uint64(k)+100, uint64(i)+salt))
	signal, noiseSD := 0.0, 1.0
	switch {
	case k == planted:
		signal, noiseSD = 0.5, 1.5
	case k == decoy && w.decoyTest != nil && (train || w.decoyTest[i]):
		signal, noiseSD = 1, 0
	}
	out := make([]float32, features)
	for j := range out {
		var v float64
		for d := range latent {
			v += z[i][d] * w.w[k][d][j]
		}
		out[j] = float32(signal*v + noiseSD*noise.NormFloat64())
	}
	return out
}

// Model is the fake network of a world. Its stimuli are tiny images whose
// pixels name the stimulus.
type Model struct {
	w      *world
	layers []models.Layer
}

func (w *world) model() *Model {
	m := &Model{w: w}
	for k := range nLayers {
		m.layers = append(m.layers, models.Layer{ID: fmt.Sprintf("L%03d.Conv", k), Index: k, Op: "Conv", Shape: []int64{-1, features},
			Depth: float64(k+1) / nLayers, PerStimulus: true})
	}
	return m
}

func (m *Model) Hash() string                { return fmt.Sprintf("%064x", 0xfeed) }
func (m *Model) Name() string                { return "scoringtest" }
func (m *Model) Layers() []models.Layer      { return m.layers }
func (m *Model) Features(l models.Layer) int { return features }

// Extract hands every layer's rows over, one stimulus at a time.
func (m *Model) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	for i := range stim.Len() {
		img, err := stim.Image(ctx, i)
		if err != nil {
			return err
		}
		px := color.NRGBAModel.Convert(img.At(0, 0)).(color.NRGBA)
		id, train := int(px.R)|int(px.G)<<8, px.B == 1
		for _, l := range layers {
			if err := c.Consume(ctx, l, i, [][]float32{m.w.row(l.Index, id, train)}); err != nil {
				return err
			}
		}
		if p != nil {
			p(i+1, stim.Len())
		}
	}
	if f, ok := c.(models.Finisher); ok {
		return f.Finish(ctx)
	}
	return nil
}

// images stores n images naming stimuli 0..n-1 (train marks the training
// set) and returns their set, labelled when labels is not nil.
func (w *world) images(ctx context.Context, n int, train bool, labels []string) (*benchmarks.Stimuli, error) {
	set := benchmarks.StimulusSet{}
	if labels != nil {
		set.LabelColumn = "label"
	}
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
		var b uint8
		if train {
			b = 1
		}
		img.SetNRGBA(0, 0, color.NRGBA{uint8(i), uint8(i >> 8), b, 255})
		img.SetNRGBA(1, 0, color.NRGBA{0, 0, 0, 255})
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return nil, err
		}
		name := fmt.Sprintf("s%03d-%v.png", i, train)
		f, err := benchmarks.PutStimulusFile(ctx, w.store, name, buf.Bytes())
		if err != nil {
			return nil, err
		}
		st := benchmarks.Stimulus{Name: name, File: &f}
		if labels != nil {
			st.Label = labels[i]
		}
		set.Stimuli = append(set.Stimuli, st)
	}
	return benchmarks.NewStimuli(w.store, set), nil
}

// brainRDMs are the subjects' correlation RDMs of the latent patterns plus
// noise (seed apart per use).
func (w *world) brainRDMs(seed uint64, signal float64) ([][]float64, error) {
	r := rand.New(rand.NewPCG(seed, 99))
	var out [][]float64
	for range subjects {
		x := linalg.NewMatrix[float64](stimuli, latent)
		for i := range stimuli {
			for d := range latent {
				x.Data[i*latent+d] = signal*w.z[i][d] + 0.7*r.NormFloat64()
			}
		}
		full, err := rdm.Compute(x, rdm.Correlation)
		if err != nil {
			return nil, err
		}
		out = append(out, rdm.Upper(stimuli, full))
	}
	return out, nil
}

// loaded builds the benchmark of kind in this world, with splits seeded
// splits of the stimuli.
func (w *world) loaded(ctx context.Context, kind benchmarks.MetricKind, splits int) (*benchmarks.Loaded, error) {
	b := &benchmarks.Benchmark{ID: "scoringtest." + string(kind), Version: "scoringtest-" + string(kind),
		Splits:  benchmarks.Splits{Count: splits, SelectionFraction: 0.5, Seed: 7},
		Ceiling: benchmarks.CeilingPolicy{Method: benchmarks.CeilingNone, Reason: "synthetic"}}
	l := &benchmarks.Loaded{Benchmark: b}
	var err error
	if l.Stimuli, err = w.images(ctx, stimuli, false, nil); err != nil {
		return nil, err
	}
	alphas := []float64{0.1, 1, 10, 100}
	switch kind {
	case benchmarks.MetricRSA:
		b.Metric = benchmarks.Metric{Kind: kind, Distance: "correlation", Comparison: "spearman"}
	case benchmarks.MetricReweightedRSA:
		b.Metric = benchmarks.Metric{Kind: kind, Distance: "correlation", Comparison: "spearman", Folds: 3, Seed: 1}
	case benchmarks.MetricVariancePartitioning:
		b.Metric = benchmarks.Metric{Kind: kind, Distance: "correlation", Folds: 3, Seed: 1, Sets: []string{"early", "late"}}
	case benchmarks.MetricFeatureWeightedRSA:
		b.Metric = benchmarks.Metric{Kind: kind, Comparison: "spearman", Folds: 3, Seed: 1, Components: 4}
	case benchmarks.MetricRemix:
		b.Metric = benchmarks.Metric{Kind: kind, Distance: "euclidean", Comparison: "spearman", Alphas: []float64{1}}
	case benchmarks.MetricTimeResolvedRSA:
		b.Metric = benchmarks.Metric{Kind: kind, Distance: "correlation", Comparison: "spearman"}
	case benchmarks.MetricRidge:
		b.Metric = benchmarks.Metric{Kind: kind, Folds: 3, Alphas: alphas, Seed: 1}
	case benchmarks.MetricDecoding:
		b.Metric = benchmarks.Metric{Kind: kind, Folds: 3, Alphas: alphas, Seed: 1, Components: 4}
	default:
		return nil, fmt.Errorf("scoringtest has no synthetic benchmark for metric %q: add one to world.loaded", kind)
	}
	switch kind {
	case benchmarks.MetricRSA, benchmarks.MetricReweightedRSA, benchmarks.MetricVariancePartitioning, benchmarks.MetricFeatureWeightedRSA:
		if l.RDMs, err = w.brainRDMs(1, 1); err != nil {
			return nil, err
		}
	case benchmarks.MetricRemix:
		// Two classes by the sign of the first latent dimension; the brain
		// tells stimuli apart along it.
		labels := make([]string, training)
		for i := range labels {
			labels[i] = "b"
			if w.ztrain[i][0] > 0 {
				labels[i] = "a"
			}
		}
		if l.Training, err = w.images(ctx, training, true, labels); err != nil {
			return nil, err
		}
		r := rand.New(rand.NewPCG(2, 99))
		for range subjects {
			v := make([]float64, stimuli)
			for i := range v {
				v[i] = w.z[i][0] + 0.3*r.NormFloat64()
			}
			var up []float64
			for i := range stimuli {
				for j := i + 1; j < stimuli; j++ {
					up = append(up, math.Abs(v[i]-v[j]))
				}
			}
			l.RDMs = append(l.RDMs, up)
		}
	case benchmarks.MetricTimeResolvedRSA:
		for t := range times {
			l.Times = append(l.Times, 0.1*float64(t))
		}
		l.TimeRDMs = make([][][]float64, subjects)
		for t := range times {
			signal := 0.0
			if t == peakTime {
				signal = 1
			}
			per, err := w.brainRDMs(uint64(10+t), signal)
			if err != nil {
				return nil, err
			}
			for s := range subjects {
				l.TimeRDMs[s] = append(l.TimeRDMs[s], per[s])
			}
		}
	case benchmarks.MetricRidge, benchmarks.MetricDecoding:
		r := rand.New(rand.NewPCG(3, 99))
		v := gauss(r, latent, targets)
		resp := make([]float64, targets*stimuli)
		for t := range targets {
			for i := range stimuli {
				var y float64
				for d := range latent {
					y += w.z[i][d] * v[d][t]
				}
				resp[t*stimuli+i] = y + 0.5*r.NormFloat64()
			}
		}
		l.Sessions = []benchmarks.LoadedSession{{Stimuli: l.Stimuli, Targets: targets, Responses: resp}}
	}
	return l, nil
}

// Benchmark returns the fake network and the synthetic benchmark of kind
// (seeded splits of the stimuli, no decoy), for other tests of a metric.
func Benchmark(ctx context.Context, kind benchmarks.MetricKind, splits int) (*Model, *benchmarks.Loaded, error) {
	w := newWorld(nil)
	l, err := w.loaded(ctx, kind, splits)
	if err != nil {
		return nil, nil, err
	}
	return w.model(), l, nil
}
