package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring/modelcmp"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// Defaults of the model comparison, served and printed with every result.
const (
	defaultCompareResamples = 1000
	defaultCompareSeed      = 1
)

// modelComparer adapts the benchmark registry and the stored model RDMs
// to the leaderboard's Comparer: the paired bootstrap of modelcmp.RSA over
// the reported layers' RDMs and the benchmark's subject RDMs.
//
// Only plain RSA benchmarks are compared for now; encoding (ridge) and
// the advanced metrics answer EUNSUPPORTED. Private benchmarks are not
// refused: only differences, intervals and p/q values leave the server.
// But the runner keeps model RDMs of public benchmarks only, so on a
// private benchmark every model is listed as skipped until it does.
type modelComparer struct {
	bench     *benchmarks.Registry
	rdms      rdmStore
	resamples int
	seed      uint64
}

func (c modelComparer) Compare(ctx context.Context, id string, hashes []string) (*leaderboard.Comparison, error) {
	b, err := c.bench.Benchmark(ctx, id)
	if errors.Is(err, benchmarks.ErrNotFound) {
		return nil, leaderboard.Errorf(leaderboard.ENOTFOUND, "no benchmark %s", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read benchmark %s: %w", id, err)
	}
	if b.Metric.Kind != benchmarks.MetricRSA || b.Dataset.Kind != benchmarks.KindRDM {
		return nil, leaderboard.Errorf(leaderboard.EUNSUPPORTED,
			"%s is scored by %s: model comparisons are computed for RSA benchmarks only for now", id, b.Metric)
	}
	method, err := rsa.ParseMethod(b.Metric.Comparison)
	if err != nil {
		return nil, fmt.Errorf("benchmark %s: %w", id, err)
	}
	l, err := c.bench.Open(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("open benchmark %s: %w", id, err)
	}
	out := &leaderboard.Comparison{BenchmarkID: id, Method: b.Metric.String(), Resamples: c.resamples, Seed: c.seed,
		Models: []string{}, Scores: []float64{}}
	var vs [][]float64
	for _, h := range hashes {
		reason, v, err := c.modelRDM(ctx, h, id, len(l.RDMs[0]), b.Private)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			out.Skipped = append(out.Skipped, leaderboard.SkippedModel{Hash: h, Reason: reason})
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
	res, err := modelcmp.RSA(vs, l.RDMs, method, modelcmp.Draw(l.Stimuli.Len(), len(l.RDMs), c.resamples, c.seed))
	if err != nil {
		return nil, fmt.Errorf("compare models on %s: %w", id, err)
	}
	out.Scores, out.Failed = res.Scores, res.Failed
	for _, p := range res.Pairs {
		out.Pairs = append(out.Pairs, leaderboard.ModelPair{A: out.Models[p.A], B: out.Models[p.B],
			Diff: p.Diff, Lower: p.Lower, Upper: p.Upper, P: p.P, Q: p.Q})
	}
	return out, nil
}

// modelRDM returns model h's stored RDM on benchmark id, or why it cannot
// be compared.
func (c modelComparer) modelRDM(ctx context.Context, h, id string, m int, private bool) (reason string, v []float64, err error) {
	_, v, err = c.rdms.storedModelRDM(ctx, h, id)
	switch {
	case leaderboard.ErrorCode(err) == leaderboard.ENOTFOUND && private:
		return "no stored RDM of this model on this private benchmark (scored before the runner kept them): rescore it to compare", nil, nil
	case leaderboard.ErrorCode(err) == leaderboard.ENOTFOUND:
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

// runCompare compares every pair of models ranked on a benchmark.
func runCompare(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compare", "compare --benchmark ID [--resamples N] [--seed S] [--json] [--store DIR] [--db FILE | --postgres DSN]")
	pf := addPlatformFlags(env, fs)
	id := fs.String("benchmark", "", "benchmark `ID` whose models to compare (an RSA benchmark)")
	resamples := fs.Int("resamples", defaultCompareResamples, "bootstrap `resamples` over stimuli and subjects")
	seed := fs.Uint64("seed", defaultCompareSeed, "`seed` of the resamples (the same seed gives the same result)")
	asJSON := fs.Bool("json", false, "print the comparison as JSON (the API's document)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" {
		fmt.Fprintln(env.Stderr, "compare: give --benchmark ID (list them with 'cortexbench benchmarks list')")
		return errUsage
	}
	if *resamples < 2 {
		return fmt.Errorf("%w: --resamples %d: need at least 2 (1000 is usual)", errInput, *resamples)
	}
	p, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	ix, err := leaderboard.Load(ctx, boardSource{p.db, p.bench})
	if err != nil {
		return err
	}
	if _, ok := ix.Benchmark(*id); !ok {
		return fmt.Errorf("%w: no benchmark %q (list them with 'cortexbench benchmarks list')", errInput, *id)
	}
	var hashes []string
	for _, r := range ix.RankBenchmark(*id) {
		hashes = append(hashes, r.Model.Hash)
	}
	c := modelComparer{bench: p.bench, rdms: rdmStore{p.bucket, p.bench}, resamples: *resamples, seed: *seed}
	cmp, err := c.Compare(ctx, *id, hashes)
	if err != nil {
		if code := leaderboard.ErrorCode(err); code == leaderboard.EUNSUPPORTED || code == leaderboard.ENOTFOUND {
			return fmt.Errorf("%w: %s", errInput, leaderboard.ErrorMessage(err))
		}
		return err
	}
	doc := wire.FromComparison(cmp, func(h string) leaderboard.ModelInfo {
		if m, ok := ix.Model(h); ok {
			return m
		}
		return leaderboard.ModelInfo{Hash: h}
	})
	if *asJSON {
		return writeJSON(env.Stdout, doc)
	}
	printComparison(env.Stdout, doc)
	return nil
}

func printComparison(w io.Writer, c wire.Comparison) {
	fmt.Fprintf(w, "%s: %s; %d resamples (%d failed), seed %d\n\n", c.BenchmarkID, c.Method, c.Resamples, c.FailedResamples, c.Seed)
	name := make(map[string]string)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSCORE (all stimuli)")
	for _, m := range c.Models {
		name[m.Model.Hash] = m.Model.Name
		fmt.Fprintf(tw, "%s\t%.4f\n", m.Model.Name, float64(m.Score))
	}
	tw.Flush()
	for _, s := range c.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Model.Name, s.Reason)
	}
	if len(c.Pairs) == 0 {
		fmt.Fprintln(w, "\nno pairs: fewer than two models could be compared")
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "A\tB\tDIFF A−B\t95% CI\tP\tQ (BH)\t")
	for _, p := range c.Pairs {
		mark := ""
		if p.Significant {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%+.4f\t[%+.4f, %+.4f]\t%.4f\t%.4f\t%s\n", name[p.A], name[p.B], float64(p.Diff),
			float64(p.CI[0]), float64(p.CI[1]), float64(p.P), float64(p.Q), mark)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n* significant: q < %g\n%s\n", float64(c.Level), c.Rule)
}

// comparer is the server's Comparer over p's store, with the defaults.
func (p *platform) comparer() modelComparer {
	return modelComparer{bench: p.bench, rdms: rdmStore{p.bucket, p.bench}, resamples: defaultCompareResamples, seed: defaultCompareSeed}
}
