package runner

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// pixelModel's rows are an image's mean colour and size, per layer; it
// counts the images it is given.
type pixelModel struct {
	layers []models.Layer
	seen   int
}

func (m *pixelModel) Hash() string              { return "pixelmodel" }
func (m *pixelModel) Name() string              { return "pixel" }
func (m *pixelModel) Layers() []models.Layer    { return m.layers }
func (m *pixelModel) Features(models.Layer) int { return 5 }
func (m *pixelModel) Extract(ctx context.Context, stim models.Stimuli, layers []models.Layer, c models.Consumer, p models.Progress) error {
	for i := range stim.Len() {
		img, err := stim.Image(ctx, i)
		if err != nil {
			return err
		}
		m.seen++
		for _, l := range layers {
			if err := c.Consume(ctx, l, i, [][]float32{pixelRow(img, l)}); err != nil {
				return err
			}
		}
		if p != nil {
			p(i+1, stim.Len())
		}
	}
	return nil
}

func pixelRow(img image.Image, l models.Layer) []float32 {
	var s [3]float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			s[0] += float64(c.R)
			s[1] += float64(c.G)
			s[2] += float64(c.B)
		}
	}
	px := float64(b.Dx() * b.Dy())
	return []float32{float32(s[0] / px), float32(s[1] / px), float32(s[2]/px) + float32(l.Index), float32(b.Dx()), float32(b.Dy())}
}

// extractAll runs forEachGroup over stim for layers with a new pixelModel
// of modelLayers, and returns every layer's values and how many images
// the model was given.
func extractAll(t *testing.T, e *Env, stim models.Stimuli, modelLayers, layers []models.Layer) (map[string][]float32, int) {
	t.Helper()
	m := &pixelModel{layers: modelLayers}
	got := map[string][]float32{}
	err := e.forEachGroup(t.Context(), m, "test", stim, layers, func(group []models.Layer, f *features) error {
		for _, l := range group {
			got[l.ID] = append([]float32(nil), f.data[l.ID].Data...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, m.seen
}

// plainStimuli hides what the stimuli are, so the runner cannot compare
// them: every one is extracted.
type plainStimuli struct{ models.Stimuli }

// A set that shows images more than once runs each distinct image through
// the model once (Env.distinctImages), and every place an image takes
// gets its rows: the features are those of extracting every stimulus,
// value for value, as given and placed on the model's screen; a set of
// distinct images is passed through untouched.
func TestDistinctImagesRunOnce(t *testing.T) {
	ctx := t.Context()
	store := objstore.NewMemory()
	pics := placementImages(t, 5)
	order := []int{0, 1, 0, 2, 3, 1, 4, 0, 4}
	var imgs []image.Image
	for _, k := range order {
		imgs = append(imgs, pics[k])
	}
	dup := stimuliOf(t, store, "dup", imgs)
	distinct := stimuliOf(t, store, "one", pics)
	layers := []models.Layer{{ID: "L0", Index: 0, PerStimulus: true}, {ID: "L1", Index: 1, PerStimulus: true}}

	for _, degrees := range []float64{0, 4} {
		e := &Env{cfg: DefaultConfig(), progress: func(Event) {}, degrees: map[*benchmarks.Stimuli]float64{dup: degrees, distinct: degrees}}
		extract := func(stim models.Stimuli) (map[string][]float32, int) { return extractAll(t, e, stim, layers, layers) }
		got, seen := extract(images{dup})
		if seen != len(pics) {
			t.Fatalf("degrees %g: the model saw %d images of a set of %d showing %d distinct ones", degrees, seen, len(order), len(pics))
		}
		want := map[string][]float32{}
		if degrees == 0 {
			var wantSeen int
			want, wantSeen = extract(plainStimuli{images{dup}})
			if wantSeen != len(order) {
				t.Fatalf("stimuli the runner cannot compare are all extracted: %d of %d", wantSeen, len(order))
			}
		} else {
			// placed as the model sees them
			placed := e.place(&pixelModel{}, images{dup})
			if _, ok := placed.(placedImages); !ok {
				t.Fatalf("degrees %g: the images are not placed (%T)", degrees, placed)
			}
			want, _ = extract(plainStimuli{placed})
		}
		for _, l := range layers {
			if len(got[l.ID]) != len(order)*5 {
				t.Fatalf("degrees %g, %s: %d values for %d stimuli", degrees, l.ID, len(got[l.ID]), len(order))
			}
			for k, v := range want[l.ID] {
				if math.Float32bits(got[l.ID][k]) != math.Float32bits(v) {
					t.Fatalf("degrees %g, %s: stimulus %d value %d is %v, extracting every stimulus gives %v", degrees, l.ID, k/5, k%5, got[l.ID][k], v)
				}
			}
		}
		if _, seen := extract(images{distinct}); seen != len(pics) {
			t.Fatalf("degrees %g: a set of distinct images: %d extracted of %d", degrees, seen, len(pics))
		}
		plan, err := e.planExtraction(ctx, &pixelModel{}, distinct, "", len(pics), true)
		if err != nil {
			t.Fatal(err)
		}
		f := &features{n: len(pics), data: map[string]linalg.Matrix[float32]{}}
		if run, c := plan.pass(images{distinct}, layers, f); run != (images{distinct}) || c != models.Consumer(f) {
			t.Fatalf("a set of distinct images must pass through untouched: %T, %T", run, c)
		}
	}
}

// Images another set of the run shows are extracted once per run: the
// rows of set A's images that set B shows too are kept, and B's
// extraction of the same layers (all of them, or fewer, as a private
// benchmark's committed layer) runs only B's other images, its features
// value for value those of extracting every stimulus. Not reused: a layer
// A did not extract, rows beyond the bound, rows under a PCA reduction
// (their reference set is the benchmark's), rows of images placed
// otherwise.
func TestSharedImagesRunOnce(t *testing.T) {
	store := objstore.NewMemory()
	pics := placementImages(t, 8)
	pick := func(ks ...int) []image.Image {
		var out []image.Image
		for _, k := range ks {
			out = append(out, pics[k])
		}
		return out
	}
	a := stimuliOf(t, store, "a", pick(0, 1, 2, 3, 4))
	b := stimuliOf(t, store, "b", pick(5, 3, 1, 6, 3, 7)) // 1 and 3 from a, 3 twice
	run := []*benchmarks.Loaded{
		{Benchmark: &benchmarks.Benchmark{ID: "A"}, Stimuli: a},
		{Benchmark: &benchmarks.Benchmark{ID: "B"}, Sessions: []benchmarks.LoadedSession{{ID: "s", Stimuli: b}}},
	}
	all := []models.Layer{{ID: "L0", Index: 0, PerStimulus: true}, {ID: "L1", Index: 1, PerStimulus: true}, {ID: "L2", Index: 2, PerStimulus: true}}
	extract := func(e *Env, stim models.Stimuli, layers []models.Layer) (map[string][]float32, int) {
		return extractAll(t, e, stim, all, layers)
	}
	for _, c := range []struct {
		name        string
		onA, onB    []models.Layer
		reduction   string
		budget      int64
		degreesB    float64
		wantSeenOnB int
	}{
		{name: "same layers", onA: all[:2], onB: all[:2], wantSeenOnB: 3},
		{name: "one of them", onA: all[:2], onB: all[1:2], wantSeenOnB: 3},
		{name: "a layer A did not extract", onA: all[:2], onB: all[1:3], wantSeenOnB: 5},
		{name: "over the bound", onA: all[:2], onB: all[:2], budget: 4 * 100, wantSeenOnB: 5},
		{name: "pca", onA: all[:2], onB: all[:2], reduction: "pca:2@ref", wantSeenOnB: 5},
		{name: "B placed otherwise", onA: all[:2], onB: all[:2], degreesB: 4, wantSeenOnB: 5},
	} {
		cfg := DefaultConfig()
		if c.budget > 0 {
			cfg.FeatureBudget = c.budget
		}
		var said string // the last extraction progress message
		e := &Env{cfg: cfg, progress: func(ev Event) {
			if ev.Stage == "extracting" {
				said = ev.Message
			}
		}, reuseRun: run, reduction: c.reduction, degrees: map[*benchmarks.Stimuli]float64{b: c.degreesB}, timings: &timings{}}
		defer func() { e.reuse.release() }()
		if _, seen := extract(e, images{a}, c.onA); seen != 5 {
			t.Fatalf("%s: set A: %d images extracted of 5", c.name, seen)
		}
		got, seen := extract(e, images{b}, c.onB)
		if seen != c.wantSeenOnB {
			t.Fatalf("%s: set B: %d images extracted, want %d (6 stimuli, 5 distinct, 2 of them A's)", c.name, seen, c.wantSeenOnB)
		}
		if want := fmt.Sprintf("(%d of the 6 stimuli are images already run)", 6-c.wantSeenOnB); !strings.Contains(said, want) {
			t.Fatalf("%s: the progress of set B says %q, not %q", c.name, said, want)
		}
		if r := e.timings.get().Reused; c.budget == 0 && r != int64(6-seen) {
			t.Fatalf("%s: %d stimuli counted as not run, want %d", c.name, r, 6-seen)
		}
		fresh := &Env{cfg: DefaultConfig(), progress: func(Event) {}, degrees: e.degrees}
		want, _ := extract(fresh, plainStimuli{fresh.place(&pixelModel{}, images{b})}, c.onB)
		for _, l := range c.onB {
			if len(got[l.ID]) != len(want[l.ID]) || len(want[l.ID]) != 6*5 {
				t.Fatalf("%s, %s: %d values, want %d", c.name, l.ID, len(got[l.ID]), len(want[l.ID]))
			}
			for k, v := range want[l.ID] {
				if math.Float32bits(got[l.ID][k]) != math.Float32bits(v) {
					t.Fatalf("%s, %s: stimulus %d value %d is %v, extracting every stimulus gives %v", c.name, l.ID, k/5, k%5, got[l.ID][k], v)
				}
			}
		}
	}
}

// Sets of the same images in the same order count once within one
// benchmark (its sessions extract them once, sessionScores), so a
// benchmark's sessions shown one set keep no rows for each other; in two
// benchmarks they are two sets, whose rows are kept for the later one
// (two encoding benchmarks of one recording), except by an extraction
// whose product is memoised whole (keep false: the layer RDMs).
func TestPlanReuseIdenticalSets(t *testing.T) {
	store := objstore.NewMemory()
	pics := placementImages(t, 4)
	s1, s2 := stimuliOf(t, store, "x", pics), stimuliOf(t, store, "x", pics)
	if s1 == s2 || StimulusKey(s1.Set()) != StimulusKey(s2.Set()) {
		t.Fatal("the two sets must be two Stimuli of one key")
	}
	sessions := &benchmarks.Loaded{Benchmark: &benchmarks.Benchmark{ID: "subjects"},
		Sessions: []benchmarks.LoadedSession{{ID: "1", Stimuli: s1}, {ID: "2", Stimuli: s2}}}
	r, err := planReuse(t.Context(), []*benchmarks.Loaded{sessions}, 1<<20)
	if err != nil || r != nil {
		t.Fatalf("one benchmark's sessions of one set: planned %v (%v), want nothing to keep", r, err)
	}
	v4 := &benchmarks.Loaded{Benchmark: &benchmarks.Benchmark{ID: "V4"}, Stimuli: s1}
	it := &benchmarks.Loaded{Benchmark: &benchmarks.Benchmark{ID: "IT"}, Stimuli: s2}
	layers := []models.Layer{{ID: "L0", Index: 0, PerStimulus: true}}
	for _, keep := range []bool{true, false} {
		e := &Env{cfg: DefaultConfig(), progress: func(Event) {}, reuseRun: []*benchmarks.Loaded{v4, it}}
		m := &pixelModel{layers: layers}
		err := e.extractGroups(t.Context(), m, "V4", images{s1}, layers, keep, func([]models.Layer, *features) error { return nil })
		if err != nil || m.seen != 4 || e.reuse == nil {
			t.Fatalf("keep %v: the first set: %d images extracted of 4, plan %v, %v", keep, m.seen, e.reuse, err)
		}
		// keep false, as the layer RDMs extract: nothing kept, the second
		// set runs every image
		want := 0
		if !keep {
			want = 4
		}
		if _, seen := extractAll(t, e, images{s2}, layers, layers); seen != want {
			t.Fatalf("keep %v: two benchmarks of one set: the second extracted %d images, want %d", keep, seen, want)
		}
		e.reuse.release()
	}
}

// Sessions that show one set of images (one set shown to several
// subjects) share one extraction, and each session's results are those of
// scoring it alone.
func TestSessionsOfOneSetExtractOnce(t *testing.T) {
	store := objstore.NewMemory()
	pics := placementImages(t, 40)
	s1, s2 := stimuliOf(t, store, "x", pics), stimuliOf(t, store, "x", pics)
	other := stimuliOf(t, store, "y", pics[:30])
	rng := rand.New(rand.NewPCG(3, 4))
	responses := func(targets, n int) []float64 {
		out := make([]float64, targets*n)
		for i := range out {
			out[i] = rng.NormFloat64()
		}
		return out
	}
	b := &benchmarks.Benchmark{ID: "subjects", Metric: benchmarks.Metric{Kind: benchmarks.MetricRidge, Folds: 3, Alphas: []float64{0.1, 1, 10}, Seed: 5}}
	sess := []benchmarks.LoadedSession{
		{ID: "1", Stimuli: s1, Targets: 3, Responses: responses(3, 40)},
		{ID: "o", Stimuli: other, Targets: 2, Responses: responses(2, 30)},
		{ID: "2", Stimuli: s2, Targets: 4, Responses: responses(4, 40)},
	}
	layers := []models.Layer{{ID: "L0", Index: 0, PerStimulus: true}, {ID: "L1", Index: 1, PerStimulus: true}}
	e := &Env{cfg: DefaultConfig(), progress: func(Event) {}}
	m := &pixelModel{layers: layers}
	got, err := sessionScores(t.Context(), e, m, &benchmarks.Loaded{Benchmark: b, Sessions: sess}, layers)
	if err != nil {
		t.Fatal(err)
	}
	if m.seen != 70 {
		t.Fatalf("the model saw %d images; sessions 1 and 2 show one set of 40, session o 30: want 70", m.seen)
	}
	for si := range sess {
		alone := &pixelModel{layers: layers}
		want, err := sessionScores(t.Context(), e, alone, &benchmarks.Loaded{Benchmark: b, Sessions: sess[si : si+1]}, layers)
		if err != nil {
			t.Fatal(err)
		}
		for k := range layers {
			g, w := got[si][k], want[0][k]
			if g == nil || len(g.R) != sess[si].Targets || math.Float64bits(g.Mean) != math.Float64bits(w.Mean) {
				t.Fatalf("session %s, layer %d: %+v, alone %+v", sess[si].ID, k, g, w)
			}
			for j := range w.R {
				if math.Float64bits(g.R[j]) != math.Float64bits(w.R[j]) {
					t.Fatalf("session %s, layer %d, target %d: r %v, alone %v", sess[si].ID, k, j, g.R[j], w.R[j])
				}
			}
		}
	}
}
