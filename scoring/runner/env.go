package runner

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"syscall"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Env is what the runner lends a metric: extraction in groups that fit
// the feature budget, progress events, the layer RDMs already computed
// for the model being run, the model RDM store and the configuration.
type Env struct {
	cfg      Config
	rdms     ModelRDMs // nil: model RDMs are not kept
	progress func(Event)
	// reduction names the model's reduction for the benchmark being
	// scored ("" for the default; see Reducer). A reduced score keeps no
	// model RDM: they are stored by model and benchmark only, for the
	// leaderboard's default scores.
	reduction string

	// layerRDMs keeps, for the model being run, the layer RDMs of each
	// stimulus set, so benchmarks sharing stimuli (the EVC and IT RDMs of
	// one experiment) extract once.
	layerRDMs map[string][][]float64

	// degrees is the size of the stimuli of the run's benchmarks that
	// state one (placement.go).
	degrees map[*benchmarks.Stimuli]float64

	// timings adds up the time of the current Run's stages (timings.go).
	timings *timings

	// reuse keeps, for the current Run, the rows of images more than one
	// of its stimulus sets shows (reuse.go); nil: none does. It is
	// planned at the run's first extraction (a run whose scores are all
	// stored reads no archive for it) over the benchmarks in run.
	reuse     *imageRows
	reuseRun  []*benchmarks.Loaded
	reuseDone bool
}

// putModelRDM keeps the reported model RDM when the runner has a store.
func (e *Env) putModelRDM(ctx context.Context, m Model, b *benchmarks.Benchmark, n int, upper []float64) error {
	if e.rdms == nil || e.reduction != "" {
		return nil
	}
	defer e.timings.add(stageOpen, time.Now())
	if err := e.rdms.PutModelRDM(ctx, m.Hash(), b.ID, n, upper); err != nil {
		return fmt.Errorf("%w: store model RDM: %w", ErrInternal, err)
	}
	return nil
}

// features holds one stimulus set's activations of a group of layers.
type features struct {
	n    int
	data map[string]linalg.Matrix[float32] // by layer id
}

func (f *features) Consume(_ context.Context, l models.Layer, first int, rows [][]float32) error {
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
			return fmt.Errorf("%w: layer %s, stimulus %d: %w", ErrBadModel, l.ID, first+i, err)
		}
		copy(x.Row(first+i), row)
	}
	return nil
}

// platformError reports whether an extraction error comes from storage
// rather than from the model: a corrupt or missing stored object, a file
// system error (ENOSPC when the activation cache fills the disk), or the
// object store answering 5xx (its disk full, it is down).
func platformError(err error) bool {
	var (
		pathErr *fs.PathError
		// The object store's answer (S3 client response errors): 5xx is
		// the store failing, e.g. 507 when its disk is full.
		status interface{ HTTPStatusCode() int }
	)
	return objstore.IsCorrupt(err) || errors.Is(err, objstore.ErrNotFound) || errors.Is(err, syscall.ENOSPC) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EIO) || errors.As(err, &pathErr) ||
		errors.As(err, &status) && status.HTTPStatusCode() >= 500
}

// finite reports the first activation of row that is NaN or ±Inf. v − v
// is 0 for every finite v and NaN for the others: one subtraction and a
// compare per value, on every activation of every layer extracted.
func finite(row []float32) error {
	for j, v := range row {
		if v-v != 0 {
			return fmt.Errorf("activation %d is %v (the network produces NaN or Inf on this image)", j, v)
		}
	}
	return nil
}

// forEachGroup extracts the layers over stim in groups that fit the
// feature budget and calls fn with each group's activations.
func (e *Env) forEachGroup(ctx context.Context, m Model, bench string, stim models.Stimuli, layers []models.Layer, fn func(layers []models.Layer, f *features) error) error {
	return e.extractGroups(ctx, m, bench, stim, layers, true, fn)
}

// extractGroups is forEachGroup; keep false keeps no rows for other sets
// of the run (reuse.go), for an extraction whose whole product is
// memoised by stimulus set (the layer RDMs: a later benchmark on the
// same images extracts nothing).
func (e *Env) extractGroups(ctx context.Context, m Model, bench string, stim models.Stimuli, layers []models.Layer, keep bool, fn func(layers []models.Layer, f *features) error) error {
	src, placement := benchmarkImages(stim), e.placementKey(m, stim)
	stim = e.place(m, stim) // as the model is to see them (placement.go)
	n := stim.Len()
	var groups [][]models.Layer
	var cur []models.Layer
	var bytes int64
	for _, l := range layers {
		sz := int64(n) * int64(m.Features(l)) * 4
		if len(cur) > 0 && bytes+sz > e.cfg.FeatureBudget {
			groups = append(groups, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, l)
		bytes += sz
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	plan, err := e.planExtraction(ctx, m, src, placement, n, keep)
	if err != nil {
		return err
	}
	for g, group := range groups {
		f := &features{n: n, data: map[string]linalg.Matrix[float32]{}}
		msg := fmt.Sprintf("%d layers, pass %d of %d", len(group), g+1, len(groups))
		start := time.Now()
		run, c := plan.pass(stim, group, f)
		e.timings.addReused(n - run.Len())
		progressMsg := msg
		if run.Len() < n { // the count runs to run.Len(), not n: say why
			progressMsg += fmt.Sprintf(" (%d of the %d stimuli are images already run)", n-run.Len(), n)
		}
		var err error
		if run.Len() > 0 {
			err = m.Extract(ctx, run, group, c, func(done, total int) {
				e.progress(Event{Model: m.Name(), Benchmark: bench, Stage: "extracting", Done: done, Total: total, Message: progressMsg})
			})
		}
		if err == nil {
			err = plan.fill(ctx, group, f)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if platformError(err) {
				// A damaged stored stimulus, a full disk while caching
				// activations, an unreadable file: the platform's fault,
				// not the model's (issue 15, finding 2).
				return fmt.Errorf("%w: extract %s: %w", ErrInternal, msg, err)
			}
			return fmt.Errorf("%w: extract %s: %w", ErrBadModel, msg, err)
		}
		e.timings.add(stageExtract, start)
		start = time.Now()
		err = fn(group, f)
		e.timings.add(stageLayerMath, start)
		if err != nil {
			return err
		}
	}
	return nil
}

// images adapts benchmark stimuli to the models' image source.
type images struct {
	s *benchmarks.Stimuli
}

func (im images) Len() int { return im.s.Len() }
func (im images) Image(ctx context.Context, i int) (image.Image, error) {
	return im.s.Image(ctx, i)
}

// Key names the stimulus set by content, for activation caches.
func (im images) Key() string { return StimulusKey(im.s.Set()) }

// modelRDMs computes every layer's RDM (upper-triangle vector) on stim,
// its units handled first as feat says ("" as extracted; see
// handleUnits). A layer with no RDM (constant patterns, or no unit kept)
// is nil.
func (e *Env) modelRDMs(ctx context.Context, m Model, bench string, stim images, layers []models.Layer, metric rdm.Metric, feat string) ([][]float64, error) {
	// The memo is keyed by the feature handling too: RDMs of z-scored
	// units are never reused for raw ones, nor the other way.
	key := StimulusKey(stim.s.Set()) + "/" + e.reduction + "/" + string(metric) + "/features=" + feat
	for _, l := range layers {
		key += "/" + l.ID
	}
	key += e.placementKey(m, stim)
	if v, ok := e.layerRDMs[key]; ok {
		return v, nil
	}
	out := make([][]float64, len(layers))
	pos := map[string]int{}
	for i, l := range layers {
		pos[l.ID] = i
	}
	done := 0
	err := e.extractGroups(ctx, m, bench, stim, layers, false, func(group []models.Layer, f *features) error {
		for _, l := range group {
			var full []float64
			var err error
			msg := "layer " + l.ID
			if feat == "" {
				full, err = rdm.Compute(f.data[l.ID], metric)
			} else {
				x, st, herr := handleUnits(f.data[l.ID], feat)
				if herr != nil {
					return herr
				}
				msg += " (" + feat + ": " + st.String() + ")"
				if st.Kept == 0 {
					err = fmt.Errorf("no unit kept")
				} else {
					full, err = rdm.Compute(x, metric)
				}
			}
			if err != nil {
				// A layer whose patterns are constant for some stimulus
				// (a dead ReLU map), or with no unit kept by the feature
				// handling, has no RDM: it cannot compete, which is
				// recorded as a NaN score.
				out[pos[l.ID]] = nil
			} else {
				out[pos[l.ID]] = rdm.Upper(stim.Len(), full)
			}
			delete(f.data, l.ID)
			done++
			e.progress(Event{Model: m.Name(), Benchmark: bench, Stage: "scoring", Done: done, Total: len(layers), Message: msg})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if e.layerRDMs != nil {
		e.layerRDMs[key] = out
	}
	return out, nil
}

// definedRDMs computes the layers' RDMs with the benchmark's distance and
// keeps those that are defined (a layer with a constant pattern has no
// correlation RDM); it also returns the benchmark's comparison method.
func (e *Env) definedRDMs(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) ([][]float64, []models.Layer, rsa.Method, error) {
	metric, method, err := rdmSettings(l.Benchmark)
	if err != nil {
		return nil, nil, "", err
	}
	v, err := e.modelRDMs(ctx, m, l.Benchmark.ID, images{l.Stimuli}, layers, metric, l.Benchmark.Conventions.Features)
	if err != nil {
		return nil, nil, "", err
	}
	var out [][]float64
	var kept []models.Layer
	for i, x := range v {
		if x != nil {
			out = append(out, x)
			kept = append(kept, layers[i])
		}
	}
	if len(out) == 0 {
		return nil, nil, "", fmt.Errorf("%w: no layer of %s gives a defined %s RDM on these stimuli", ErrBadModel, m.Name(), metric)
	}
	return out, kept, method, nil
}

// rdmSettings parses the benchmark's distance and comparison.
func rdmSettings(b *benchmarks.Benchmark) (rdm.Metric, rsa.Method, error) {
	method := rsa.Spearman
	if b.Metric.Comparison != "" {
		var err error
		if method, err = rsa.ParseMethod(b.Metric.Comparison); err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrInternal, err)
		}
	}
	metric := rdm.Correlation
	if b.Metric.Distance != "" {
		var err error
		if metric, err = rdm.ParseMetric(b.Metric.Distance); err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrInternal, err)
		}
	}
	return metric, method, nil
}

// The runner's stimuli name their content, so activation caches can key
// them.
var _ models.KeyedStimuli = images{}
