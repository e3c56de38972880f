// Package compare compares every pair of models on an RSA benchmark: the
// paired bootstrap of modelcmp.RSA over the models' stored RDMs (of their
// reported layers) and the benchmark's subject RDMs.
//
// Only plain RSA benchmarks are compared for now; encoding (ridge) and the
// advanced metrics give ErrUnsupported. Private benchmarks are not
// refused: only differences, intervals and p/q values leave the server.
// But the runner keeps model RDMs of public benchmarks only, so on a
// private benchmark every model is listed as skipped until it does.
package compare

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring/modelcmp"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Defaults of the model comparison, served and printed with every result.
const (
	DefaultResamples = 1000
	DefaultSeed      = 1
)

// Sentinel errors, wrapped with %w.
var (
	// ErrNoBenchmark: the benchmark asked for does not exist.
	ErrNoBenchmark = errors.New("no such benchmark")
	// ErrUnsupported: the benchmark's metric cannot be compared. The
	// error's text says which metric.
	ErrUnsupported = errors.New("model comparisons are computed for RSA benchmarks only for now")
)

// Benchmarks reads benchmarks (the benchmark registry implements it).
type Benchmarks interface {
	Benchmark(ctx context.Context, ref string) (*benchmarks.Benchmark, error)
	Open(ctx context.Context, ref string) (*benchmarks.Loaded, error)
}

// ModelRDMs reads a model's stored RDM on a benchmark (n stimuli, upper
// triangle); none stored is an error satisfying objstore.IsNotFound.
// storage/rdmstore implements it.
type ModelRDMs interface {
	ModelRDM(ctx context.Context, hash, benchmarkID string) (n int, upper []float64, err error)
}

// Comparer compares models on a benchmark.
type Comparer struct {
	Bench     Benchmarks
	RDMs      ModelRDMs
	Resamples int
	Seed      uint64
}

// Result is the outcome of comparing every pair of models on a benchmark.
type Result struct {
	BenchmarkID string
	Method      string // e.g. "rsa (spearman)"
	Resamples   int
	Failed      int // resamples left out because a score was undefined there
	Seed        uint64
	// Models are the models compared, in the order asked, with Scores[i]
	// the raw score of Models[i] on all stimuli.
	Models  []string
	Scores  []float64
	Skipped []Skipped
	// Pairs lists every pair of Models, i < j, in row-major order.
	Pairs []Pair
}

// Skipped is a model left out of a comparison, and why.
type Skipped struct{ Hash, Reason string }

// Pair compares models A and B: Diff = score(A) − score(B), its 95%
// bootstrap interval, the bootstrap p-value and the BH-adjusted q.
type Pair struct {
	A, B         string
	Diff         float64
	Lower, Upper float64
	P, Q         float64
}

// Compare compares every pair of the models hashes (best ranked first) on
// benchmark id.
func (c Comparer) Compare(ctx context.Context, id string, hashes []string) (*Result, error) {
	b, l, method, err := c.open(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &Result{BenchmarkID: id, Method: b.Metric.String(), Resamples: c.Resamples, Seed: c.Seed,
		Models: []string{}, Scores: []float64{}}
	var vs [][]float64
	for _, h := range hashes {
		reason, v, err := c.modelRDM(ctx, h, id, len(l.RDMs[0]), b.Private)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			out.Skipped = append(out.Skipped, Skipped{Hash: h, Reason: reason})
			continue
		}
		out.Models = append(out.Models, h)
		vs = append(vs, v)
	}
	if len(vs) < 2 {
		for range vs {
			out.Scores = append(out.Scores, math.NaN())
		}
		return out, nil
	}
	res, err := modelcmp.RSA(vs, l.RDMs, method, modelcmp.Draw(l.Stimuli.Len(), len(l.RDMs), c.Resamples, c.Seed))
	if err != nil {
		return nil, fmt.Errorf("compare models on %s: %w", id, err)
	}
	out.Scores, out.Failed = res.Scores, res.Failed
	for _, p := range res.Pairs {
		out.Pairs = append(out.Pairs, Pair{A: out.Models[p.A], B: out.Models[p.B],
			Diff: p.Diff, Lower: p.Lower, Upper: p.Upper, P: p.P, Q: p.Q})
	}
	return out, nil
}

// modelRDM returns model h's stored RDM on benchmark id, or why it cannot
// be compared.
func (c Comparer) modelRDM(ctx context.Context, h, id string, m int, private bool) (reason string, v []float64, err error) {
	_, v, err = c.RDMs.ModelRDM(ctx, h, id)
	switch {
	case objstore.IsNotFound(err) && private:
		return "no stored RDM of this model on this private benchmark (scored before the runner kept them): rescore it to compare", nil, nil
	case objstore.IsNotFound(err):
		return "no stored RDM of its reported layer (the runner keeps them for public RSA benchmarks scored since RDMs are stored; rescore to add it)", nil, nil
	case err != nil:
		return "", nil, fmt.Errorf("model RDM of %s on %s: %w", h, id, err)
	case len(v) != m:
		return fmt.Sprintf("its stored RDM has %d entries, the benchmark's %d: it is from another version (rescore)", len(v), m), nil, nil
	}
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "its stored RDM has non-finite entries", nil, nil
		}
	}
	return "", v, nil
}

// ControlResult is every model compared with one control on a benchmark
// (issue 16): does any trained model beat the control reliably?
type ControlResult struct {
	BenchmarkID string
	Method      string
	Resamples   int
	Failed      int
	Seed        uint64
	// Control is the control's entry and ControlScore its raw score on
	// all stimuli (NaN when it could not be compared).
	Control      string
	ControlScore float64
	// Models are the models compared, in the order asked, with Scores[i]
	// the raw score of Models[i] on all stimuli.
	Models  []string
	Scores  []float64
	Skipped []Skipped
	// Pairs holds (model, control) for every model in Models, in order:
	// Diff = score(model) − score(control), and Q is the BH adjustment
	// across the models (not across every pair of models).
	Pairs []Pair
}

// AgainstControl compares every model hashes with the control on
// benchmark id by the paired bootstrap of Compare, controlling the false
// discovery rate across the models. A control without a usable RDM is
// listed in Skipped and nothing is compared. ctx bounds the bootstrap:
// when it ends, AgainstControl returns its error.
func (c Comparer) AgainstControl(ctx context.Context, id, control string, hashes []string) (*ControlResult, error) {
	b, l, method, err := c.open(ctx, id)
	if err != nil {
		return nil, err
	}
	out := &ControlResult{BenchmarkID: id, Method: b.Metric.String(), Resamples: c.Resamples, Seed: c.Seed, Control: control,
		ControlScore: math.NaN(), Models: []string{}, Scores: []float64{}}
	reason, cv, err := c.modelRDM(ctx, control, id, len(l.RDMs[0]), b.Private)
	if err != nil {
		return nil, err
	}
	if reason != "" {
		out.Skipped = append(out.Skipped, Skipped{Hash: control, Reason: reason})
		return out, nil
	}
	vs := [][]float64{cv}
	for _, h := range hashes {
		if h == control {
			continue
		}
		reason, v, err := c.modelRDM(ctx, h, id, len(l.RDMs[0]), b.Private)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			out.Skipped = append(out.Skipped, Skipped{Hash: h, Reason: reason})
			continue
		}
		out.Models = append(out.Models, h)
		vs = append(vs, v)
	}
	if len(vs) < 2 {
		return out, nil
	}
	rs := modelcmp.Draw(l.Stimuli.Len(), len(l.RDMs), c.Resamples, c.Seed)
	score, full, err := modelcmp.RSAScorer(vs, l.RDMs, method, rs)
	if err != nil {
		return nil, fmt.Errorf("compare models with the control on %s: %w", id, err)
	}
	bounded := func(r modelcmp.Resample) ([]float64, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return score(r)
	}
	res, err := modelcmp.PairedAgainst(len(vs), 0, rs, bounded, full)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("compare models with the control on %s: %w", id, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("compare models with the control on %s: %w", id, err)
	}
	out.ControlScore, out.Scores, out.Failed = res.Scores[0], res.Scores[1:], res.Failed
	for _, p := range res.Pairs {
		out.Pairs = append(out.Pairs, Pair{A: out.Models[p.A-1], B: control, Diff: p.Diff, Lower: p.Lower, Upper: p.Upper, P: p.P, Q: p.Q})
	}
	return out, nil
}

// open reads an RSA benchmark for comparisons.
func (c Comparer) open(ctx context.Context, id string) (*benchmarks.Benchmark, *benchmarks.Loaded, rsa.Method, error) {
	b, err := c.Bench.Benchmark(ctx, id)
	if errors.Is(err, benchmarks.ErrNotFound) {
		return nil, nil, "", fmt.Errorf("benchmark %s: %w: %w", id, ErrNoBenchmark, err)
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("read benchmark %s: %w", id, err)
	}
	if b.Metric.Kind != benchmarks.MetricRSA || b.Dataset.Kind != benchmarks.KindRDM {
		return nil, nil, "", fmt.Errorf("%s is scored by %s: %w", id, b.Metric, ErrUnsupported)
	}
	method, err := rsa.ParseMethod(b.Metric.Comparison)
	if err != nil {
		return nil, nil, "", fmt.Errorf("benchmark %s: %w", id, err)
	}
	l, err := c.Bench.Open(ctx, id)
	if err != nil {
		return nil, nil, "", fmt.Errorf("open benchmark %s: %w", id, err)
	}
	return b, l, method, nil
}
