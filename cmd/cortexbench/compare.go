package main

import (
	"context"
	"fmt"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring/compare"
)

// runCompare compares every pair of models ranked on a benchmark.
func runCompare(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compare", "compare --benchmark ID [--resamples N] [--seed S] [--json] [--store DIR] [--db FILE | --postgres DSN]")
	pf := addPlatformFlags(env, fs)
	id := fs.String("benchmark", "", "benchmark `ID` whose models to compare (an RSA benchmark)")
	resamples := fs.Int("resamples", compare.DefaultResamples, "bootstrap `resamples` over stimuli and subjects")
	seed := fs.Uint64("seed", compare.DefaultSeed, "`seed` of the resamples (the same seed gives the same result)")
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
	ix, err := leaderboard.Load(ctx, p.board())
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
	c := p.comparer()
	c.Resamples, c.Seed = *resamples, *seed
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
	wire.WriteComparisonText(env.Stdout, doc)
	return nil
}
