package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/reference"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// writeReferencePool writes a datasets folder laid out as the PCA
// reference pool is (reference.CowleyImages zips, reference.AlgonautsStimuli
// files) with n seeded random 16×16 JPEG images.
func writeReferencePool(t *testing.T, dir string, n int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(16, 5))
	img := func() []byte {
		m := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for p := range 256 {
			m.Set(p%16, p/16, color.RGBA{uint8(rng.UintN(256)), uint8(rng.UintN(256)), uint8(rng.UintN(256)), 255})
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, d := range []string{reference.CowleyImages, reference.AlgonautsStimuli} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for i := range n - 2 {
		f, err := w.Create(fmt.Sprintf("img%03d.jpg", i))
		if err != nil {
			t.Fatal(err)
		}
		f.Write(img())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, reference.CowleyImages, "images_1.zip"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := os.WriteFile(filepath.Join(dir, reference.AlgonautsStimuli, fmt.Sprintf("image_%02d.jpg", i+1)), img(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 16: a score under another reduction than the default (pool:4096)
// is stored under its own scorer version and never overwrites, nor is read
// as, the default's. A real model (the tiny CNN, through ONNX Runtime) is
// scored on a small benchmark by default, with pool:16 and with pca:4 on
// a reference set of 10 images; the three are stored side by side, and
// scoring by default again reads the default's. --reduce none refuses a
// layer over --max-layer-bytes with a message naming the benchmark, the
// layer and the size.
func TestReduceScoresAreKeyedApart(t *testing.T) {
	ortAvailable(t)
	ctx := context.Background()
	data, state, refs := t.TempDir(), t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	writeReferencePool(t, refs, 12)
	model := filepath.Join(state, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	type jsonScore struct {
		ScorerVersion string `json:"scorer_version"`
		Raw           *float64
	}
	score := func(extra ...string) (jsonScore, string, error) {
		t.Helper()
		args := append([]string{"score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
			"--benchmark", "lab2026.IT", "--store", store, "--db", db, "--data", refs, "--bootstrap", "20", "--json"}, extra...)
		out, errOut, err := scoreRun(t, args...)
		if err != nil {
			return jsonScore{}, errOut, err
		}
		var s []jsonScore
		if err := json.Unmarshal([]byte(out), &s); err != nil || len(s) != 1 {
			t.Fatalf("score --json: %v\n%s", err, out)
		}
		return s[0], errOut, nil
	}
	def, _, err := score()
	if err != nil {
		t.Fatal(err)
	}
	pool, _, err := score("--reduce", "pool:16")
	if err != nil {
		t.Fatal(err)
	}
	pca, errOut, err := score("--reduce", "pca:4", "--reference-images", "10")
	if err != nil {
		t.Fatalf("pca:4: %v\n%s", err, errOut)
	}
	if def.ScorerVersion != scoring.ScorerVersion || pool.ScorerVersion != "1+pool:16" ||
		!regexp.MustCompile(`^1\+pca:4@[0-9a-f]{12}$`).MatchString(pca.ScorerVersion) {
		t.Errorf("scorer versions %q, %q, %q; want 1, 1+pool:16, 1+pca:4@<12 hex>", def.ScorerVersion, pool.ScorerVersion, pca.ScorerVersion)
	}

	reg, err := registry.Open(ctx, registry.Config{SQLitePath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	stored, err := reg.ListScores(ctx, registry.ScoreFilter{})
	if err != nil {
		t.Fatal(err)
	}
	byVersion := map[string]float64{}
	profile := map[string]string{}
	for _, s := range stored {
		byVersion[s.ScorerVersion] = s.Raw
		for _, l := range s.Layers {
			profile[s.ScorerVersion] += fmt.Sprintf("%s %.17g; ", l.Layer, l.Raw)
		}
	}
	if len(stored) != 3 || byVersion["1"] != *def.Raw || byVersion["1+pool:16"] != *pool.Raw || byVersion[pca.ScorerVersion] != *pca.Raw {
		t.Errorf("stored scores %v, want 3: %v, %v, %v", byVersion, *def.Raw, *pool.Raw, *pca.Raw)
	}
	// The layers (2×6×6 = 72 values) are pooled to ≤ 16 values, or
	// projected on 4 components: the per-layer scores move.
	if d := profile["1"]; profile["1+pool:16"] == d || profile[pca.ScorerVersion] == d {
		t.Errorf("per-layer raw scores by scorer version: %v: a reduction changed nothing", profile)
	}
	// The default again: the stored default, not a reduced one.
	again, errOut, err := score()
	if err != nil || *again.Raw != *def.Raw || !strings.Contains(errOut, "cached") {
		t.Errorf("default again: raw %v (first %v), %v\n%s", again.Raw, *def.Raw, err, errOut)
	}
	// --pool-to N is pool:N: its stored score.
	alias, errOut, err := score("--pool-to", "16")
	if err != nil || alias.ScorerVersion != "1+pool:16" || *alias.Raw != *pool.Raw || !strings.Contains(errOut, "cached") {
		t.Errorf("--pool-to 16: %+v, %v\n%s", alias, err, errOut)
	}

	for _, c := range []struct {
		args []string
		want []string
	}{
		// 8 stimuli × 72 values × 4 bytes = 2304 bytes for the conv layer.
		{[]string{"--reduce", "none", "--max-layer-bytes", "2000"}, []string{"lab2026.IT", "L00", "8 stimuli × 72 values", "--reduce pool:N"}},
		{[]string{"--reduce", "pca:10", "--reference-images", "10"}, []string{"K ≤ R−1 = 9", "--reference-images 11"}},
		{[]string{"--reduce", "pca:4", "--reference-images", "13"}, []string{"13 reference images asked for", "12"}},
		{[]string{"--reduce", "pca:4", "--data", t.TempDir()}, []string{"reference images for PCA not found", "--data"}},
		{[]string{"--reduce", "pca:4", "--pool-to", "16"}, []string{"disagree"}},
		{[]string{"--reduce", "max:3"}, []string{"pool:N, pca:K or none"}},
	} {
		if _, errOut, err := score(append(c.args, "--fresh")...); err == nil {
			t.Errorf("%v: scored, want a refusal", c.args)
		} else {
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%v: %v\n%s\nwant it to say %q", c.args, err, errOut, w)
				}
			}
		}
	}
	if after, err := reg.ListScores(ctx, registry.ScoreFilter{}); err != nil || len(after) != 3 {
		t.Errorf("refusals changed the stored scores: %d (%v)", len(after), err)
	}
	// --reduce none within the limit: full activations, its own key, not stored with --fresh.
	none, _, err := score("--reduce", "none", "--fresh")
	if err != nil || none.ScorerVersion != "1+none" {
		t.Errorf("none: %+v %v", none, err)
	}
}
