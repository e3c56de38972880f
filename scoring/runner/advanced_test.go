package runner

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// advancedManifests are the issue-8 metrics on writeDataset's data. The
// public RDMs are the images' own correlation RDM plus noise, so the fake
// model's signal layer (L003) fits best; the responses are a read-out of
// that layer's noiseless features.
var advancedManifests = map[string]string{
	"rw.yaml": `id: synth.rw
title: synthetic reweighted RSA
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
rdms: {file: pub.npy}
metric: {reweighted_rsa: {distance: correlation, comparison: spearman, stimulus_folds: 4, seed: 1, layers: all}}
ceiling: {method: rsa-nili}
`,
	"rw-priv.yaml": `id: synth.rw.priv
title: synthetic private reweighted RSA
private: true
partner: synth.rw
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: priv}
rdms: {file: priv.npy}
metric: {reweighted_rsa: {stimulus_folds: 4, seed: 1, layers: all}}
ceiling: {method: rsa-nili}
`,
	"vp.yaml": `id: synth.vp
title: synthetic variance partitioning
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
rdms: {file: pub.npy}
metric: {variance_partitioning: {sets: [early, late], layers: 4, folds: 4, seed: 1}}
ceiling: {method: none, reason: R² has no Nili ceiling}
`,
	"fw.yaml": `id: synth.fw
title: synthetic feature-weighted RSA
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
rdms: {file: pub.npy}
metric: {feature_weighted_rsa: {components: 5, layers: all, stimulus_folds: 4, seed: 1}}
ceiling: {method: rsa-nili}
`,
	"dec.yaml": `id: synth.dec
title: synthetic decoding
metadata: {species: none, region: Y, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
responses: {file: resp.npy}
metric: {decoding: {components: 3, layers: all, folds: 3, alphas: [0.1, 1, 10, 100], seed: 1}}
ceiling: {method: none, reason: synthetic}
`,
	"remix.yaml": `id: synth.remix
title: synthetic remixing
metadata: {species: none, region: X, method: synthetic, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
rdms: {file: remix.npy}
metric:
  remix:
    training: {dir: train, labels: {csv: train.csv, column: class, match: file}}
    alpha: 1
    layers: all
ceiling: {method: rsa-nili}
splits: {count: 4, selection_fraction: 0.5, seed: 2}
`,
	"time.yaml": `id: synth.time
title: synthetic time-resolved RSA
metadata: {species: none, region: X, method: synthetic MEG, licence: CC0, citation: "@misc{synth}"}
stimuli: {dir: pub}
rdms: {file: time_rdms.npy, times: times.npy}
metric: {time_resolved_rsa: {distance: correlation, comparison: spearman}}
ceiling: {method: rsa-nili}
splits: {count: 4, selection_fraction: 0.5, seed: 2}
`,
}

// simPeak is the time (s) at which the simulated MEG signal peaks.
const simPeak = 0.15

// writeTimeResolved simulates MEG RDMs over the images in dir/pub:
// subject s's RDM at time t is a(t)·base + noise with base the images'
// correlation RDM and a(t) a Gaussian bump peaking at simPeak (width
// 30 ms), so the signal layer's curve peaks at simPeak.
func writeTimeResolved(t *testing.T, dir string, n, subjects int) {
	t.Helper()
	x := linalg.NewMatrix[float64](n, 108)
	for i, img := range pubImages(t, dir, n) {
		copy(x.Row(i), pixels(img))
	}
	base, err := rdm.Compute(x, rdm.Correlation)
	if err != nil {
		t.Fatal(err)
	}
	times := make([]float64, 13) // 0 to 300 ms in 25 ms steps
	for i := range times {
		times[i] = 0.025 * float64(i)
	}
	r := rand.New(rand.NewPCG(8, 8))
	data := make([]float64, 0, subjects*len(times)*n*n)
	for s := 0; s < subjects; s++ {
		for _, tm := range times {
			a := math.Exp(-(tm - simPeak) * (tm - simPeak) / (2 * 0.03 * 0.03))
			m := make([]float64, n*n)
			for i := 0; i < n; i++ {
				for j := i + 1; j < n; j++ {
					v := a*base[i*n+j] + 0.1*r.NormFloat64()
					m[i*n+j], m[j*n+i] = v, v
				}
			}
			data = append(data, m...)
		}
	}
	if err := npy.WriteFile(filepath.Join(dir, "time_rdms.npy"), []int{subjects, len(times), n, n}, data); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(filepath.Join(dir, "times.npy"), []int{len(times)}, times); err != nil {
		t.Fatal(err)
	}
}

// pubImages decodes the n images in dir/pub, in file-name order (the
// order of the benchmark's stimuli).
func pubImages(t *testing.T, dir string, n int) []image.Image {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "pub", "*.png"))
	if err != nil || len(names) != n {
		t.Fatalf("images: %v (%d of %d)", err, len(names), n)
	}
	imgs := make([]image.Image, n)
	for i, name := range names {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		imgs[i], _, err = image.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return imgs
}

// remixFeature is what the remix simulation is about: the first of the
// fake model's noiseless layer-3 features, so that a linear classifier on
// that layer can recover it.
func remixFeature(img image.Image) float64 {
	return projection(pixels(img), 3, 40)[0]
}

// writeRemix writes 80 labelled training images (class "hi" when
// remixFeature > 0) and subjects' RDMs over the images in dir/pub that
// are |feature_i − feature_j| plus noise: a classifier of the training
// classes recovers the brain's geometry.
func writeRemix(t *testing.T, dir string, n, subjects int) {
	t.Helper()
	r := rand.New(rand.NewPCG(5, 5))
	csv := "file,class\n"
	if err := os.MkdirAll(filepath.Join(dir, "train"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 80; i++ {
		img := image.NewRGBA(image.Rect(0, 0, 6, 6))
		for j := range img.Pix {
			img.Pix[j] = uint8(r.IntN(256))
			if j%4 == 3 {
				img.Pix[j] = 255
			}
		}
		name := fmt.Sprintf("t%02d.png", i)
		f, err := os.Create(filepath.Join(dir, "train", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		class := "lo"
		if remixFeature(img) > 0 {
			class = "hi"
		}
		csv += name + "," + class + "\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "train.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	feat := make([]float64, n)
	for i, img := range pubImages(t, dir, n) {
		feat[i] = remixFeature(img)
	}
	data := make([]float64, 0, subjects*n*n)
	for s := 0; s < subjects; s++ {
		m := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				v := math.Abs(feat[i]-feat[j]) + 0.3*r.NormFloat64()
				m[i*n+j], m[j*n+i] = v, v
			}
		}
		data = append(data, m...)
	}
	if err := npy.WriteFile(filepath.Join(dir, "remix.npy"), []int{subjects, n, n}, data); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerAdvancedMetrics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const n, subjects = 60, 3
	writeDataset(t, dir, n, subjects)
	writeTimeResolved(t, dir, n, subjects)
	writeRemix(t, dir, n, subjects)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, name := range []string{"rw.yaml", "rw-priv.yaml", "vp.yaml", "fw.yaml", "dec.yaml", "time.yaml", "remix.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(advancedManifests[name]), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Add(ctx, filepath.Join(dir, name), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Bootstrap = 200
	run, err := NewRunner(cfg, reg, &memResults{}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"synth.rw.priv", "synth.rw", "synth.vp", "synth.fw", "synth.dec", "synth.time", "synth.remix"}
	scores, err := run.Run(ctx, newFakeModel(8, 40, 3), ids)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]scoring.Score{}
	for _, s := range scores {
		by[s.BenchmarkID] = s
		t.Logf("%s: raw %.3f ± %.3f [%.3f, %.3f] ceiling %.3f layer %s\n\t%s", s.BenchmarkID, s.Raw, s.SE, s.CILow, s.CIHigh, s.Ceiling, s.Layer, s.Selection)
		if !(s.CILow <= s.Raw && s.Raw <= s.CIHigh) {
			t.Errorf("%s: bootstrap interval [%.3f, %.3f] does not contain the score %.3f", s.BenchmarkID, s.CILow, s.CIHigh, s.Raw)
		}
		if !(s.SE > 0) || len(s.Layers) == 0 || s.Layer == "" || s.Selection == "" {
			t.Errorf("%s: incomplete score %+v", s.BenchmarkID, s)
		}
	}
	if len(by) != len(ids) {
		t.Fatalf("got %d scores, want %d", len(by), len(ids))
	}

	rw := by["synth.rw"]
	// The brain RDMs are the pixels' RDM plus noise: the signal layer
	// carries the weight and the fit is good.
	if rw.Layer != "L003.Conv" || !(rw.Raw > 0.3) || !(rw.Ceiling > rw.Raw) {
		t.Errorf("reweighted: layer %s raw %.3f ceiling %.3f, want L003.Conv, > 0.3 and below the ceiling", rw.Layer, rw.Raw, rw.Ceiling)
	}
	if _, ok := rw.SelectionData.Value("best_single_mean"); !ok || rw.SelectionData.Method != scoring.CrossValidated || len(rw.Layers) != 6 {
		t.Errorf("reweighted: selection %+v, %d profile layers (want 6)", rw.SelectionData, len(rw.Layers))
	}
	if w := rw.SelectionData.LayerValues["weight"]; !(w["L003.Conv"] > 0) {
		t.Errorf("reweighted: weights %v, want L003.Conv weighted", w)
	}
	priv := by["synth.rw.priv"]
	if priv.SelectionData.Method != scoring.CrossValidated || priv.SelectionData.Partner != "synth.rw" || math.Abs(priv.Raw) > 0.2 {
		t.Errorf("private reweighted: raw %.3f (want ~0: unrelated data), selection %+v", priv.Raw, priv.SelectionData)
	}

	vp := by["synth.vp"]
	_, unique := vp.SelectionData.Value("unique early")
	_, shared := vp.SelectionData.Value("shared early+late")
	if !math.IsNaN(vp.Ceiling) || !(vp.Raw > 0.1) || !unique || !shared || len(vp.SelectionData.Sets["early"]) == 0 || len(vp.SelectionData.Sets["late"]) == 0 {
		t.Errorf("variance partitioning: raw %.3f ceiling %v selection %+v", vp.Raw, vp.Ceiling, vp.SelectionData)
	}

	fw := by["synth.fw"]
	if fw.Layer != "L003.Conv" || !(fw.Raw > 0.1) {
		t.Errorf("feature-weighted: layer %s raw %.3f, want L003.Conv and > 0.1", fw.Layer, fw.Raw)
	}

	dec := by["synth.dec"]
	if !(dec.Raw > 0.1) || !math.IsNaN(dec.Ceiling) {
		t.Errorf("decoding: raw %.3f ceiling %v, want > 0.1 and no ceiling", dec.Raw, dec.Ceiling)
	}

	tm := by["synth.time"]
	if tm.Layer != "L003.Conv" || !(tm.Raw > 0.2) || !(tm.Ceiling > 0) {
		t.Errorf("time-resolved: layer %s raw %.3f ceiling %.3f", tm.Layer, tm.Raw, tm.Ceiling)
	}
	// The known peak: chosen on selection halves and on all data.
	if med, _ := tm.SelectionData.Value("median_chosen_time"); math.Abs(med-simPeak) > 1e-9 {
		t.Errorf("time-resolved: median chosen time %g s, want the simulated peak at %g s", med, simPeak)
	}
	if peak, _ := tm.SelectionData.Value("peak_time"); math.Abs(peak-simPeak) > 1e-9 {
		t.Errorf("time-resolved: full-data peak of %s at %g s, want %g s", tm.Layer, peak, simPeak)
	}

	rx := by["synth.remix"]
	if !(rx.Raw > 0.2) || !(rx.Ceiling > rx.Raw) || rx.SelectionData.Values["classes"] != 2 || rx.SelectionData.Values["training_images"] != 80 {
		t.Errorf("remix: raw %.3f ceiling %.3f selection %+v", rx.Raw, rx.Ceiling, rx.SelectionData)
	}
}
