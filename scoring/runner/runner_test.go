package runner

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// fakeModel is a deterministic "network" over small images: layer k's
// features are a fixed random projection of the pixels, mixed with noise
// that grows with |k − signal|, so layer signal carries the pixels' own
// structure best. Extraction counts how often it ran.
type fakeModel struct {
	layers   []models.Layer
	q        int
	signal   int
	mu       sync.Mutex
	extracts int
}

func newFakeModel(nLayers, q, signal int) *fakeModel {
	m := &fakeModel{q: q, signal: signal}
	for k := 0; k < nLayers; k++ {
		op := "Conv"
		if k == nLayers-1 {
			op = "Softmax"
		}
		// The last layer is the output: 10 classes, like the layer before
		// it (the logits): both form the output head.
		shape := []int64{-1, int64(q)}
		if k >= nLayers-2 {
			shape = []int64{-1, 10}
		}
		m.layers = append(m.layers, models.Layer{ID: fmt.Sprintf("L%03d.%s", k, op), Node: fmt.Sprintf("/block%d/%s", k, op), Index: k, Op: op, Shape: shape, Depth: float64(k+1) / float64(nLayers), PerStimulus: true, IsOutput: k == nLayers-1})
	}
	return m
}

func (m *fakeModel) Hash() string                { return "f00d" + fmt.Sprintf("%060d", m.signal) }
func (m *fakeModel) Name() string                { return "fake" }
func (m *fakeModel) Layers() []models.Layer      { return m.layers }
func (m *fakeModel) Features(l models.Layer) int { return m.q }

func (m *fakeModel) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	m.mu.Lock()
	m.extracts++
	m.mu.Unlock()
	n := stim.Len()
	for i := 0; i < n; i++ {
		img, err := stim.Image(ctx, i)
		if err != nil {
			return err
		}
		px := pixels(img)
		for _, l := range layers {
			noise := rand.New(rand.NewPCG(uint64(l.Index), uint64(i)+100))
			w := math.Abs(float64(l.Index-m.signal)) * 0.6
			row := make([]float32, m.q)
			for j, v := range projection(px, l.Index, m.q) {
				row[j] = float32(v + w*noise.NormFloat64())
			}
			if err := c.Consume(ctx, l, i, [][]float32{row}); err != nil {
				return err
			}
		}
		if p != nil {
			p(i+1, n)
		}
	}
	return nil
}

// projection is layer k's noiseless features of pixels px.
func projection(px []float64, k, q int) []float64 {
	r := rand.New(rand.NewPCG(uint64(k), 7))
	out := make([]float64, q)
	for j := range out {
		var v float64
		for _, x := range px {
			v += x * r.NormFloat64()
		}
		out[j] = v / math.Sqrt(float64(len(px)))
	}
	return out
}

func pixels(img image.Image) []float64 {
	b := img.Bounds()
	var out []float64
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out = append(out, float64(r)/65535-0.5, float64(g)/65535-0.5, float64(bl)/65535-0.5)
		}
	}
	return out
}

// memResults is an in-memory Results.
type memResults struct {
	mu   sync.Mutex
	m    map[scoring.Key]scoring.Score
	puts int
}

func (r *memResults) GetScore(_ context.Context, k scoring.Key) (scoring.Score, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.m[k]
	return s, ok, nil
}

func (r *memResults) PutScore(_ context.Context, s scoring.Score) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[scoring.Key]scoring.Score{}
	}
	r.m[scoring.Key{ModelHash: s.ModelHash, BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion}] = s
	r.puts++
	return nil
}

// writeDataset writes n random 6×6 PNG images and, computed from their
// pixels, subjects' RDMs (the images' own correlation RDM plus noise) and
// a sessions benchmark's responses, with manifests for a public RSA, a
// private RSA partnered to it, and a ridge benchmark.
func writeDataset(t *testing.T, dir string, n, subjects int) {
	t.Helper()
	r := rand.New(rand.NewPCG(42, 1))
	var pix [][]float64
	for _, part := range []string{"pub", "priv"} {
		if err := os.MkdirAll(filepath.Join(dir, part), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			img := image.NewRGBA(image.Rect(0, 0, 6, 6))
			for y := 0; y < 6; y++ {
				for x := 0; x < 6; x++ {
					img.Set(x, y, color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255})
				}
			}
			f, err := os.Create(filepath.Join(dir, part, fmt.Sprintf("img%02d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if part == "pub" {
				pix = append(pix, pixels(img))
			}
		}
		x := linalg.NewMatrix[float64](n, len(pix[0]))
		for i := 0; i < n; i++ {
			if part == "pub" {
				copy(x.Row(i), pix[i])
			} else {
				for j := range x.Row(i) {
					x.Row(i)[j] = r.NormFloat64()
				}
			}
		}
		base, err := rdm.Compute(x, rdm.Correlation)
		if err != nil {
			t.Fatal(err)
		}
		rdms := make([]float64, 0, subjects*n*n)
		for s := 0; s < subjects; s++ {
			m := make([]float64, n*n)
			for i := 0; i < n; i++ {
				for j := i + 1; j < n; j++ {
					v := base[i*n+j] + 0.05*r.NormFloat64()
					m[i*n+j], m[j*n+i] = v, v
				}
			}
			rdms = append(rdms, m...)
		}
		if err := npy.WriteFile(filepath.Join(dir, part+".npy"), []int{subjects, n, n}, rdms); err != nil {
			t.Fatal(err)
		}
	}
	// Responses: 5 targets, each a random linear read-out of the fake
	// model's noiseless layer-3 features (40 of them).
	resp := make([]float64, 0, 5*n)
	for k := 0; k < 5; k++ {
		w := make([]float64, 40)
		for j := range w {
			w[j] = r.NormFloat64()
		}
		for i := 0; i < n; i++ {
			var v float64
			for j, x := range projection(pix[i], 3, 40) {
				v += w[j] * x
			}
			resp = append(resp, v+0.5*r.NormFloat64())
		}
	}
	if err := npy.WriteFile(filepath.Join(dir, "resp.npy"), []int{5, n}, resp); err != nil {
		t.Fatal(err)
	}
	manifests := map[string]string{
		"pub.yaml": `id: synth.pub
title: synthetic public RSA
parent: X
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
rdms: {file: pub.npy}
metric: {rsa: {distance: correlation, comparison: spearman}}
ceiling: {method: rsa-nili}
splits: {count: 6, selection_fraction: 0.5, seed: 3}
scoring: {selection: held-out}
`,
		"priv.yaml": `id: synth.priv
title: synthetic private RSA
parent: X
private: true
partner: synth.pub
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: priv}
rdms: {file: priv.npy}
metric: {rsa: {distance: correlation, comparison: spearman}}
ceiling: {method: rsa-nili}
`,
		"ridge.yaml": `id: synth.ridge
title: synthetic encoding
metadata: {species: none, region: Y, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
responses: {file: resp.npy}
metric: {ridge: {folds: 3, alphas: [0.1, 1, 10, 100], seed: 1}}
ceiling: {method: none, reason: synthetic}
splits: {count: 3, selection_fraction: 0.5, seed: 2}
scoring: {selection: held-out}
`,
	}
	for name, text := range manifests {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunnerEndToEndSynthetic(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 60, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml", "ridge.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	res := &memResults{}
	cfg := DefaultConfig()
	cfg.Bootstrap = 200
	cfg.RidgeCandidates = AllButOutput
	run, err := NewRunner(cfg, reg, res, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	model := newFakeModel(8, 40, 3)
	// The private benchmark is listed first: the runner must score its
	// public partner before it.
	scores, err := run.Run(ctx, model, []string{"synth.priv", "synth.pub", "synth.ridge"})
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 3 {
		t.Fatalf("got %d scores, want 3", len(scores))
	}
	nodeOf := map[string]string{}
	for _, l := range model.layers {
		nodeOf[l.ID] = l.Node
	}
	by := map[string]scoring.Score{}
	for _, s := range scores {
		by[s.BenchmarkID] = s
		t.Logf("%s: raw %.3f ± %.3f [%.3f, %.3f] ceiling %.3f ceiled %.3f layer %s (%s)", s.BenchmarkID, s.Raw, s.SE, s.CILow, s.CIHigh, s.Ceiling, s.Ceiled, s.Layer, s.Selection)
	}
	for _, s := range scores {
		// Every profile entry names its layer as the exporter did (issue 17).
		for _, l := range s.Layers {
			if want := nodeOf[l.Layer]; l.Name != want || want == "" {
				t.Errorf("%s: profile entry %s has name %q, want the node name %q", s.BenchmarkID, l.Layer, l.Name, want)
			}
		}
		if !(s.CILow <= s.Raw && s.Raw <= s.CIHigh) {
			t.Errorf("%s: bootstrap interval [%.3f, %.3f] does not contain the score %.3f it describes", s.BenchmarkID, s.CILow, s.CIHigh, s.Raw)
		}
	}
	pub := by["synth.pub"]
	if pub.Layer != "L003.Conv" {
		t.Errorf("public RSA chose %s, want the signal layer L003.Conv", pub.Layer)
	}
	if len(pub.Layers) != 6 {
		t.Errorf("profile has %d layers, want 6 (all but the output head: logits and softmax)", len(pub.Layers))
	}
	for _, l := range pub.Layers {
		if l.Layer == "L007.Softmax" || l.Layer == "L006.Conv" {
			t.Errorf("output head layer %s competed under all-but-output", l.Layer)
		}
	}
	if !(pub.Raw > 0.3 && pub.CILow < pub.CIHigh && pub.SE > 0 && pub.Ceiling > 0 && math.Abs(pub.Ceiled-pub.Raw/pub.Ceiling) < 1e-12) {
		t.Errorf("public score implausible: %+v", pub)
	}
	priv := by["synth.priv"]
	if priv.Layer != pub.Layer || priv.SelectionData.Method != scoring.Committed || priv.SelectionData.Partner != "synth.pub" {
		t.Errorf("private benchmark used layer %s (%+v), want the partner's %s", priv.Layer, priv.SelectionData, pub.Layer)
	}
	if sd := pub.SelectionData; sd.Method != scoring.HeldOutStimuli || sd.Splits != len(sd.PerSplit) || len(sd.Chosen) != sd.Splits || sd.Splits == 0 {
		t.Errorf("public selection %+v, want held-out stimulus splits with a chosen layer per split", sd)
	}
	// The private subjects' RDMs come from unrelated patterns: ~0.
	if math.Abs(priv.Raw) > 0.2 {
		t.Errorf("private raw %.3f, want near 0 (its brain data are unrelated to the images)", priv.Raw)
	}
	if by["synth.ridge"].Raw < 0.3 || !math.IsNaN(by["synth.ridge"].Ceiled) {
		t.Errorf("ridge score implausible: %+v", by["synth.ridge"])
	}

	// A second run computes nothing new and returns the same scores.
	extracts, puts := model.extracts, res.puts
	again, err := run.Run(ctx, model, []string{"synth.pub", "synth.priv", "synth.ridge"})
	if err != nil {
		t.Fatal(err)
	}
	if model.extracts != extracts || res.puts != puts {
		t.Errorf("second run extracted %d times and stored %d scores, want none", model.extracts-extracts, res.puts-puts)
	}
	for _, s := range again {
		if s.Raw != by[s.BenchmarkID].Raw {
			t.Errorf("%s: second run gave %v, first %v", s.BenchmarkID, s.Raw, by[s.BenchmarkID].Raw)
		}
	}

	// Fresh computes again with other settings and stores nothing; the
	// stored scores stay.
	freshCfg := cfg
	freshCfg.Fresh = true
	freshCfg.Candidates = AllLayers
	var stages []string
	fr, err := NewRunner(freshCfg, reg, res, nil, func(e Event) { stages = append(stages, e.Stage) })
	if err != nil {
		t.Fatal(err)
	}
	extracts, puts = model.extracts, res.puts
	redo, err := fr.Run(ctx, model, []string{"synth.pub"})
	if err != nil {
		t.Fatal(err)
	}
	if model.extracts == extracts || res.puts != puts || slices.Contains(stages, "cached") {
		t.Errorf("fresh run: %d extractions, %d scores stored, stages %v; want extraction, nothing stored, nothing read", model.extracts-extracts, res.puts-puts, stages)
	}
	if redo[0].Candidates != string(AllLayers) || len(redo[0].Layers) != 8 {
		t.Errorf("fresh run used candidates %q with %d layers, want all 8", redo[0].Candidates, len(redo[0].Layers))
	}
	if s, ok, _ := res.GetScore(ctx, scoring.Key{ModelHash: model.Hash(), BenchmarkVersion: pub.BenchmarkVersion, ScorerVersion: scoring.ScorerVersion}); !ok || s.Candidates != string(AllButOutput) {
		t.Errorf("stored score changed by a fresh run: %+v", s)
	}

	// The same seeds give bit-identical scores from scratch.
	fresh, err := NewRunner(cfg, reg, &memResults{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err = fresh.Run(ctx, newFakeModel(8, 40, 3), []string{"synth.pub", "synth.priv", "synth.ridge"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range again {
		o := by[s.BenchmarkID]
		if s.Raw != o.Raw || s.SE != o.SE || s.CILow != o.CILow || s.Layer != o.Layer {
			t.Errorf("%s: rerun from scratch differs: %+v vs %+v", s.BenchmarkID, s, o)
		}
	}
}

// TestRunnerFeatureBudget checks that a budget smaller than all layers
// together extracts in several passes and gives the same scores.
func TestRunnerFeatureBudget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 30, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	if _, err := reg.Add(ctx, filepath.Join(dir, "pub.yaml"), benchmarks.AddOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Bootstrap = 0
	run1, _ := NewRunner(cfg, reg, &memResults{}, nil, nil)
	m1 := newFakeModel(8, 40, 3)
	s1, err := run1.Run(ctx, m1, []string{"synth.pub"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.FeatureBudget = 30 * 40 * 4 * 2 // two layers' activations: 3 passes for 6 layers
	run2, _ := NewRunner(cfg, reg, &memResults{}, nil, nil)
	m2 := newFakeModel(8, 40, 3)
	s2, err := run2.Run(ctx, m2, []string{"synth.pub"})
	if err != nil {
		t.Fatal(err)
	}
	if m1.extracts != 1 || m2.extracts != 3 {
		t.Errorf("extractions: %d with the default budget (want 1), %d with two layers' budget (want 3)", m1.extracts, m2.extracts)
	}
	if s1[0].Raw != s2[0].Raw || s1[0].Layer != s2[0].Layer {
		t.Errorf("grouping changed the score: %+v vs %+v", s1[0], s2[0])
	}
}

// TestRunnerResumesAfterInterruption cancels a run as soon as its first
// benchmark is stored, runs again, and checks that the result equals an
// uninterrupted run's and that finished work was not redone.
func TestRunnerResumesAfterInterruption(t *testing.T) {
	dir := t.TempDir()
	writeDataset(t, dir, 40, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml", "ridge.yaml"} {
		if _, err := reg.Add(context.Background(), filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"synth.pub", "synth.priv", "synth.ridge"}
	cfg := DefaultConfig()
	cfg.Bootstrap = 100
	cfg.RidgeCandidates = AllButOutput

	whole, _ := NewRunner(cfg, reg, &memResults{}, nil, nil)
	want, err := whole.Run(context.Background(), newFakeModel(8, 40, 3), ids)
	if err != nil {
		t.Fatal(err)
	}

	res := &memResults{}
	ctx, cancel := context.WithCancel(context.Background())
	interrupted, _ := NewRunner(cfg, reg, res, nil, func(e Event) {
		if e.Stage == "done" {
			cancel()
		}
	})
	m := newFakeModel(8, 40, 3)
	if _, err := interrupted.Run(ctx, m, ids); err == nil {
		t.Fatal("the interrupted run finished: the test did not interrupt it")
	}
	if res.puts != 1 {
		t.Fatalf("the interrupted run stored %d scores, want 1", res.puts)
	}
	resumed, _ := NewRunner(cfg, reg, res, nil, nil)
	got, err := resumed.Run(context.Background(), m, ids)
	if err != nil {
		t.Fatal(err)
	}
	if res.puts != 3 {
		t.Fatalf("after resuming %d scores stored, want 3 (one from before, two new)", res.puts)
	}
	by := map[string]scoring.Score{}
	for _, s := range want {
		by[s.BenchmarkID] = s
	}
	for _, s := range got {
		w := by[s.BenchmarkID]
		if s.Raw != w.Raw || s.SE != w.SE || s.CILow != w.CILow || s.CIHigh != w.CIHigh || s.Layer != w.Layer {
			t.Errorf("%s: resumed %+v, uninterrupted %+v", s.BenchmarkID, s, w)
		}
	}
}

// TestOutputHeadExcluded checks, on the layer list of a network shaped like
// MobileNetV2's end (pooling, squeeze, logits MatMul, bias Add, clip,
// softmax, clip = output), that all-but-output leaves out the whole head
// and keeps the pooled features.
func TestOutputHeadExcluded(t *testing.T) {
	shapes := []struct {
		op    string
		shape []int64
	}{{"Conv", []int64{-1, 1280, 7, 7}}, {"GlobalAveragePool", []int64{-1, 1280, 1, 1}}, {"Squeeze", []int64{-1, 1280}},
		{"MatMul", []int64{-1, 1000}}, {"Add", []int64{-1, 1000}}, {"Clip", []int64{-1, 1000}}, {"Softmax", []int64{-1, 1000}}, {"Clip", []int64{-1, 1000}}}
	m := newFakeModel(0, 40, 0)
	for k, s := range shapes {
		m.layers = append(m.layers, models.Layer{ID: fmt.Sprintf("L%03d.%s", k, s.op), Index: k, Op: s.op, Shape: s.shape, PerStimulus: true, IsOutput: k == len(shapes)-1})
	}
	got, err := candidates(m, AllButOutput)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range got {
		ids = append(ids, l.ID)
	}
	if want := []string{"L000.Conv", "L001.GlobalAveragePool", "L002.Squeeze"}; !slices.Equal(ids, want) {
		t.Fatalf("candidates %v, want %v", ids, want)
	}
	all, _ := candidates(m, AllLayers)
	if len(all) != len(shapes) {
		t.Fatalf("all layers: %d candidates, want %d", len(all), len(shapes))
	}
}
