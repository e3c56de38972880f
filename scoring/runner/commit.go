package runner

// Region commitment (issue 16; Brain-Score's ModelCommitment).
//
// A model commits one layer per brain region, and every benchmark of the
// region in commit mode (benchmarks.Conventions.Selection ==
// SelectionCommit) scores that one layer on all its data, so no layer is
// chosen on the data scored — on a small benchmark (24 stimuli, 66 pairs)
// choosing on halves of the stimuli is noise.
//
// The committed layer of region R for a benchmark b is, in this order:
//
//  1. declared: the layer the submitter declared for R in the model's
//     metadata (the model implements DeclaredCommitments); used as given,
//     no commit benchmark is scored; the score says "declared by the
//     submitter" and scoring.Conventions.Declared is set;
//  2. one commit benchmark (b.Conventions.CommitOn has one id): the layer
//     that benchmark reports (its Score.Layer, chosen on its own held-out
//     splits);
//  3. several: the layer with the best mean over the commit benchmarks of
//     their per-layer profiles (Score.Layers, each layer scored on all of
//     that benchmark's stimuli): the ceiled value where the benchmark has
//     a ceiling, the raw value where it has none, over the layers every
//     profile has a finite value for; ties go to the shallower layer.
//
// The commit benchmarks are scored first through the runner's own path
// (their stored scores when there are), exactly as a private benchmark's
// partner is. A private benchmark with a Partner is the one-benchmark case
// and keeps its path (Runner.scoreCommitted, unchanged, so its scores stay
// bit-identical); a declared commitment for its region (its
// metadata.region) is used there too. The commitment is memoised per
// (model, region, commit benchmarks) within a Run.
//
// Diagnostics, never the reported score: for RSA the per-layer profile of
// the candidate layers on all of b's stimuli is computed (the candidate
// RDMs are computed once, and are what the held-out selection would use)
// and stored in Score.Layers, with the best of them in
// SelectionData.BestHere and BestHereRaw (in-sample: the best layer
// here, chosen on the data it is scored on). For the other committers
// (ridge) a profile costs a cross-validated fit per layer, so Layers has
// the committed layer only and BestHere stays empty.

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
)

// DeclaredCommitments is implemented by a Model whose submitter declared
// region → layer commitments (layer ids, as models.Metadata.Commitments).
// Models that do not implement it declare none.
type DeclaredCommitments interface {
	Committed() map[string]string
}

// commitKey memoises a commitment within a Run.
type commitKey struct{ model, region, on string }

// commitment is the layer a model commits to a region.
type commitment struct {
	layer      models.Layer
	on         []string // the commit benchmarks (nil when declared)
	candidates string
	declared   bool
}

// commitMode reports whether b scores a committed layer by region
// commitment (not a partnered private benchmark, which keeps its path).
func commitMode(b *benchmarks.Benchmark) bool {
	return b.Partner == "" && b.Conventions.Selection == benchmarks.SelectionCommit
}

// dependent reports whether b's layer comes from other benchmarks (a
// partner or commit benchmarks), so Run scores it after the others.
func dependent(b *benchmarks.Benchmark) bool { return b.Partner != "" || commitMode(b) }

// region is the region b's committed layer stands for.
func region(b *benchmarks.Benchmark) string {
	if b.Conventions.Region != "" {
		return b.Conventions.Region
	}
	return b.Metadata.Region
}

// declaredLayer returns the layer m's submitter declared for region, if
// any; an id m does not have is an error naming the closest ones.
func declaredLayer(m Model, region string) (models.Layer, bool, error) {
	d, ok := m.(DeclaredCommitments)
	if !ok || region == "" {
		return models.Layer{}, false, nil
	}
	id, ok := d.Committed()[region]
	if !ok {
		return models.Layer{}, false, nil
	}
	for _, l := range m.Layers() {
		if l.ID == id {
			if !l.PerStimulus {
				return models.Layer{}, false, fmt.Errorf("%w: the layer %s declared for region %s does not depend on the image", ErrBadModel, id, region)
			}
			return l, true, nil
		}
	}
	return models.Layer{}, false, fmt.Errorf("%w: the layer %q declared for region %s is not a layer of %s; closest layer ids: %s",
		ErrBadModel, id, region, m.Name(), strings.Join(models.ClosestLayers(m.Layers(), id, 3), ", "))
}

// commitment returns the layer m commits to b's region, scoring the
// commit benchmarks (through score, and so from the results store where
// their scores are) unless the layer is declared.
func (r *Runner) commitment(ctx context.Context, m Model, b *benchmarks.Benchmark, open func(string) (*benchmarks.Loaded, error)) (commitment, error) {
	reg := region(b)
	if l, ok, err := declaredLayer(m, reg); err != nil || ok {
		return commitment{layer: l, declared: true, candidates: "declared"}, err
	}
	on := b.Conventions.CommitOn
	if len(on) == 0 {
		return commitment{}, fmt.Errorf("%w: benchmark %s commits to region %q but names no commit benchmark: import it again (its manifest's scoring.commit_on, or the catalogue's regions.yaml)", ErrInternal, b.ID, reg)
	}
	key := commitKey{model: m.Hash(), region: reg, on: strings.Join(on, ",")}
	if c, ok := r.commits[key]; ok {
		return c, nil
	}
	scores := make([]scoring.Score, len(on))
	for i, id := range on {
		cl, err := open(id)
		if err != nil {
			return commitment{}, fmt.Errorf("commit benchmark of %s: %w", reg, err)
		}
		if dependent(cl.Benchmark) {
			return commitment{}, fmt.Errorf("%w: commit benchmark %s of region %s selects its own layer on other benchmarks; a commit benchmark must select on its own data", ErrInternal, id, reg)
		}
		if scores[i], err = r.score(ctx, m, cl, open); err != nil {
			return commitment{}, fmt.Errorf("commit benchmark %s: %w", id, err)
		}
	}
	id, err := bestCommon(scores)
	if err != nil {
		return commitment{}, fmt.Errorf("%w: commit to %s on %s: %w", ErrBadModel, reg, key.on, err)
	}
	var cands []string
	for _, s := range scores {
		if !slices.Contains(cands, s.Candidates) {
			cands = append(cands, s.Candidates)
		}
	}
	c := commitment{on: slices.Clone(on), candidates: strings.Join(cands, "; ")}
	found := false
	for _, l := range m.Layers() {
		if l.ID == id {
			c.layer, found = l, true
		}
	}
	if !found {
		return commitment{}, fmt.Errorf("%w: layer %s committed to %s on %s is not in %s", ErrInternal, id, reg, key.on, m.Name())
	}
	r.commits[key] = c
	return c, nil
}

// bestCommon is the committed layer given the commit benchmarks' scores:
// the reported layer of one; of several, the best mean per-layer value
// (ceiled, or raw without a ceiling) over the layers all profiles share.
func bestCommon(scores []scoring.Score) (string, error) {
	if len(scores) == 1 {
		if scores[0].Layer == "" {
			return "", fmt.Errorf("%s reports no layer", scores[0].BenchmarkID)
		}
		return scores[0].Layer, nil
	}
	sum := map[string]float64{}
	count := map[string]int{}
	for _, s := range scores {
		useCeiled := s.Ceiling > 0 && !math.IsInf(s.Ceiling, 0)
		for _, ls := range s.Layers {
			v := ls.Raw
			if useCeiled {
				v = ls.Ceiled
			}
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			sum[ls.Layer] += v
			count[ls.Layer]++
		}
	}
	best, bestV := "", math.Inf(-1)
	for _, ls := range scores[0].Layers { // in depth order: ties go to the shallower
		if count[ls.Layer] != len(scores) {
			continue
		}
		if v := sum[ls.Layer] / float64(len(scores)); v > bestV {
			best, bestV = ls.Layer, v
		}
	}
	if best == "" {
		var ids []string
		for _, s := range scores {
			ids = append(ids, s.BenchmarkID)
		}
		return "", fmt.Errorf("no layer has a finite score on every one of %s", strings.Join(ids, ", "))
	}
	return best, nil
}

// scoreRegion scores a benchmark in commit mode (or a partnered private
// benchmark whose region the submitter declared): the committed layer on
// all its data, with the diagnostic per-layer profile.
func (r *Runner) scoreRegion(ctx context.Context, metric Metric, m Model, l *benchmarks.Loaded, open func(string) (*benchmarks.Loaded, error)) (scoring.Score, error) {
	b := l.Benchmark
	c, ok := metric.(Committer)
	if !ok {
		return scoring.Score{}, fmt.Errorf("%w: benchmark %s commits to a region, but its metric %s cannot score a given layer: import it with scoring.selection held-out", ErrInternal, b.ID, b.Metric.Kind)
	}
	cm, err := r.commitment(ctx, m, b, open)
	if err != nil {
		return scoring.Score{}, err
	}
	reg := region(b)
	s, err := c.ScoreLayer(ctx, r.env, m, l, cm.layer)
	if err != nil {
		return scoring.Score{}, err
	}
	s.Layer, s.Candidates, s.Seed = cm.layer.ID, cm.candidates, b.Metric.Seed
	s.Conventions.Region, s.Conventions.Declared = reg, cm.declared
	s.SelectionData = scoring.Selection{Method: scoring.Committed, Partner: strings.Join(cm.on, ",")}
	if cm.declared {
		s.Selection = fmt.Sprintf("committed to %s: layer declared by the submitter", reg)
	} else {
		s.Selection = fmt.Sprintf("committed to %s on %s", reg, strings.Join(cm.on, ", "))
	}
	own := scoring.LayerScore{Layer: cm.layer.ID, Name: cm.layer.Name(), Depth: cm.layer.Depth, Raw: s.Raw, Ceiled: ceiledBy(l.Benchmark, s.Raw, s.Ceiling), SE: s.SE}
	s.Layers = []scoring.LayerScore{own}
	if _, isRSA := metric.(rsaMetric); isRSA {
		profile, err := r.rsaProfile(ctx, m, l, s.Ceiling)
		if err != nil {
			return scoring.Score{}, fmt.Errorf("profile (diagnostic): %w", err)
		}
		s.Layers = withLayer(profile, own, cm.layer.Index, m.Layers())
		best := -1
		for k, ls := range s.Layers {
			if !math.IsNaN(ls.Raw) && (best < 0 || ls.Raw > s.Layers[best].Raw) {
				best = k
			}
		}
		if best >= 0 {
			s.SelectionData.BestHere, s.SelectionData.BestHereRaw = s.Layers[best].Layer, s.Layers[best].Raw
			s.Selection += fmt.Sprintf("; best layer here (diagnostic, in-sample) %s, raw %.3f", s.Layers[best].Layer, s.Layers[best].Raw)
		}
	}
	return s, nil
}

// rsaProfile scores every candidate layer of the RSA benchmark on all its
// stimuli (layers without a defined RDM are left out).
func (r *Runner) rsaProfile(ctx context.Context, m Model, l *benchmarks.Loaded, ceiling float64) ([]scoring.LayerScore, error) {
	layers, _, err := rsaMetric{}.Candidates(r.env.cfg, m, l.Benchmark)
	if err != nil {
		return nil, err
	}
	rdms, kept, method, err := r.env.definedRDMs(ctx, m, l, layers)
	if err != nil {
		return nil, err
	}
	n := l.Stimuli.Len()
	ev := &RSAEvaluator{N: n, Layers: rdms, Subjects: l.RDMs, Method: method}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	sub, err := ev.Subset(all)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	out := make([]scoring.LayerScore, len(kept))
	for k, ly := range kept {
		v, err := sub.Score(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInternal, err)
		}
		out[k] = scoring.LayerScore{Layer: ly.ID, Name: ly.Name(), Depth: ly.Depth, Raw: v, Ceiled: ceiledBy(l.Benchmark, v, ceiling)}
	}
	return out, nil
}

// withLayer puts own (the committed layer's score) into the profile,
// replacing the profile's entry for that layer or inserted in topological
// order.
func withLayer(profile []scoring.LayerScore, own scoring.LayerScore, index int, layers []models.Layer) []scoring.LayerScore {
	pos := map[string]int{}
	for _, l := range layers {
		pos[l.ID] = l.Index
	}
	for k, ls := range profile {
		if ls.Layer == own.Layer {
			profile[k] = own
			return profile
		}
	}
	at := len(profile)
	for k, ls := range profile {
		if pos[ls.Layer] > index {
			at = k
			break
		}
	}
	return slices.Insert(profile, at, own)
}
