package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/cortexbench/cortexbench/benchmarks/arrays"
	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// runComputeRidge is `cortexbench compute ridge`: cross-validated ridge
// encoding of every column of Y from X (see package scoring/ridge).
func runComputeRidge(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compute ridge", "compute ridge --x X.npy --y Y.npy [--folds 5 | --folds-file F.npy] [--alphas a,b,…] [--seed 1] [--inner-folds 0] [--standardize] [--out P.npy]")
	px := fs.String("x", "", "stimuli × features `.npy` (float32 or float64; C or Fortran order)")
	py := fs.String("y", "", "stimuli × targets `.npy` (or a 1-D vector: one target)")
	folds := fs.Int("folds", 5, "number of seeded outer folds (ignored with --folds-file unless given too)")
	foldsFile := fs.String("folds-file", "", "integer `.npy` with each stimulus's outer fold 0…K-1, to reproduce another tool's splits")
	alphas := fs.String("alphas", "", "comma-separated penalty grid (default 19 values log-spaced 1e-2 … 1e7)")
	seed := fs.Uint64("seed", 1, "seed of the outer (and inner) fold shuffles")
	inner := fs.Int("inner-folds", 0, "inner folds for choosing alpha; 0 = exact leave-one-out (sklearn RidgeCV)")
	std := fs.Bool("standardize", false, "scale features by their training standard deviation")
	out := fs.String("out", "", "where to write the held-out predictions, stimuli × targets float64 `.npy`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *px == "" || *py == "" {
		fmt.Fprintln(env.Stderr, "compute ridge needs --x and --y")
		return errUsage
	}
	cfg := ridge.Config{Folds: *folds, Seed: *seed, InnerFolds: *inner, Standardize: *std}
	if *foldsFile != "" {
		set := false
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "folds" {
				set = true
			}
		})
		if !set {
			cfg.Folds = 0
		}
		folds, err := arrays.ReadFolds(*foldsFile)
		if err != nil {
			return err
		}
		cfg.FoldOf = folds
	}
	if *alphas != "" {
		cfg.Alphas = []float64{}
		for _, s := range splitList(*alphas) {
			a, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("%w: --alphas: %q is not a number", errInput, s)
			}
			cfg.Alphas = append(cfg.Alphas, a)
		}
	}
	res, n, p, err := arrays.RidgeOfFiles(*px, *py, *foldsFile, cfg)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := npy.WriteFile(*out, []int{n, p}, res.Predictions.Data); err != nil {
			return err
		}
	}
	js := func(v []float64) []jsonFloat {
		o := make([]jsonFloat, len(v))
		for i, x := range v {
			o[i] = jsonFloat(x)
		}
		return o
	}
	return writeJSON(env.Stdout, map[string]any{
		"median_r":     jsonFloat(res.Median),
		"r":            js(res.R),
		"alpha":        res.Alpha,
		"folds":        res.Folds,
		"mean_r":       jsonFloat(res.Mean),
		"se_r":         jsonFloat(res.SE),
		"fold_medians": js(res.FoldMedians),
		"nan_targets":  res.NaNTargets,
	})
}
