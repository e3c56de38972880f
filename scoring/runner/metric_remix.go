package runner

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/remix"
)

// remixRSA trains, per layer, a ridge classifier on the training images'
// features and scores the RDM of its decision values on the benchmark's
// stimuli as plain RSA, the layer chosen on seeded splits as for rsa.
// Layers holds each layer's remixed RSA score on all stimuli.
// SelectionData (HeldOutStimuli) has the Values "alpha", "classes" and
// "training_images".
type remixRSA struct{ spacedLayers }

func (remixRSA) Score(ctx context.Context, e *Env, m Model, l *benchmarks.Loaded, layers []models.Layer) (scoring.Score, error) {
	b := l.Benchmark
	if err := noFeatures(b); err != nil {
		return scoring.Score{}, err
	}
	n := l.Stimuli.Len()
	if l.Training == nil {
		return scoring.Score{}, fmt.Errorf("%w: remix benchmark %s has no training images", ErrInternal, b.ID)
	}
	metric, method, err := rdmSettings(b)
	if err != nil {
		return scoring.Score{}, err
	}
	// Labels as integers, classes in sorted order.
	names := l.Training.Labels()
	classes := slices.Clone(names)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	labels := make([]int, len(names))
	for i, v := range names {
		labels[i], _ = slices.BinarySearch(classes, v)
	}
	cfg := remix.Config{Alpha: 1, Metric: metric}
	if len(b.Metric.Alphas) > 0 {
		cfg.Alpha = b.Metric.Alphas[0]
	}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	remixed := make([][]float64, len(layers))
	// The benchmark's features of a group of layers are held while the
	// training images pass through the same layers.
	err = e.forEachGroup(ctx, m, b.ID, images{l.Stimuli}, layers, func(group []models.Layer, test *features) error {
		return e.forEachGroup(ctx, m, b.ID+" training images", images{l.Training}, group, func(sub []models.Layer, train *features) error {
			for _, ly := range sub {
				res, err := remix.Remix(train.data[ly.ID], labels, test.data[ly.ID], cfg)
				if err == nil {
					remixed[pos[ly.ID]] = res.RDM
				} // else: no defined RDM (e.g. correlation with two classes): cannot compete
				delete(train.data, ly.ID)
				delete(test.data, ly.ID)
			}
			return nil
		})
	})
	if err != nil {
		return scoring.Score{}, err
	}
	ev, kept, splits, policy, sel, err := rsaSelect(e, l, remixed, layers, method, "of remixed decision values")
	if err != nil {
		return scoring.Score{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	if len(l.RDMs) < 2 && ev.Bound != ceiling.BoundHalves {
		sel.Ceiling = math.NaN()
	}
	s := scoring.Score{Raw: sel.Raw, SE: sel.SE, Ceiling: sel.Ceiling, Layer: kept[sel.Layer].ID}
	s.Selection = fmt.Sprintf("remix: ridge classifier (alpha %g) of %d classes trained on %d training images per layer, %s RDM of its decision values; %s",
		cfg.Alpha, len(classes), len(labels), metric, b.SelectionPolicy())
	s.SelectionData = heldOut(scoring.HeldOutStimuli, policy, sel, kept)
	s.SelectionData.Values = map[string]float64{"alpha": cfg.Alpha, "classes": float64(len(classes)), "training_images": float64(len(labels))}
	s.CILow, s.CIHigh = e.bootstrapDrawn(policy.Seed, rsaSplitStat(ev, splits, sel.Chosen))
	if s.Layers, err = rsaProfile(b, n, ev.Layers, l.RDMs, kept, method, fullCeiling(l)); err != nil {
		return scoring.Score{}, err
	}
	if err := e.putModelRDM(ctx, m, b, n, ev.Layers[sel.Layer]); err != nil {
		return scoring.Score{}, err
	}
	s.Seed = b.Metric.Seed
	return s, nil
}
