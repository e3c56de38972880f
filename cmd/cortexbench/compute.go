package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks/arrays"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// computeCommands are the subcommands of `cortexbench compute`: the scoring
// math on .npy files, JSON on stdout.
var computeCommands = map[string]command{
	"rdm":         {"RDM of a stimuli × features matrix", runComputeRDM},
	"compare":     {"compare two RDMs (full n×n or upper-triangle vectors)", runComputeCompare},
	"ceiling":     {"RSA noise ceiling of subjects × n × n RDMs", runComputeCeiling},
	"reliability": {"split-half reliability of targets × stimuli × repeats", runComputeReliability},
	"ridge":       {"cross-validated ridge encoding of Y from X", runComputeRidge},
}

// errInput marks a problem with the user's files or values: the array
// readers' sentinel, so a refusal found by either reads the same.
var errInput = arrays.ErrInvalid

func runCompute(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "compute", computeCommands, 12, "", args)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	return enc.Encode(v)
}

// jsonFloat renders NaN as null, which JSON has no number for.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

func runComputeRDM(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compute rdm", "compute rdm --features X.npy [--metric correlation|euclidean|cosine] --out R.npy")
	features := fs.String("features", "", "stimuli × features `.npy` (float32 or float64; C or Fortran order)")
	metric := fs.String("metric", "correlation", "dissimilarity: correlation (1 − Pearson r), euclidean or cosine")
	out := fs.String("out", "", "where to write the n×n float64 RDM `.npy`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *features == "" || *out == "" {
		fmt.Fprintln(env.Stderr, "compute rdm needs --features and --out")
		return errUsage
	}
	m, err := rdm.ParseMetric(*metric)
	if err != nil {
		return fmt.Errorf("%w: --metric: %w", errInput, err)
	}
	full, n, q, err := arrays.RDMOfFile(*features, m)
	if err != nil {
		return err
	}
	if err := npy.WriteFile(*out, []int{n, n}, full); err != nil {
		return err
	}
	return writeJSON(env.Stdout, map[string]any{"stimuli": n, "features": q, "metric": string(m), "out": *out})
}

func runComputeCompare(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compute compare", "compute compare --a R1.npy --b R2.npy [--method spearman|pearson|kendall-tau-a]")
	pa := fs.String("a", "", "first RDM `.npy` (n×n, or an upper-triangle vector)")
	pb := fs.String("b", "", "second RDM `.npy`, same shape as --a")
	method := fs.String("method", "spearman", "spearman, pearson or kendall-tau-a")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pa == "" || *pb == "" {
		fmt.Fprintln(env.Stderr, "compute compare needs --a and --b")
		return errUsage
	}
	m, err := rsa.ParseMethod(*method)
	if err != nil {
		return fmt.Errorf("%w: --method: %w", errInput, err)
	}
	a, err := arrays.ReadRDMVector(*pa)
	if err != nil {
		return err
	}
	b, err := arrays.ReadRDMVector(*pb)
	if err != nil {
		return err
	}
	v, err := rsa.Compare(a, b, m)
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", *pa, *pb, err)
	}
	return writeJSON(env.Stdout, map[string]any{"value": v})
}

func ceilingJSON(c ceiling.RSA) map[string]any {
	return map[string]any{"upper": c.Upper, "lower": c.Lower, "upper_r2": c.UpperR2, "lower_r2": c.LowerR2}
}

func runComputeCeiling(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compute ceiling", "compute ceiling --rdms S.npy [--method spearman|pearson|kendall-tau-a] [--pool mean|standardized]")
	path := fs.String("rdms", "", "subjects × n × n (or subjects × sessions × n × n, sessions averaged) `.npy`")
	method := fs.String("method", "spearman", "spearman, pearson or kendall-tau-a")
	poolName := fs.String("pool", "mean", "how the subjects' RDMs are averaged into the reference: mean (Algonauts 2019, Nili et al. 2014) or standardized (ranks or z-scores first, as rsatoolbox does)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(env.Stderr, "compute ceiling needs --rdms")
		return errUsage
	}
	m, err := rsa.ParseMethod(*method)
	if err != nil {
		return fmt.Errorf("%w: --method: %w", errInput, err)
	}
	subj, _, err := arrays.ReadSubjectRDMs(*path)
	if err != nil {
		return err
	}
	pool, err := ceiling.ParsePool(*poolName)
	if err != nil {
		return fmt.Errorf("%w: --pool: %w", errInput, err)
	}
	c, err := ceiling.RSACeilingPool(subj, m, pool)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	out := ceilingJSON(c)
	out["method"], out["pool"] = string(m), string(pool)
	return writeJSON(env.Stdout, out)
}

func runComputeReliability(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "compute reliability", "compute reliability --responses R.npy [--splits 100] [--seed 1]")
	path := fs.String("responses", "", "targets × stimuli × repeats `.npy`, NaN-padded")
	splits := fs.Int("splits", 100, "number of seeded random split halves to average")
	seed := fs.Uint64("seed", 1, "seed of the splits")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *path == "" {
		fmt.Fprintln(env.Stderr, "compute reliability needs --responses")
		return errUsage
	}
	r, err := arrays.ReadResponses(*path)
	if err != nil {
		return err
	}
	per, err := ceiling.SplitHalf(r, *splits, *seed)
	if err != nil {
		return fmt.Errorf("%s: %w", *path, err)
	}
	pt := make([]jsonFloat, len(per))
	for i, v := range per {
		pt[i] = jsonFloat(v)
	}
	return writeJSON(env.Stdout, map[string]any{"median": jsonFloat(arrays.MedianFinite(per)), "per_target": pt, "splits": *splits, "seed": *seed})
}
