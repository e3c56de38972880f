package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

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
