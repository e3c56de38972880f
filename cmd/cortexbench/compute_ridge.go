package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/cortexbench/cortexbench/benchmarks/arrays"
	"github.com/cortexbench/cortexbench/scoring/linalg"
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
		fa, err := npy.ReadFile(*foldsFile)
		if err != nil {
			return err
		}
		if len(fa.Shape) != 1 {
			return fmt.Errorf("%w: %s has shape %s; want a 1-D vector of fold ids", errInput, *foldsFile, arrays.Shape(fa.Shape))
		}
		if cfg.FoldOf, err = fa.Ints(); err != nil {
			return fmt.Errorf("%w: %s: %w", errInput, *foldsFile, err)
		}
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
	xa, err := npy.ReadFile(*px)
	if err != nil {
		return err
	}
	if len(xa.Shape) != 2 {
		return fmt.Errorf("%w: %s has shape %s; want 2-D stimuli × features", errInput, *px, arrays.Shape(xa.Shape))
	}
	ya, err := npy.ReadFile(*py)
	if err != nil {
		return err
	}
	ny, p := 0, 1
	switch len(ya.Shape) {
	case 1:
		ny = ya.Shape[0]
	case 2:
		ny, p = ya.Shape[0], ya.Shape[1]
	default:
		return fmt.Errorf("%w: %s has shape %s; want 2-D stimuli × targets", errInput, *py, arrays.Shape(ya.Shape))
	}
	if cfg.FoldOf != nil && len(cfg.FoldOf) != ny {
		return fmt.Errorf("%w: %s has %d fold ids for %d stimuli", errInput, *foldsFile, len(cfg.FoldOf), ny)
	}
	y := linalg.View(ny, p, ya.Float64())
	n, q := xa.Shape[0], xa.Shape[1]
	var res *ridge.Result
	if d, ok := xa.Data.([]float32); ok {
		res, err = ridge.CV(linalg.View(n, q, d), y, cfg)
	} else {
		res, err = ridge.CV(linalg.View(n, q, xa.Float64()), y, cfg)
	}
	if err != nil {
		return fmt.Errorf("%w: ridge on %s and %s: %w", errInput, *px, *py, err)
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
