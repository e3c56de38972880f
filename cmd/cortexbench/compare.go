package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring/compare"
)

// compareIDs is a repeatable flag whose values may also be comma-separated.
type compareIDs []string

func (l *compareIDs) String() string { return strings.Join(*l, ",") }

func (l *compareIDs) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l = append(*l, v)
		}
	}
	return nil
}

// runCompare compares two models over every benchmark both are scored on
// (--models A,B), or every pair of models ranked on one RSA benchmark
// (--benchmark ID alone, the older form).
func runCompare(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compare", "compare --models A,B [--benchmark ID ...] [--resamples N] [--seed S] [--json] [--store DIR] [--db FILE | --postgres DSN]\n"+
		"       cortexbench compare --benchmark ID [--resamples N] [--seed S] [--json] [--store DIR] [--db FILE | --postgres DSN]\n\n"+
		"With --models, compares model B with model A on every benchmark both have a score on (or on the --benchmark ones):\n"+
		"both scores with their intervals and layers, B−A with its 95% interval, p and the Benjamini–Hochberg q across\n"+
		"the benchmarks, and the test used (paired bootstrap over stimuli, paired over splits, or unpaired from SEs).\n"+
		"A and B are model names, ids or unique id prefixes of at least 8 hex digits.\n"+
		"With --benchmark alone, compares every pair of the models ranked on that RSA benchmark")
	pf := addPlatformFlags(env, fs)
	var ids compareIDs
	fs.Var(&ids, "benchmark", "benchmark `ID` (repeatable with --models: compare on these only; alone: the RSA benchmark whose models to compare pairwise)")
	modelsFlag := fs.String("models", "", "two models `A,B` to compare over every benchmark (name, id or id prefix of ≥ 8 hex digits)")
	resamples := fs.Int("resamples", compare.DefaultResamples, "bootstrap `resamples` over stimuli and subjects")
	seed := fs.Uint64("seed", compare.DefaultSeed, "`seed` of the resamples (the same seed gives the same result)")
	asJSON := fs.Bool("json", false, "print the comparison as JSON (the API's document)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q: give the models as --models A,B", errInput, fs.Arg(0))
	}
	var refs []string
	if *modelsFlag != "" {
		for _, r := range strings.Split(*modelsFlag, ",") {
			refs = append(refs, strings.TrimSpace(r))
		}
		if len(refs) != 2 || refs[0] == "" || refs[1] == "" {
			return fmt.Errorf("%w: --models %q: give exactly two models, A,B (names, ids or id prefixes of at least 8 hex digits)", errInput, *modelsFlag)
		}
	}
	switch {
	case refs == nil && len(ids) == 0:
		fmt.Fprintln(env.Stderr, "compare: give --models A,B (two models over every benchmark) or --benchmark ID (every pair on one RSA benchmark)")
		return errUsage
	case refs == nil && len(ids) > 1:
		return fmt.Errorf("%w: --benchmark given %d times without --models: give --models A,B to compare two models over several benchmarks, or one --benchmark to compare every pair on it", errInput, len(ids))
	}
	if *resamples < 2 {
		return fmt.Errorf("%w: --resamples %d: need at least 2 (1000 is usual)", errInput, *resamples)
	}
	p, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(ctx)
	ix, err := leaderboard.Load(ctx, p.board())
	if err != nil {
		return err
	}
	c := p.comparer()
	c.Resamples, c.Seed = *resamples, *seed
	if refs != nil {
		return compareTwo(ctx, env, ix, c, refs, ids, *asJSON)
	}
	id := ids[0]
	if _, ok := ix.Benchmark(id); !ok {
		return fmt.Errorf("%w: no benchmark %q (list them with 'cortexbench benchmarks list')", errInput, id)
	}
	var hashes []string
	for _, r := range ix.RankBenchmark(id) {
		hashes = append(hashes, r.Model.Hash)
	}
	cmp, err := c.Compare(ctx, id, hashes)
	if err != nil {
		if code := leaderboard.ErrorCode(err); code == leaderboard.EUNSUPPORTED || code == leaderboard.ENOTFOUND {
			return fmt.Errorf("%w: %s (to compare two models on any benchmark, give --models A,B)", errInput, leaderboard.ErrorMessage(err))
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
	wire.WriteComparisonText(env.Stdout, doc)
	return nil
}

// compareTwo compares models refs[0] (A) and refs[1] (B) over the
// benchmarks ids (every one when empty).
func compareTwo(ctx context.Context, env *Env, ix *leaderboard.Index, c leaderboard.Comparer, refs, ids []string, asJSON bool) error {
	var hashes [2]string
	for i, r := range refs {
		m, err := ix.ResolveModel(r)
		if err != nil {
			return fmt.Errorf("%w: --models: %s (list them with 'cortexbench models list')", errInput, leaderboard.ErrorMessage(err))
		}
		hashes[i] = m.Hash
	}
	cmp, err := leaderboard.CompareModels(ctx, ix, c, hashes[0], hashes[1], ids)
	if err != nil {
		if code := leaderboard.ErrorCode(err); code == leaderboard.EINVALID || code == leaderboard.ENOTFOUND || code == apierr.ECONFLICT {
			return fmt.Errorf("%w: %s", errInput, leaderboard.ErrorMessage(err))
		}
		return err
	}
	doc := wire.FromTwoModelComparison(cmp)
	if asJSON {
		return writeJSON(env.Stdout, doc)
	}
	wire.WriteTwoModelText(env.Stdout, doc)
	return nil
}
