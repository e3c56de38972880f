package scoring

// The metrics beyond plain RSA and ridge (issue 8). Each fits and chooses
// inside the benchmark (stimulus folds; a layer or time point on the
// selection part of seeded splits, scored on the test part), never on the
// data it reports, so a private benchmark is scored the same way as a
// public one (its partner's layer is not needed). Where a Score field has no natural meaning for a
// metric it is documented below; numbers that do not fit a Score field
// (weights, variance parts, peak times) are written into Selection in a
// fixed "key value" form.
//
//   - reweighted_rsa: Raw is reweight.Result.Mean (mean over stimulus
//     folds of the mean over held-out subjects of compare(weighted RDM,
//     subject) on held-out stimuli), SE over stimulus folds, Ceiling the
//     per-fold Nili upper bound on the test pairs (averaged), CI a two-way
//     bootstrap of the cells (stimulus folds × subject folds). Layer is the
//     layer with the largest mean weight; Selection lists the mean NNLS
//     weight of every layer with one, and the best single layer chosen on
//     the same training data (BestSingleMean ± SE), the baseline that
//     reweighting must beat. Layers holds each layer's plain RSA score on
//     all stimuli.
//   - variance_partitioning: Raw is the held-out R² of the union of all
//     sets (mean over stimulus folds), SE over folds, no ceiling, CI a
//     bootstrap of the folds. Selection gives every part ("unique early",
//     "shared early+late", ...) and which layers form each set. Layer is
//     the deepest layer of the set with the largest unique part. Layers
//     holds each layer's own held-out R².
//   - feature_weighted_rsa: per layer, reweight.CV on the squared
//     differences of its first Components principal components (package
//     fwrsa); the layer is chosen on the selection part of each seeded
//     split by that cross-validated score and scored by it on the test
//     part; Raw is the mean over splits, SE over splits, Ceiling the Nili
//     upper bound of the test parts, CI a bootstrap of the splits. Layers
//     holds each layer's cross-validated score on all stimuli.
//   - decoding: per layer, ridge from brain responses to the layer's first
//     Components principal components (the mean over folds of the median
//     over components of held-out Pearson r); the layer chosen on seeded
//     splits of the stimuli (one session) or of the sessions, as for
//     ridge. No ceiling (the split-half reliability bounds encoding, not
//     decoding).
//   - remix: per layer, a ridge classifier (package remix) trained on the
//     layer's features of the benchmark's labelled training images gives
//     decision values for the benchmark's stimuli, whose RDM is compared
//     with the subjects' as plain RSA, the layer chosen on seeded splits
//     as for rsa. Layers holds each layer's remixed RSA score on all
//     stimuli.
//   - time_resolved_rsa: the layer and the time point are chosen on the
//     selection part of each seeded split of stimuli (largest mean-over-
//     subjects score) and scored on the test part at that time; Ceiling is
//     the Nili upper bound of the test part at that time. Selection gives
//     the chosen layer's full-data peak time and score. Layers holds each
//     layer's full-data peak score (SE over subjects at the peak).

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/decode"
	"github.com/cortexbench/cortexbench/scoring/fwrsa"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/remix"
	"github.com/cortexbench/cortexbench/scoring/reweight"
	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/stats"
	"github.com/cortexbench/cortexbench/scoring/timersa"
	"github.com/cortexbench/cortexbench/scoring/varpart"
)

// scoreAdvanced scores a benchmark whose metric is one of the advanced
// kinds.
func (r *Runner) scoreAdvanced(ctx context.Context, m Model, l *benchmarks.Loaded) (Score, error) {
	b := l.Benchmark
	if b.Metric.Kind == benchmarks.MetricTimeResolvedRSA {
		layers, err := candidates(m, r.cfg.Candidates)
		if err != nil {
			return Score{}, err
		}
		return r.timeResolvedRSA(ctx, m, l, layers)
	}
	layers, err := r.spacedCandidates(m, b.Metric.Layers)
	if err != nil {
		return Score{}, err
	}
	var s Score
	switch b.Metric.Kind {
	case benchmarks.MetricReweightedRSA:
		s, err = r.reweightedRSA(ctx, m, l, layers)
	case benchmarks.MetricVariancePartitioning:
		s, err = r.variancePartitioning(ctx, m, l, layers)
	case benchmarks.MetricFeatureWeightedRSA:
		s, err = r.featureWeightedRSA(ctx, m, l, layers)
	case benchmarks.MetricDecoding:
		s, err = r.decoding(ctx, m, l, layers)
	case benchmarks.MetricRemix:
		s, err = r.remixRSA(ctx, m, l, layers)
	default:
		return Score{}, fmt.Errorf("%w: benchmark %s has unknown metric %q", ErrInternal, b.ID, b.Metric.Kind)
	}
	if err != nil {
		return Score{}, err
	}
	s.Candidates = string(r.cfg.Candidates)
	if b.Metric.Layers > 0 {
		s.Candidates = fmt.Sprintf("%d evenly spaced of %s", len(layers), r.cfg.Candidates)
	}
	s.Seed = b.Metric.Seed
	return s, nil
}

// spacedCandidates returns k of the runner's candidate layers, evenly
// spaced in topological order and ending on the deepest (all of them for
// k = 0 or when there are no more than k).
func (r *Runner) spacedCandidates(m Model, k int) ([]models.Layer, error) {
	all, err := candidates(m, r.cfg.Candidates)
	if err != nil {
		return nil, err
	}
	if k <= 0 || k >= len(all) {
		return all, nil
	}
	out := make([]models.Layer, k)
	for i := range out {
		out[i] = all[(i+1)*len(all)/k-1]
	}
	return out, nil
}

// definedRDMs computes the layers' RDMs with the benchmark's distance and
// keeps those that are defined (a layer with a constant pattern has no
// correlation RDM); it also returns the benchmark's comparison method.
func (r *Runner) definedRDMs(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) ([][]float64, []models.Layer, rsa.Method, error) {
	metric, method, err := rdmSettings(l.Benchmark)
	if err != nil {
		return nil, nil, "", err
	}
	v, err := r.modelRDMs(ctx, m, l.Benchmark.ID, images{ctx, l.Stimuli}, layers, metric)
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
			return "", "", fmt.Errorf("%w: %v", ErrInternal, err)
		}
	}
	metric := rdm.Correlation
	if b.Metric.Distance != "" {
		var err error
		if metric, err = rdm.ParseMetric(b.Metric.Distance); err != nil {
			return "", "", fmt.Errorf("%w: %v", ErrInternal, err)
		}
	}
	return metric, method, nil
}

// stimulusFolds deals n stimuli into the benchmark's folds, refusing
// folds of fewer than 3 stimuli (a fold's RDM needs 3 pairs).
func stimulusFolds(b *benchmarks.Benchmark, n int) ([]int, error) {
	k := max(b.Metric.Folds, 2)
	if n < 3*k {
		return nil, fmt.Errorf("%w: %s has %d stimuli, too few for %d stimulus folds of at least 3", ErrInternal, b.ID, n, k)
	}
	return reweight.KFold(n, k, b.Metric.Seed), nil
}

// profile returns each layer's plain RSA score on all stimuli.
func rsaProfile(n int, layerRDMs, subjects [][]float64, layers []models.Layer, method rsa.Method, ceil float64) ([]LayerScore, error) {
	ev := &RSAEvaluator{N: n, Layers: layerRDMs, Subjects: subjects, Method: method}
	full, err := ev.Subset(allIndices(n))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	out := make([]LayerScore, len(layers))
	for k, ly := range layers {
		v, err := full.Score(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInternal, err)
		}
		out[k] = LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: v, Ceiled: ceiled(v, ceil)}
	}
	return out, nil
}

func nanIfInvalid(c benchmarks.Ceiling) float64 {
	if c.Valid {
		return c.Upper
	}
	return math.NaN()
}

// reweightedRSA fits non-negative weights of the layers' RDMs (package
// reweight) over stimulus folds × leave-one-subject-out.
func (r *Runner) reweightedRSA(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	layerRDMs, kept, method, err := r.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return Score{}, err
	}
	folds, err := stimulusFolds(b, n)
	if err != nil {
		return Score{}, err
	}
	res, err := reweight.CV(layerRDMs, l.RDMs, reweight.Config{StimulusFolds: folds, Method: method, Intercept: true})
	if err != nil {
		return Score{}, fmt.Errorf("%w: reweighted RSA: %v", ErrBadModel, err)
	}
	// Mean weight per layer over cells, and how often each layer was the
	// best single layer on the training data.
	w := make([]float64, len(kept))
	bestVotes := make([]int, len(kept))
	for _, c := range res.Cells {
		for k, v := range c.Weights {
			w[k] += v / float64(len(res.Cells))
		}
		if c.BestLayer >= 0 {
			bestVotes[c.BestLayer]++
		}
	}
	top, best := 0, 0
	for k := range w {
		if w[k] > w[top] {
			top = k
		}
		if bestVotes[k] > bestVotes[best] {
			best = k
		}
	}
	s := Score{Raw: res.Mean, SE: res.SE, Ceiling: res.CeilingUpper, Layer: kept[top].ID}
	var sb strings.Builder
	subjFolds := "leave-one-subject-out"
	if len(l.RDMs) == 1 {
		subjFolds = "one subject (stimuli held out only)"
	}
	fmt.Fprintf(&sb, "reweighted RSA: NNLS weights of %d layer RDMs fitted on %d stimulus folds (seed %d) × %s, scored on held-out stimuli and subjects; ",
		len(kept), max(b.Metric.Folds, 2), b.Metric.Seed, subjFolds)
	gain := make([]float64, len(res.FoldScores))
	for f := range gain {
		gain[f] = res.FoldScores[f] - res.FoldBestSingle[f]
	}
	g, gse := MeanSE(gain)
	fmt.Fprintf(&sb, "best single layer on the same training data %.4f ± %.4f (most often %s); gain over it %+.4f ± %.4f (paired over stimulus folds); ceiling lower %.4f; mean weights:",
		res.BestSingleMean, res.BestSingleSE, kept[best].ID, g, gse, res.CeilingLower)
	for k, v := range w {
		if v > 0 {
			fmt.Fprintf(&sb, " %s %.4g", kept[k].ID, v)
		}
	}
	s.Selection = sb.String()
	// Two-way bootstrap of the cells: stimulus folds and subject folds
	// drawn with replacement.
	nf, ng := len(res.FoldScores), len(res.Cells)/len(res.FoldScores)
	s.CILow, s.CIHigh = percentileCI(r.cfg.Bootstrap, b.Metric.Seed, func(rr *rand.Rand) float64 {
		var sum float64
		for range nf {
			f := rr.IntN(nf)
			for range ng {
				sum += res.Cells[f*ng+rr.IntN(ng)].Score
			}
		}
		return sum / float64(nf*ng)
	})
	if s.Layers, err = rsaProfile(n, layerRDMs, l.RDMs, kept, method, nanIfInvalid(l.Ceiling)); err != nil {
		return Score{}, err
	}
	if r.rdms != nil {
		// The reported model RDM: the layers mixed by their mean weights.
		mix := make([]float64, len(layerRDMs[0]))
		for k, v := range layerRDMs {
			if w[k] > 0 {
				for i, x := range v {
					mix[i] += w[k] * x
				}
			}
		}
		if err := r.rdms.PutModelRDM(ctx, m.Hash(), b.ID, n, mix); err != nil {
			return Score{}, fmt.Errorf("%w: store model RDM: %v", ErrInternal, err)
		}
	}
	return s, nil
}

// variancePartitioning partitions the held-out R² of the mean brain RDM
// between consecutive depth sets of the layers (package varpart).
func (r *Runner) variancePartitioning(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	layerRDMs, kept, _, err := r.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return Score{}, err
	}
	layerRDMs, kept = distinctRDMs(layerRDMs, kept)
	names := b.Metric.Sets
	if len(kept) < len(names) {
		return Score{}, fmt.Errorf("%w: %d layers with a defined RDM, need at least one per set (%d sets)", ErrBadModel, len(kept), len(names))
	}
	// Consecutive depth parts of (nearly) equal size.
	sets := make([][][]float64, len(names))
	members := make([][]string, len(names))
	for k := range kept {
		si := k * len(names) / len(kept)
		sets[si] = append(sets[si], layerRDMs[k])
		members[si] = append(members[si], kept[k].ID)
	}
	target := make([]float64, len(l.RDMs[0]))
	for _, v := range l.RDMs {
		for i, x := range v {
			target[i] += x / float64(len(l.RDMs))
		}
	}
	folds, err := stimulusFolds(b, n)
	if err != nil {
		return Score{}, err
	}
	res, err := varpart.CV(target, sets, folds)
	if err != nil {
		return Score{}, fmt.Errorf("%w: variance partitioning of %d layers: %v (collinear layer RDMs: use fewer layers, e.g. layers: 8)", ErrBadModel, len(kept), err)
	}
	full := len(res.R2) - 1
	perFold := make([]float64, len(res.FoldR2))
	for f, v := range res.FoldR2 {
		perFold[f] = v[full]
	}
	s := Score{Raw: res.R2[full], Ceiling: math.NaN()}
	_, s.SE = MeanSE(perFold)
	s.CILow, s.CIHigh = percentileCI(r.cfg.Bootstrap, b.Metric.Seed, func(rr *rand.Rand) float64 {
		var sum float64
		for range perFold {
			sum += perFold[rr.IntN(len(perFold))]
		}
		return sum / float64(len(perFold))
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "variance partitioning of the mean RDM of %d subjects, held-out R² over %d stimulus folds (seed %d):", len(l.RDMs), len(perFold), b.Metric.Seed)
	bestUnique := 0
	for mask := 1; mask <= full; mask++ {
		var in []string
		for i, name := range names {
			if mask&(1<<i) != 0 {
				in = append(in, name)
			}
		}
		kind := "shared"
		if len(in) == 1 {
			kind = "unique"
			if res.Parts[mask] > res.Parts[1<<bestUnique] {
				bestUnique = slices.Index(names, in[0])
			}
		}
		fmt.Fprintf(&sb, " %s %s %.4f;", kind, strings.Join(in, "+"), res.Parts[mask])
	}
	for i, name := range names {
		fmt.Fprintf(&sb, " set %s = %s;", name, strings.Join(members[i], ","))
	}
	s.Selection = strings.TrimSuffix(sb.String(), ";")
	s.Layer = members[bestUnique][len(members[bestUnique])-1]
	// Profile: each layer alone, the same folds.
	for k, ly := range kept {
		var r2 []float64
		for f := 0; f < len(perFold); f++ {
			var tr, te []int
			for i, ff := range folds {
				if ff == f {
					te = append(te, i)
				} else {
					tr = append(tr, i)
				}
			}
			v, err := varpart.OLSR2(target, [][]float64{layerRDMs[k]}, reweight.Pairs(n, tr), reweight.Pairs(n, te))
			if err != nil {
				v = math.NaN()
			}
			r2 = append(r2, v)
		}
		mean, se := MeanSE(r2)
		s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: mean, Ceiled: math.NaN(), SE: se})
	}
	return s, nil
}

// splitTable fills a selection Table over the benchmark's seeded splits
// of n stimuli: for every split, score(part, layer) on the selection part
// for every layer, and on the test part for the layer chosen there only
// (the other test entries stay NaN and are never read). score returns the
// layer's cross-validated score within the part (NaN when undefined) and
// the ceiling on the part (NaN for none), kept for the test parts.
func splitTable(splits []Split, layers int, score func(part []int, layer int) (float64, float64, error)) (Table, error) {
	t := Table{Select: make([][]float64, len(splits)), Test: make([][]float64, len(splits)), Ceiling: make([]float64, len(splits))}
	for si, sp := range splits {
		t.Select[si] = make([]float64, layers)
		t.Test[si] = slices.Repeat([]float64{math.NaN()}, layers)
		best, bestV := -1, math.Inf(-1)
		for k := range layers {
			v, _, err := score(sp.Select, k)
			if err != nil {
				return Table{}, fmt.Errorf("split %d selection part: %w", si, err)
			}
			t.Select[si][k] = v
			if v > bestV { // NaN compares false
				best, bestV = k, v
			}
		}
		if best < 0 {
			return Table{}, fmt.Errorf("split %d: %w", si, ErrNoLayer)
		}
		v, c, err := score(sp.Test, best)
		if err != nil {
			return Table{}, fmt.Errorf("split %d test part: %w", si, err)
		}
		t.Test[si][best], t.Ceiling[si] = v, c
	}
	return t, nil
}

// partSplits draws the benchmark's seeded splits of n stimuli (stratified
// by labels when the benchmark says so), each part at least minPart.
func partSplits(b *benchmarks.Benchmark, n int, labels []string, minPart int) ([]Split, SplitPolicy, error) {
	policy := splitPolicy(b)
	if !b.Splits.StratifyByLabel {
		labels = nil
	}
	splits, err := MakeSplits(n, labels, policy, minPart)
	if err != nil {
		return nil, policy, fmt.Errorf("%w: %v", ErrInternal, err)
	}
	return splits, policy, nil
}

// splitBootstrap is the percentile interval of the mean over splits,
// resampling splits.
func (r *Runner) splitBootstrap(perSplit []float64, seed uint64) (lo, hi float64) {
	return percentileCI(r.cfg.Bootstrap, seed, func(rr *rand.Rand) float64 {
		var sum float64
		for range perSplit {
			sum += perSplit[rr.IntN(len(perSplit))]
		}
		return sum / float64(len(perSplit))
	})
}

// featureWeightedRSA weights each layer's principal components (package
// fwrsa). The layer is chosen on the selection part of each seeded split
// (its cross-validated score there) and scored by the same
// cross-validation on the disjoint test part. Choosing it from the other
// outer folds' scores instead would leak: every fold's weights are fitted
// on the stimuli of the other folds, so fold scores share pairs.
func (r *Runner) featureWeightedRSA(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	_, method, err := rdmSettings(b)
	if err != nil {
		return Score{}, err
	}
	folds, err := stimulusFolds(b, n)
	if err != nil {
		return Score{}, err
	}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	// Components per layer, on all stimuli (unsupervised: no brain data).
	comps := make([][][]float64, len(layers))
	ncomp := make([]int, len(layers))
	err = r.forEachGroup(ctx, m, b.ID, images{ctx, l.Stimuli}, layers, func(group []models.Layer, f *features) error {
		for _, ly := range group {
			x := f.data[ly.ID]
			k := min(b.Metric.Components, x.Cols, n-1)
			if c, err := fwrsa.PCComponents(x, k); err == nil {
				comps[pos[ly.ID]], ncomp[pos[ly.ID]] = c, k
			} // else: a constant layer cannot compete (NaN)
			delete(f.data, ly.ID)
		}
		return nil
	})
	if err != nil {
		return Score{}, err
	}
	cv := func(idx []int, k int) (*reweight.Result, error) {
		if comps[k] == nil {
			return nil, nil
		}
		c := make([][]float64, len(comps[k]))
		for i, v := range comps[k] {
			c[i] = subUpper(n, v, idx)
		}
		subj := make([][]float64, len(l.RDMs))
		for i, v := range l.RDMs {
			subj[i] = subUpper(n, v, idx)
		}
		fo := folds
		if len(idx) != n {
			fo = reweight.KFold(len(idx), max(b.Metric.Folds, 2), b.Metric.Seed)
		}
		res, err := fwrsa.CV(c, subj, reweight.Config{StimulusFolds: fo, Method: method})
		if err != nil {
			return nil, nil // undefined for this layer on this part
		}
		return res, nil
	}
	s := Score{}
	for k, ly := range layers {
		res, _ := cv(allIndices(n), k)
		if res == nil {
			s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: math.NaN(), Ceiled: math.NaN(), SE: math.NaN()})
			continue
		}
		s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: res.Mean, Ceiled: ceiled(res.Mean, res.CeilingUpper), SE: res.SE})
	}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3*max(b.Metric.Folds, 2)) // folds of at least 3
	if err != nil {
		return Score{}, err
	}
	t, err := splitTable(splits, len(layers), func(part []int, k int) (float64, float64, error) {
		res, _ := cv(part, k)
		if res == nil {
			return math.NaN(), math.NaN(), nil
		}
		return res.Mean, res.CeilingUpper, nil
	})
	if err != nil {
		return Score{}, fmt.Errorf("%w: feature-weighted RSA: %v", ErrBadModel, err)
	}
	sel, err := t.Select1()
	if err != nil {
		return Score{}, fmt.Errorf("%w: feature-weighted RSA: %v", ErrBadModel, err)
	}
	s.Raw, s.SE, s.Ceiling, s.Layer = sel.Raw, sel.SE, sel.Ceiling, layers[sel.Layer].ID
	s.CILow, s.CIHigh = r.splitBootstrap(sel.PerSplit, policy.Seed)
	s.Selection = fmt.Sprintf("feature-weighted RSA: NNLS weights of the first %d principal components of each of %d layers, %d stimulus folds (seed %d) × leave-one-subject-out within each part; "+
		"layer chosen on the selection part of %d seeded splits (seed %d), scored on the test part", ncomp[sel.Layer], len(layers), max(b.Metric.Folds, 2), b.Metric.Seed, len(splits), policy.Seed)
	return s, nil
}

// decoding predicts each layer's principal components from every
// session's responses (package decode). With one session the layer is
// chosen on the selection part of each seeded split of its stimuli and
// scored on the test part (both by cross-validated ridge within the
// part); with several, on a seeded half of the sessions and scored on the
// rest, as for ridge encoding.
func (r *Runner) decoding(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	rcfg := ridge.Config{Folds: max(b.Metric.Folds, 2), Alphas: b.Metric.Alphas, Seed: b.Metric.Seed}
	pos := map[string]int{}
	for i, ly := range layers {
		pos[ly.ID] = i
	}
	policy := splitPolicy(b)
	s := Score{Ceiling: math.NaN()}
	// full[session][layer]: cross-validated score on all the session's
	// stimuli (the profile, and the table of a multi-session benchmark).
	full := make([][]float64, len(l.Sessions))
	var t Table
	ncomp := b.Metric.Components
	for si, sess := range l.Sessions {
		n := sess.Stimuli.Len()
		brain := linalg.NewMatrix[float64](n, sess.Targets)
		for i := 0; i < sess.Targets; i++ {
			for j := 0; j < n; j++ {
				brain.Data[j*sess.Targets+i] = sess.Responses[i*n+j]
			}
		}
		label := b.ID
		if sess.ID != "" {
			label += " session " + sess.ID
		}
		pcs := make([]linalg.Matrix[float64], len(layers))
		err := r.forEachGroup(ctx, m, label, images{ctx, sess.Stimuli}, layers, func(group []models.Layer, f *features) error {
			for _, ly := range group {
				x := f.data[ly.ID]
				k := min(ncomp, x.Cols, n-1)
				if p, _, err := decode.PCScores(x, k); err == nil {
					pcs[pos[ly.ID]] = p
				} // else: a constant layer cannot compete (NaN)
				delete(f.data, ly.ID)
			}
			return nil
		})
		if err != nil {
			return Score{}, err
		}
		cv := func(idx []int, k int) (float64, float64, error) {
			if pcs[k].Rows == 0 {
				return math.NaN(), math.NaN(), nil
			}
			res, err := ridge.CV(rowsOf(brain, idx), rowsOf(pcs[k], idx), rcfg)
			if err != nil {
				return math.NaN(), math.NaN(), fmt.Errorf("%w: decoding layer %s, %s: %v", ErrBadModel, layers[k].ID, label, err)
			}
			return res.Mean, math.NaN(), nil
		}
		full[si] = make([]float64, len(layers))
		for k := range layers {
			if full[si][k], _, err = cv(allIndices(n), k); err != nil {
				return Score{}, err
			}
		}
		if len(l.Sessions) == 1 {
			splits, pol, err := partSplits(b, n, sess.Stimuli.Labels(), 3*max(b.Metric.Folds, 2))
			if err != nil {
				return Score{}, err
			}
			policy = pol
			if t, err = splitTable(splits, len(layers), cv); err != nil {
				return Score{}, fmt.Errorf("%w: decoding: %v", ErrBadModel, err)
			}
			s.Selection = fmt.Sprintf("decoding: ridge from the responses to the first %d principal components of each of %d layers, %d folds (seed %d) within each part, median r over components; "+
				"layer chosen on the selection part of %d seeded splits (seed %d), scored on the test part", ncomp, len(layers), rcfg.Folds, rcfg.Seed, len(splits), policy.Seed)
		}
	}
	if len(l.Sessions) > 1 {
		splits, err := MakeSplits(len(l.Sessions), nil, policy, 1)
		if err != nil {
			return Score{}, fmt.Errorf("%w: %v", ErrInternal, err)
		}
		mean := func(sessions []int) []float64 {
			out := make([]float64, len(layers))
			for k := range out {
				for _, si := range sessions {
					out[k] += full[si][k] / float64(len(sessions))
				}
			}
			return out
		}
		for _, sp := range splits {
			t.Select = append(t.Select, mean(sp.Select))
			t.Test = append(t.Test, mean(sp.Test))
			t.Ceiling = append(t.Ceiling, math.NaN())
		}
		s.Selection = fmt.Sprintf("decoding: ridge from the responses to the first %d principal components of each of %d layers, %d folds (seed %d), median r over components; "+
			"layer chosen on half of the %d sessions in %d seeded splits (seed %d), scored on the rest", ncomp, len(layers), rcfg.Folds, rcfg.Seed, len(l.Sessions), len(splits), policy.Seed)
	}
	sel, err := t.Select1()
	if err != nil {
		return Score{}, fmt.Errorf("%w: decoding: %v", ErrBadModel, err)
	}
	s.Raw, s.SE, s.Layer = sel.Raw, sel.SE, layers[sel.Layer].ID
	s.CILow, s.CIHigh = r.splitBootstrap(sel.PerSplit, policy.Seed)
	for k, ly := range layers {
		var v []float64
		for si := range full {
			v = append(v, full[si][k])
		}
		mean, se := MeanSE(v)
		s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: mean, Ceiled: math.NaN(), SE: se})
	}
	return s, nil
}

// timeResolvedRSA compares every layer with the brain RDMs at every time;
// the layer and the time are chosen on the selection part of each split.
func (r *Runner) timeResolvedRSA(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	layerRDMs, kept, method, err := r.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return Score{}, err
	}
	data := timersa.Data{N: n, Times: l.Times, RDMs: l.TimeRDMs}
	curves, err := timersa.ScoreLayers(data, layerRDMs, method)
	if err != nil {
		return Score{}, fmt.Errorf("%w: time-resolved RSA: %v", ErrBadModel, err)
	}
	var ceilCurve timersa.Ceiling
	if len(l.TimeRDMs) >= 2 {
		if ceilCurve, err = timersa.NoiseCeiling(data, method); err != nil {
			return Score{}, fmt.Errorf("%w: ceiling curve: %v", ErrInternal, err)
		}
	}
	s := Score{Selection: b.SelectionPolicy(), Candidates: string(r.cfg.Candidates)}
	for k, ly := range kept {
		c := curves[k]
		ceil := math.NaN()
		if ceilCurve.Upper != nil {
			ceil = ceilCurve.Upper[c.Peak]
		}
		s.Layers = append(s.Layers, LayerScore{Layer: ly.ID, Depth: ly.Depth, Raw: c.PeakScore, Ceiled: ceiled(c.PeakScore, ceil), SE: c.SE[c.Peak]})
	}
	splits, policy, err := partSplits(b, n, l.Stimuli.Labels(), 3)
	if err != nil {
		return Score{}, err
	}
	sub := func(idx []int) (timersa.Data, [][]float64) {
		d := timersa.Data{N: len(idx), Times: l.Times, RDMs: make([][][]float64, len(l.TimeRDMs))}
		for si, subj := range l.TimeRDMs {
			d.RDMs[si] = make([][]float64, len(subj))
			for t, v := range subj {
				d.RDMs[si][t] = subUpper(n, v, idx)
			}
		}
		ls := make([][]float64, len(layerRDMs))
		for k, v := range layerRDMs {
			ls[k] = subUpper(n, v, idx)
		}
		return d, ls
	}
	type pick struct{ layer, time int }
	var perSplit, ceils []float64
	var picks []pick
	var testSubj [][]float64 // per split, the chosen layer's score per test subject
	votes := map[int]int{}
	for si, sp := range splits {
		d, ls := sub(sp.Select)
		sc, err := timersa.ScoreLayers(d, ls, method)
		if err != nil {
			return Score{}, fmt.Errorf("%w: split %d selection part: %v", ErrBadModel, si, err)
		}
		best, bestV := pick{-1, -1}, math.Inf(-1)
		for k, c := range sc {
			for t, v := range c.Score {
				if v > bestV {
					best, bestV = pick{k, t}, v
				}
			}
		}
		if best.layer < 0 {
			return Score{}, fmt.Errorf("%w: split %d: %w", ErrBadModel, si, ErrNoLayer)
		}
		d, ls = sub(sp.Test)
		tc, err := timersa.ScoreLayers(d, [][]float64{ls[best.layer]}, method)
		if err != nil {
			return Score{}, fmt.Errorf("%w: split %d test part: %v", ErrBadModel, si, err)
		}
		perSplit = append(perSplit, tc[0].Score[best.time])
		per := make([]float64, len(d.RDMs))
		for s := range per {
			per[s] = tc[0].Subject[s][best.time]
		}
		testSubj = append(testSubj, per)
		ceil := math.NaN()
		if len(d.RDMs) >= 2 {
			at := make([][]float64, len(d.RDMs))
			for s := range at {
				at[s] = d.RDMs[s][best.time]
			}
			c, err := ceiling.RSACeiling(at, method)
			if err != nil {
				return Score{}, fmt.Errorf("%w: split %d test ceiling: %v", ErrInternal, si, err)
			}
			ceil = c.Upper
		}
		ceils = append(ceils, ceil)
		picks = append(picks, best)
		votes[best.layer]++
	}
	layer := picks[0].layer
	for k := range kept {
		if votes[k] > votes[layer] {
			layer = k
		}
	}
	s.Raw, s.SE = MeanSE(perSplit)
	s.Ceiling = stats.Mean(ceils)
	s.Layer = kept[layer].ID
	var times []float64
	for _, p := range picks {
		times = append(times, l.Times[p.time])
	}
	c := curves[layer]
	s.Selection += fmt.Sprintf("; layer and time chosen on the selection part: median chosen time %.4g s; full-data peak of %s at %.4g s, score %.4f",
		median(times), s.Layer, c.PeakTime, c.PeakScore)
	// Subjects resampled within each split's test part, choices fixed.
	s.CILow, s.CIHigh = percentileCI(r.cfg.Bootstrap, policy.Seed, func(rr *rand.Rand) float64 {
		var sum float64
		for _, per := range testSubj {
			var m float64
			for range per {
				m += per[rr.IntN(len(per))]
			}
			sum += m / float64(len(per))
		}
		return sum / float64(len(testSubj))
	})
	if r.rdms != nil {
		if err := r.rdms.PutModelRDM(ctx, m.Hash(), b.ID, n, layerRDMs[layer]); err != nil {
			return Score{}, fmt.Errorf("%w: store model RDM: %v", ErrInternal, err)
		}
	}
	return s, nil
}

// distinctRDMs drops every layer whose RDM is an affine copy of an
// earlier kept one (Pearson r > 1 − 1e-9: an activation that only clips
// or rescales its input, whose RDM would make least squares singular).
func distinctRDMs(rdms [][]float64, layers []models.Layer) ([][]float64, []models.Layer) {
	var outR [][]float64
	var outL []models.Layer
	var z [][]float64
	for k, v := range rdms {
		zk, err := standardize(v, rsa.Pearson)
		if err != nil {
			continue
		}
		dup := false
		for _, zj := range z {
			var d float64
			for i, x := range zk {
				d += x * zj[i]
			}
			if d/float64(len(zk)) > 1-1e-9 {
				dup = true
				break
			}
		}
		if !dup {
			z = append(z, zk)
			outR = append(outR, v)
			outL = append(outL, layers[k])
		}
	}
	return outR, outL
}

// remixRSA trains, per layer, a ridge classifier on the training images'
// features and scores the RDM of its decision values on the benchmark's
// stimuli as plain RSA, the layer chosen on seeded splits.
func (r *Runner) remixRSA(ctx context.Context, m Model, l *benchmarks.Loaded, layers []models.Layer) (Score, error) {
	b := l.Benchmark
	n := l.Stimuli.Len()
	if l.Training == nil {
		return Score{}, fmt.Errorf("%w: remix benchmark %s has no training images", ErrInternal, b.ID)
	}
	metric, method, err := rdmSettings(b)
	if err != nil {
		return Score{}, err
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
	err = r.forEachGroup(ctx, m, b.ID, images{ctx, l.Stimuli}, layers, func(group []models.Layer, test *features) error {
		return r.forEachGroup(ctx, m, b.ID+" training images", images{ctx, l.Training}, group, func(sub []models.Layer, train *features) error {
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
		return Score{}, err
	}
	ev, kept, splits, policy, sel, err := rsaSelect(l, remixed, layers, method, "of remixed decision values")
	if err != nil {
		return Score{}, fmt.Errorf("%s: %w", m.Name(), err)
	}
	if len(l.RDMs) < 2 {
		sel.Ceiling = math.NaN()
	}
	s := Score{Raw: sel.Raw, SE: sel.SE, Ceiling: sel.Ceiling, Layer: kept[sel.Layer].ID}
	s.Selection = fmt.Sprintf("remix: ridge classifier (alpha %g) of %d classes trained on %d training images per layer, %s RDM of its decision values; %s",
		cfg.Alpha, len(classes), len(labels), metric, b.SelectionPolicy())
	s.CILow, s.CIHigh = r.rsaSplitBootstrap(ev, splits, sel.Chosen, policy.Seed)
	if s.Layers, err = rsaProfile(n, ev.Layers, l.RDMs, kept, method, nanIfInvalid(l.Ceiling)); err != nil {
		return Score{}, err
	}
	if r.rdms != nil {
		if err := r.rdms.PutModelRDM(ctx, m.Hash(), b.ID, n, ev.Layers[sel.Layer]); err != nil {
			return Score{}, fmt.Errorf("%w: store model RDM: %v", ErrInternal, err)
		}
	}
	return s, nil
}
