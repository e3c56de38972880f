package runner

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/preprocess"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// benchSet opens the in-memory benchmarks it holds, by id.
type benchSet map[string]*benchmarks.Loaded

func (s benchSet) Open(_ context.Context, ref string) (*benchmarks.Loaded, error) {
	l, ok := s[ref]
	if !ok {
		return nil, fmt.Errorf("no benchmark %s", ref)
	}
	return l, nil
}

// putKeys records the keys written to an object store.
type putKeys struct {
	*objstore.Memory
	keys []string
}

func (p *putKeys) Put(ctx context.Context, key string, r io.Reader) error {
	p.keys = append(p.keys, key)
	return p.Memory.Put(ctx, key, r)
}

// placementImages are n distinct 32×24 pictures (seeded blobs on a
// coloured ground), encoded as PNG.
func placementImages(t *testing.T, n int) []image.Image {
	t.Helper()
	r := rand.New(rand.NewPCG(16, 4))
	var out []image.Image
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 32, 24))
		ground := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		blob := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		cx, cy, rad := 6+r.IntN(20), 5+r.IntN(14), 3+r.IntN(6)
		for y := range 24 {
			for x := range 32 {
				c := ground
				if (x-cx)*(x-cx)+(y-cy)*(y-cy) < rad*rad || (x+i)%9 == 0 {
					c = blob
				}
				img.SetRGBA(x, y, c)
			}
		}
		out = append(out, img)
	}
	return out
}

// stimuliOf stores imgs as PNG files, as an import does.
func stimuliOf(t *testing.T, store *objstore.Memory, prefix string, imgs []image.Image) *benchmarks.Stimuli {
	t.Helper()
	var set benchmarks.StimulusSet
	for i, img := range imgs {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s%02d.png", prefix, i)
		f, err := benchmarks.PutStimulusFile(context.Background(), store, name, buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		set.Stimuli = append(set.Stimuli, benchmarks.Stimulus{Name: name, File: &f})
	}
	return benchmarks.NewStimuli(store, set)
}

// rsaBench is an RSA benchmark of stim with the given brain RDMs, stating
// its stimuli's size in degrees (0: not stated).
func rsaBench(id string, stim *benchmarks.Stimuli, rdms [][]float64, degrees float64) *benchmarks.Loaded {
	b := &benchmarks.Benchmark{ID: id, Version: "v-" + id,
		Metric:      benchmarks.Metric{Kind: benchmarks.MetricRSA, Distance: "correlation", Comparison: "spearman"},
		Splits:      benchmarks.Splits{Count: 3, SelectionFraction: 0.5, Seed: 7},
		Ceiling:     benchmarks.CeilingPolicy{Method: benchmarks.CeilingNone, Reason: "synthetic"},
		Conventions: benchmarks.Conventions{Degrees: degrees}}
	return &benchmarks.Loaded{Benchmark: b, Stimuli: stim, RDMs: rdms}
}

// Visual degrees end to end (issue 16): a 10-stimulus RDM benchmark stating
// its images are 4° wide, scored through ONNX Runtime with a small CNN
// whose field of view is the default 8°, gives exactly the scores of the
// same benchmark made of the images placed beforehand (scaled by ½ onto
// grey) and stating no size — the model saw placed images — and not those
// of the images unplaced. The three share one run and one activation
// cache: placed activations are cached under their own stimulus key, the
// unplaced ones under the key of before, and the layer-RDM memo keeps
// them apart too. A field of view of 16° on 8° stimuli is the same screen;
// a field of view of 4° on 4° stimuli uses them as given. Every score
// records the degrees and field of view it was computed with.
func TestVisualDegreesEndToEnd(t *testing.T) {
	lib := filepath.Join("..", "..", ort.DefaultLibraryPath)
	cfg := ort.DefaultConfig()
	cfg.LibraryPath = lib
	rt, err := ort.Open(cfg)
	if err != nil {
		t.Skipf("ONNX Runtime at %s: %v", lib, err)
	}
	ctx := context.Background()
	checked, err := onnxmodel.Validate(onnxtest.TinyCNN().Bytes(), onnxmodel.DefaultConfig(), rt)
	if err != nil {
		t.Fatal(err)
	}
	cache := &putKeys{Memory: objstore.NewMemory()}
	model := func(fov string) *onnxrun.Model {
		spec, err := models.ParseSpec("size=8,crop=1,aspect=stretch,layout=NCHW" + fov)
		if err != nil {
			t.Fatal(err)
		}
		m, err := onnxrun.New(rt, checked, onnxrun.Info{Name: "tiny" + fov, Spec: spec}, 0)
		if err != nil {
			t.Fatal(err)
		}
		m.Cache, m.CacheLimit = cache, onnxrun.DefaultCacheLimit
		return m
	}

	const n = 10
	imgs := placementImages(t, n)
	placed := make([]image.Image, n)
	for i, img := range imgs {
		placed[i] = preprocess.Place(img, 4, 8)
	}
	store := objstore.NewMemory()
	// Each benchmark has its stimuli object, as the registry opens them.
	raw, pre := stimuliOf(t, store, "raw", imgs), stimuliOf(t, store, "placed", placed)
	rawSet := raw.Set()
	fresh := func() *benchmarks.Stimuli { return benchmarks.NewStimuli(store, rawSet) }
	// The brain: two noisy subjects of the pixel RDM of the placed images.
	x := linalg.NewMatrix[float64](n, 32*24*3)
	for i, img := range placed {
		row := x.Row(i)
		for y := range 24 {
			for xx := range 32 {
				r, g, b, _ := img.At(xx, y).RGBA()
				k := 3 * (y*32 + xx)
				row[k], row[k+1], row[k+2] = float64(r>>8), float64(g>>8), float64(b>>8)
			}
		}
	}
	full, err := rdm.Compute(x, rdm.Correlation)
	if err != nil {
		t.Fatal(err)
	}
	pix := rdm.Upper(n, full)
	noise := rand.New(rand.NewPCG(1, 2))
	var subjects [][]float64
	for range 2 {
		v := slices.Clone(pix)
		for k := range v {
			v[k] += 0.2 * noise.NormFloat64()
		}
		subjects = append(subjects, v)
	}
	set := benchSet{
		"deg4":   rsaBench("deg4", fresh(), subjects, 4),   // stated 4°: placed by the runner
		"plain":  rsaBench("plain", raw, subjects, 0),      // the same images, no size stated
		"pre":    rsaBench("pre", pre, subjects, 0),        // placed beforehand, no size stated
		"deg8":   rsaBench("deg8", fresh(), subjects, 8),   // 8°: for the 16° model, the same screen as 4° in 8°
		"deg4fo": rsaBench("deg4fo", fresh(), subjects, 4), // 4°: for the 4° model, the images as given
	}
	rcfg := DefaultConfig()
	rcfg.Bootstrap = 50
	run := func(m Model, refs ...string) map[string]scoring.Score {
		t.Helper()
		r, err := NewRunner(rcfg, set, &memResults{}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		scores, err := r.Run(ctx, m, refs)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]scoring.Score{}
		for _, s := range scores {
			out[s.BenchmarkID] = s
		}
		return out
	}
	same := func(a, b scoring.Score) bool {
		if math.Float64bits(a.Raw) != math.Float64bits(b.Raw) || a.Layer != b.Layer || len(a.Layers) != len(b.Layers) {
			return false
		}
		for i := range a.Layers {
			if math.Float64bits(a.Layers[i].Raw) != math.Float64bits(b.Layers[i].Raw) {
				return false
			}
		}
		return true
	}
	profile := func(s scoring.Score) string {
		var parts []string
		for _, l := range s.Layers {
			parts = append(parts, fmt.Sprintf("%s %.6f", l.Layer, l.Raw))
		}
		return strings.Join(parts, ", ")
	}

	m8 := model("")
	first := run(m8, "deg4", "plain", "pre")
	deg4, plain, preS := first["deg4"], first["plain"], first["pre"]
	t.Logf("4° in 8°: %s; unplaced: %s; placed beforehand: %s", profile(deg4), profile(plain), profile(preS))
	if !same(deg4, preS) {
		t.Errorf("4° stimuli in an 8° field of view score %s, the images placed beforehand %s: the model did not see placed images", profile(deg4), profile(preS))
	}
	if same(deg4, plain) {
		t.Errorf("4° stimuli score as the unplaced images (%s): no placement was applied", profile(plain))
	}
	if c := deg4.Conventions; c.Degrees != 4 || c.FieldOfView != 8 {
		t.Errorf("4° score's conventions %+v, want degrees 4, field of view 8", c)
	}
	for _, s := range []scoring.Score{plain, preS} {
		if c := s.Conventions; c.Degrees != 0 || c.FieldOfView != 0 {
			t.Errorf("%s: conventions %+v record a placement that was not applied", s.BenchmarkID, c)
		}
	}

	// The cache: the unplaced images under the key of before, the placed
	// ones under another, the pre-placed files under their own content.
	stimKeys := map[string]bool{}
	for _, k := range cache.keys {
		parts := strings.Split(k, "/")
		if len(parts) == 5 && parts[0] == "activations" {
			stimKeys[parts[2]] = true
		}
	}
	rawKey, preKey := StimulusKey(raw.Set()), StimulusKey(pre.Set())
	placedKey := placedImages{images: images{raw}, degrees: 4, fov: 8}.Key()
	want := map[string]bool{rawKey: true, preKey: true, placedKey: true}
	if len(stimKeys) != 3 || !stimKeys[rawKey] || !stimKeys[preKey] || !stimKeys[placedKey] {
		t.Errorf("cached under stimulus keys %v, want %v (unplaced, pre-placed, placed)", stimKeys, want)
	}

	// Again, unplaced first, activations read from the cache: the same.
	puts := len(cache.keys)
	again := run(m8, "plain", "deg4")
	if len(cache.keys) != puts {
		t.Errorf("the second run extracted again (%d new cache entries)", len(cache.keys)-puts)
	}
	if !same(again["deg4"], deg4) || !same(again["plain"], plain) {
		t.Errorf("from the cache: 4° %s (was %s), unplaced %s (was %s)", profile(again["deg4"]), profile(deg4), profile(again["plain"]), profile(plain))
	}

	// The field of view comes from the model's spec.
	m16 := model(",fov=16")
	s16 := run(m16, "deg8")["deg8"]
	if !same(s16, deg4) {
		t.Errorf("8° stimuli in a 16° field of view score %s, 4° in 8° %s: the same screen", profile(s16), profile(deg4))
	}
	if c := s16.Conventions; c.Degrees != 8 || c.FieldOfView != 16 {
		t.Errorf("16° model's conventions %+v", c)
	}
	m4 := model(",fov=4")
	s4 := run(m4, "deg4fo")["deg4fo"]
	if !same(s4, plain) {
		t.Errorf("4° stimuli in a 4° field of view score %s, the images as given %s", profile(s4), profile(plain))
	}
	if c := s4.Conventions; c.Degrees != 4 || c.FieldOfView != 4 {
		t.Errorf("4° model's conventions %+v", c)
	}
	if m4.Hash() == m8.Hash() || m16.Hash() == m8.Hash() {
		t.Error("models with other fields of view share the entry id of the default")
	}
}

// The runner hands over the stimuli of a benchmark stating no size (or
// the model's field of view) as they are, under the key of before; placed
// ones are another keyed set.
func TestPlacementKeys(t *testing.T) {
	store := objstore.NewMemory()
	stim := stimuliOf(t, store, "k", placementImages(t, 3))
	e := &Env{}
	m := &fakeFOV{fov: 10}
	for _, d := range []float64{0, 10} {
		e.degrees = nil
		if err := e.noteDegrees(rsaBench("b", stim, nil, d)); err != nil {
			t.Fatal(err)
		}
		got := e.place(m, images{stim})
		if got != (images{stim}) || e.placementKey(m, images{stim}) != "" {
			t.Errorf("degrees %g with fov 10: %#v, key %q: want the images as given", d, got, e.placementKey(m, images{stim}))
		}
	}
	e.degrees = nil
	if err := e.noteDegrees(rsaBench("b", stim, nil, 5)); err != nil {
		t.Fatal(err)
	}
	p, ok := e.place(m, images{stim}).(placedImages)
	if !ok || p.degrees != 5 || p.fov != 10 {
		t.Fatalf("5° with fov 10: %#v", e.place(m, images{stim}))
	}
	if k := p.Key(); k == (images{stim}).Key() || !models.IsSHA256Hex(k) {
		t.Errorf("placed key %q", k)
	}
	if e.placementKey(m, images{stim}) != "/placed:5@10" {
		t.Errorf("memo key suffix %q", e.placementKey(m, images{stim}))
	}
	// One stimuli object shown at two sizes in one run is refused.
	if err := e.noteDegrees(rsaBench("c", stim, nil, 6)); err == nil {
		t.Error("two sizes for one stimuli object: no error")
	}
	// A model that states no field of view sees 8°.
	if f := FieldOfView(&fakeFOV{}); f != models.DefaultFieldOfView {
		t.Errorf("no field of view: %g", f)
	}
	if d, f := shownAt(m, rsaBench("b", stim, nil, 0).Benchmark); d != 0 || f != 0 {
		t.Errorf("no degrees: score records %g°, %g°", d, f)
	}
}

// fakeFOV is a Model stating a field of view (0: none).
type fakeFOV struct {
	Model
	fov float64
}

func (f *fakeFOV) FieldOfView() float64 { return f.fov }
