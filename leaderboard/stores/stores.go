// Package stores adapts the platform's stores (the registry database, the
// benchmark registry and the stored model RDMs) to the leaderboard's
// Source, RDMSource and Comparer, and holds the rule that a private
// benchmark's data and RDMs are never served (PublicBenchmark).
//
// Each adapter reads through the small interface it declares here; the
// storage and benchmark packages implement them.
package stores

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/compare"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// Registry lists scores, models and the withdrawn models
// (storage/registry implements it).
type Registry interface {
	ListScores(ctx context.Context, f registry.ScoreFilter) ([]scoring.Score, error)
	ListModels(ctx context.Context, f registry.ModelFilter) ([]registry.Model, error)
	// WithdrawnModels returns the ids of every withdrawn model.
	WithdrawnModels(ctx context.Context) (map[string]bool, error)
}

// Benchmarks lists, describes and opens benchmarks (the benchmark
// registry implements it).
type Benchmarks interface {
	List(ctx context.Context) ([]benchmarks.Summary, error)
	Benchmark(ctx context.Context, ref string) (*benchmarks.Benchmark, error)
	Open(ctx context.Context, ref string) (*benchmarks.Loaded, error)
}

// Board is the leaderboard's Source over the registry database (scores of
// the current scorer version, models) and the benchmark registry.
// Withdrawn models and their scores are left out of everything it lists
// (issue 17, finding 2): the ranked table, the benchmark pages, the model
// list, comparisons and every published snapshot read it. A withdrawal
// changes ScoresVersion and ScoresGeneration, so a server's refresh and
// the snapshot publisher notice it.
type Board struct {
	DB    Registry
	Bench Benchmarks
}

func (s Board) Scores(ctx context.Context) ([]scoring.Score, error) {
	gone, err := s.DB.WithdrawnModels(ctx)
	if err != nil {
		return nil, err
	}
	scores, err := s.DB.ListScores(ctx, registry.ScoreFilter{ScorerVersion: scoring.ScorerVersion})
	if err != nil || len(gone) == 0 {
		return scores, err
	}
	kept := scores[:0]
	for _, sc := range scores {
		if !gone[sc.ModelHash] {
			kept = append(kept, sc)
		}
	}
	return kept, nil
}

// ScoresVersion implements leaderboard.ScoresVersioner when the
// registry can tell (storage/registry does); otherwise it returns "" and
// every refresh reloads the scores.
func (s Board) ScoresVersion(ctx context.Context) (string, error) {
	if v, ok := s.DB.(leaderboard.ScoresVersioner); ok {
		return v.ScoresVersion(ctx)
	}
	return "", nil
}

func (s Board) Models(ctx context.Context) ([]leaderboard.ModelInfo, error) {
	gone, err := s.DB.WithdrawnModels(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := s.DB.ListModels(ctx, registry.ModelFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]leaderboard.ModelInfo, 0, len(ms))
	for _, m := range ms {
		if gone[m.Hash] {
			continue
		}
		out = append(out, leaderboard.ModelInfo{Hash: m.Hash, Name: m.Name, Family: m.Family, Version: m.Version, TrainingData: m.TrainingData, Params: m.Params,
			File: m.File, Preprocessing: specText(m.Preprocessing),
			Paper: m.Paper, Description: m.Description, License: m.License, BibTeX: m.BibTeX})
	}
	return out, nil
}

// specText is a model record's preprocessing as canonical spec text: the
// record holds the text as a JSON string (the CLI) or the spec as a JSON
// object (submissions); "" when it is neither.
func specText(raw json.RawMessage) string {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if s, err := models.ParseSpec(text); err == nil {
			return s.String()
		}
		return ""
	}
	var s models.Spec
	if json.Unmarshal(raw, &s) == nil && s.Validate() == nil {
		return s.String()
	}
	return ""
}

func (s Board) Benchmarks(ctx context.Context) ([]leaderboard.BenchmarkInfo, error) {
	bs, err := s.Bench.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]leaderboard.BenchmarkInfo, len(bs))
	for i, b := range bs {
		ceil := math.NaN()
		if b.CeilingValid {
			ceil = b.CeilingUpper
		}
		out[i] = leaderboard.BenchmarkInfo{ID: b.ID, Version: b.Version, Parent: b.Parent, Region: b.Region, Species: b.Species,
			Method: b.Method, Private: b.Private, Ceiling: ceil, StimulusCount: b.Stimuli, Citation: b.Citation,
			Selection: b.Selection}
		if err := s.conventions(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// conventions fills the benchmark's scoring conventions (issue 16) from
// its stored settings, and its ceiling with the bound its scores divide
// by (the upper bound unless the benchmark says otherwise). A version
// listed but gone when read (removed meanwhile) keeps the summary's
// values, its conventions not stated.
func (s Board) conventions(ctx context.Context, info *leaderboard.BenchmarkInfo) error {
	b, err := s.Bench.Benchmark(ctx, info.ID+"@"+info.Version)
	if errors.Is(err, benchmarks.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("benchmark %s@%s: %w", info.ID, info.Version, err)
	}
	c := b.CeilingValue
	if c.Bound == "" {
		c.Bound = b.Ceiling.Bound
	}
	info.Ceiling = c.Value()
	switch {
	case !c.Valid:
	case b.Ceiling.Method == benchmarks.CeilingSplitHalf:
		info.CeilingKind = string(benchmarks.CeilingSplitHalf)
	default:
		bound, err := ceiling.ParseBound(string(c.Bound))
		if err != nil {
			return fmt.Errorf("benchmark %s: %w", info.ID, err)
		}
		info.CeilingKind = string(bound)
	}
	t, err := ceiling.ParseTransform(string(b.Conventions.Transform))
	if err != nil {
		return fmt.Errorf("benchmark %s: %w", info.ID, err)
	}
	info.Transform, info.Features = string(t), b.Conventions.Features
	return nil
}

// PublicBenchmark looks a benchmark up for serving its data or RDMs: an
// unknown one is ENOTFOUND, a private one ErrPrivate (EFORBIDDEN): a
// private benchmark's RDMs, and models' RDMs over its stimuli, describe
// its secret stimuli.
func PublicBenchmark(ctx context.Context, bench Benchmarks, id string) (*benchmarks.Benchmark, error) {
	b, err := bench.Benchmark(ctx, id)
	if errors.Is(err, benchmarks.ErrNotFound) {
		return nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %s", id)
	}
	if err != nil {
		return nil, err
	}
	if b.Private {
		return nil, leaderboard.ErrPrivate
	}
	return b, nil
}

// RDMs is the leaderboard's RDMSource: models' stored RDMs and the mean
// of subjects' RDMs, of public benchmarks only.
type RDMs struct {
	Models compare.ModelRDMs
	Bench  Benchmarks
}

// ModelRDM serves a model's RDM on a public benchmark. On a private one
// it refuses: the model's RDM over secret stimuli describes them.
func (s RDMs) ModelRDM(ctx context.Context, hash, benchmarkID string) (int, []float64, error) {
	if _, err := PublicBenchmark(ctx, s.Bench, benchmarkID); err != nil {
		return 0, nil, err
	}
	n, v, err := s.Models.ModelRDM(ctx, hash, benchmarkID)
	if objstore.IsNotFound(err) {
		return 0, nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "no model RDM of %s on %s", hash, benchmarkID)
	}
	return n, v, err
}

// BrainRDM is the mean over subjects of a public RSA benchmark's RDMs.
func (s RDMs) BrainRDM(ctx context.Context, benchmarkID string) (int, []float64, error) {
	b, err := PublicBenchmark(ctx, s.Bench, benchmarkID)
	if err != nil {
		return 0, nil, err
	}
	if b.Dataset.Kind != benchmarks.KindRDM {
		return 0, nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "%s has no RDMs (it is an encoding benchmark)", benchmarkID)
	}
	l, err := s.Bench.Open(ctx, benchmarkID)
	if err != nil {
		return 0, nil, err
	}
	mean := make([]float64, len(l.RDMs[0]))
	for _, v := range l.RDMs {
		for i, x := range v {
			mean[i] += x / float64(len(l.RDMs))
		}
	}
	return l.Stimuli.Len(), mean, nil
}

// Comparer is the leaderboard's Comparer over scoring/compare: an unknown
// benchmark is ENOTFOUND, one whose metric cannot be compared EUNSUPPORTED.
type Comparer struct{ compare.Comparer }

// NewComparer compares over the benchmarks and stored model RDMs with
// the default resamples and seed.
func NewComparer(bench Benchmarks, rdms compare.ModelRDMs) Comparer {
	return Comparer{compare.Comparer{Bench: bench, RDMs: rdms, Resamples: compare.DefaultResamples, Seed: compare.DefaultSeed}}
}

func (c Comparer) Compare(ctx context.Context, id string, hashes []string) (*leaderboard.Comparison, error) {
	r, err := c.Comparer.Compare(ctx, id, hashes)
	if err != nil {
		return nil, compareError(err, id)
	}
	out := &leaderboard.Comparison{BenchmarkID: r.BenchmarkID, Method: r.Method, Resamples: r.Resamples, Failed: r.Failed, Seed: r.Seed,
		Models: r.Models, Scores: r.Scores}
	out.Skipped = skipped(r.Skipped)
	for _, p := range r.Pairs {
		out.Pairs = append(out.Pairs, leaderboard.ModelPair{A: p.A, B: p.B, Diff: p.Diff, Lower: p.Lower, Upper: p.Upper, P: p.P, Q: p.Q})
	}
	return out, nil
}

// compareError maps scoring/compare's errors to the board's codes.
func compareError(err error, id string) error {
	switch {
	case errors.Is(err, compare.ErrNoBenchmark):
		return leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %s", id)
	case errors.Is(err, compare.ErrUnsupported):
		return leaderboard.Errorf(leaderboard.EUNSUPPORTED, "%s", err.Error())
	}
	return err
}

// skipped lists the models a comparison left out, and why.
func skipped(in []compare.Skipped) []leaderboard.SkippedModel {
	var out []leaderboard.SkippedModel
	for _, s := range in {
		out = append(out, leaderboard.SkippedModel{Hash: s.Hash, Reason: s.Reason})
	}
	return out
}

// ScoresGeneration implements snapshot.Source: a number that grows
// whenever the scored set changes (registry.ScoresState's Generation),
// whichever process reads it. A registry without ScoresState is an error.
func (s Board) ScoresGeneration(ctx context.Context) (int64, error) {
	v, ok := s.DB.(interface {
		ScoresState(context.Context) (registry.ScoresState, error)
	})
	if !ok {
		return 0, fmt.Errorf("scores generation: the registry (%T) has no scores state", s.DB)
	}
	st, err := v.ScoresState(ctx)
	if err != nil {
		return 0, err
	}
	return st.Generation(), nil
}

// AgainstControl implements leaderboard.ControlTester over
// scoring/compare, with Compare's error codes. It reads the stored model
// RDMs directly, private benchmarks included: only differences, intervals
// and p/q values leave it, never an RDM.
func (c Comparer) AgainstControl(ctx context.Context, id, control string, hashes []string) (*leaderboard.ControlTest, error) {
	r, err := c.Comparer.AgainstControl(ctx, id, control, hashes)
	if err != nil {
		return nil, compareError(err, id)
	}
	out := &leaderboard.ControlTest{BenchmarkID: r.BenchmarkID, Method: r.Method, Resamples: r.Resamples, Failed: r.Failed, Seed: r.Seed,
		Control: r.Control, ControlScore: r.ControlScore}
	out.Skipped = skipped(r.Skipped)
	for i, p := range r.Pairs {
		out.Pairs = append(out.Pairs, leaderboard.ControlPair{Model: p.A, Score: r.Scores[i], Diff: p.Diff, Lower: p.Lower, Upper: p.Upper, P: p.P, Q: p.Q})
	}
	return out, nil
}

// withdrawalRecords is what WithdrawnModel reads (storage/registry).
type withdrawalRecords interface {
	ResolveModelID(ctx context.Context, prefix string) (string, error)
	GetModel(ctx context.Context, hash string) (registry.Model, error)
	GetWithdrawal(ctx context.Context, hash string) (registry.Withdrawal, error)
}

// WithdrawnModel implements leaderboard.Withdrawals: the withdrawn model
// whose id is id or starts with it (false when there is none, or the
// registry cannot tell), so that its page and API answer 410 Gone saying
// when, by whom (its owner or a maintainer) and why (issue 17).
func (s Board) WithdrawnModel(ctx context.Context, id string) (leaderboard.WithdrawnModel, bool, error) {
	db, ok := s.DB.(withdrawalRecords)
	if !ok {
		return leaderboard.WithdrawnModel{}, false, nil
	}
	hash, err := db.ResolveModelID(ctx, id)
	if registry.IsNotFound(err) || errors.Is(err, registry.ErrInvalidArgument) || errors.Is(err, registry.ErrAmbiguous) {
		return leaderboard.WithdrawnModel{}, false, nil
	}
	if err != nil {
		return leaderboard.WithdrawnModel{}, false, err
	}
	w, err := db.GetWithdrawal(ctx, hash)
	if registry.IsNotFound(err) {
		return leaderboard.WithdrawnModel{}, false, nil
	}
	if err != nil {
		return leaderboard.WithdrawnModel{}, false, err
	}
	m, err := db.GetModel(ctx, hash)
	if err != nil {
		return leaderboard.WithdrawnModel{}, false, err
	}
	return leaderboard.WithdrawnModel{Hash: hash, Name: m.Name, ByOwner: w.By == m.Owner, Reason: w.Reason, At: w.At}, true, nil
}
