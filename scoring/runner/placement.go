package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"math"
	"strconv"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

// Visual degrees (issue 16). A benchmark may state its stimuli's size in
// degrees of visual angle (Conventions.Degrees), a model its field of view
// (models.Spec's fov, default 8°). The stimuli of such a benchmark are
// shown to the model placed on its screen (preprocess.Place) before the
// model's own preprocessing: every extraction of them goes through
// forEachGroup, which places them, and they are keyed apart from the same
// images unplaced (activation caches, the in-run layer-RDM memo). Stimuli
// of a benchmark that states no degrees are handed over as before, under
// the keys of before.
//
// The runner learns which stimuli belong to which benchmark when it opens
// the benchmark (shownBenchmarks wraps its Benchmarks), so every metric,
// and every way of choosing a layer, sees placed images without passing
// anything along. Stimuli it did not open (none in a run) are used as
// given.

// FieldOfViewer is a Model that states its field of view in degrees of
// visual angle (onnxrun.Model: its spec's fov). A Model that does not
// sees models.DefaultFieldOfView; a wrapper of a Model must forward it.
type FieldOfViewer interface {
	FieldOfView() float64
}

// FieldOfView is m's field of view in degrees: the one it states, or
// models.DefaultFieldOfView.
func FieldOfView(m Model) float64 {
	if f, ok := m.(FieldOfViewer); ok {
		if v := f.FieldOfView(); v > 0 {
			return v
		}
	}
	return models.DefaultFieldOfView
}

// shownBenchmarks opens benchmarks through b and notes, for each one, the
// size its stimuli are shown at (Env.noteDegrees).
type shownBenchmarks struct {
	b   Benchmarks
	env *Env
}

func (s shownBenchmarks) Open(ctx context.Context, ref string) (*benchmarks.Loaded, error) {
	l, err := s.b.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	if err := s.env.noteDegrees(l); err != nil {
		return nil, err
	}
	return l, nil
}

// noteDegrees records the size in degrees of l's stimuli (test, training
// and session images; 0 when l's benchmark states none), until the end of
// the run. One stimuli object opened for two benchmarks that show it at
// two sizes is refused rather than shown at either (the registry opens
// fresh stimuli for every benchmark, so it never happens there).
func (e *Env) noteDegrees(l *benchmarks.Loaded) error {
	d := l.Benchmark.Conventions.Degrees
	if math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
		return fmt.Errorf("%w: benchmark %s states its stimuli are %g degrees wide: want a positive number of degrees of visual angle", ErrInternal, l.Benchmark.ID, d)
	}
	if e.degrees == nil {
		e.degrees = map[*benchmarks.Stimuli]float64{}
	}
	sets := []*benchmarks.Stimuli{l.Stimuli, l.Training}
	for _, s := range l.Sessions {
		sets = append(sets, s.Stimuli)
	}
	for _, s := range sets {
		if s == nil {
			continue
		}
		if was, ok := e.degrees[s]; ok && was != d {
			return fmt.Errorf("%w: benchmark %s shows its stimuli at %g degrees (0: as given), but the same stimuli object was opened for another benchmark of this run that shows it at %g: open each benchmark's stimuli apart", ErrInternal, l.Benchmark.ID, d, was)
		}
		e.degrees[s] = d
	}
	return nil
}

// placementOf is the stimuli's size in degrees and m's field of view when
// stim are a benchmark's images shown placed; ok is false when they are
// used as given (their benchmark states no size, or the size is the field
// of view: preprocess.Place would return them untouched).
func (e *Env) placementOf(m Model, stim models.Stimuli) (degrees, fov float64, ok bool) {
	im, isImages := stim.(images)
	if !isImages {
		return 0, 0, false
	}
	degrees = e.degrees[im.s]
	fov = FieldOfView(m)
	if degrees == 0 || degrees == fov {
		return 0, 0, false
	}
	return degrees, fov, true
}

// place returns stim as m is to see them: placed on its screen when their
// benchmark states their size, stim itself otherwise.
func (e *Env) place(m Model, stim models.Stimuli) models.Stimuli {
	d, f, ok := e.placementOf(m, stim)
	if !ok {
		return stim
	}
	return placedImages{images: stim.(images), degrees: d, fov: f}
}

// placementKey is appended to a key naming stim's content for m, so placed
// and unplaced images never share one: "" when they are used as given.
func (e *Env) placementKey(m Model, stim models.Stimuli) string {
	d, f, ok := e.placementOf(m, stim)
	if !ok {
		return ""
	}
	return "/placed:" + formatDegrees(d) + "@" + formatDegrees(f)
}

// shownAt is what a score of m on b records of the placement:
// b's stimuli's size and m's field of view when b states a size, zeros
// when the images were used as given.
func shownAt(m Model, b *benchmarks.Benchmark) (degrees, fov float64) {
	if b.Conventions.Degrees == 0 {
		return 0, 0
	}
	return b.Conventions.Degrees, FieldOfView(m)
}

func formatDegrees(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// placedImages are a benchmark's images placed on a model's screen.
type placedImages struct {
	images
	degrees, fov float64
}

func (p placedImages) Image(ctx context.Context, i int) (image.Image, error) {
	img, err := p.images.Image(ctx, i)
	if err != nil {
		return nil, err
	}
	return preprocess.Place(img, p.degrees, p.fov), nil
}

// Key names the placed images by content and placement (a hex sha256, as
// StimulusKey): activations of placed images are cached apart from those
// of the same images unplaced, or placed at another size.
func (p placedImages) Key() string {
	h := sha256.Sum256([]byte("cortexbench placed stimuli v1\x00" + p.images.Key() + "\x00" + formatDegrees(p.degrees) + "\x00" + formatDegrees(p.fov)))
	return hex.EncodeToString(h[:])
}

var _ models.KeyedStimuli = placedImages{}
