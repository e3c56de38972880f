package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/linalg"
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

// errInput marks a problem with the user's files or values.
var errInput = errors.New("bad input")

func runCompute(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stderr, "usage: cortexbench compute SUBCOMMAND [flags]\n\nsubcommands:")
		names := make([]string, 0, len(computeCommands))
		for n := range computeCommands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(env.Stderr, "  %-12s %s\n", n, computeCommands[n].summary)
		}
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := computeCommands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "cortexbench compute: unknown subcommand %q\n", args[0])
		return errUsage
	}
	return c.run(ctx, env, args[1:])
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

func shapeString(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(p, ", ") + ")"
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
	a, err := npy.ReadFile(*features)
	if err != nil {
		return err
	}
	if len(a.Shape) != 2 {
		return fmt.Errorf("%w: %s has shape %s; want 2-D stimuli × features", errInput, *features, shapeString(a.Shape))
	}
	n, q := a.Shape[0], a.Shape[1]
	var full []float64
	switch d := a.Data.(type) {
	case []float32:
		full, err = rdm.Compute(linalg.View(n, q, d), m)
	default:
		full, err = rdm.Compute(linalg.View(n, q, a.Float64()), m)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *features, err)
	}
	if err := npy.WriteFile(*out, []int{n, n}, full); err != nil {
		return err
	}
	return writeJSON(env.Stdout, map[string]any{"stimuli": n, "features": q, "metric": string(m), "out": *out})
}

// readRDMVector reads a full n×n RDM (validated with rdm.Check) or a 1-D
// upper-triangle vector and returns the vector.
func readRDMVector(path string) ([]float64, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := a.Float64()
	switch {
	case len(a.Shape) == 1:
		return d, nil
	case len(a.Shape) == 2 && a.Shape[0] == a.Shape[1]:
		if err := rdm.Check(a.Shape[0], d); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", errInput, path, err)
		}
		return rdm.Upper(a.Shape[0], d), nil
	}
	return nil, fmt.Errorf("%w: %s has shape %s; want a square n×n RDM or a 1-D upper-triangle vector", errInput, path, shapeString(a.Shape))
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
	a, err := readRDMVector(*pa)
	if err != nil {
		return err
	}
	b, err := readRDMVector(*pb)
	if err != nil {
		return err
	}
	v, err := rsa.Compare(a, b, m)
	if err != nil {
		return fmt.Errorf("compare %s with %s: %w", *pa, *pb, err)
	}
	return writeJSON(env.Stdout, map[string]any{"value": v})
}

// readSubjectRDMs reads subjects × n × n RDMs, or subjects × sessions × n × n
// (sessions averaged per subject), checks each RDM, and returns one
// upper-triangle vector per subject.
func readSubjectRDMs(path string) ([][]float64, int, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	sh := a.Shape
	if !(len(sh) == 3 || len(sh) == 4) || sh[len(sh)-1] != sh[len(sh)-2] {
		return nil, 0, fmt.Errorf("%w: %s has shape %s; want subjects × n × n or subjects × sessions × n × n", errInput, path, shapeString(sh))
	}
	return subjectUppers(path, sh, a.Float64())
}

func subjectUppers(path string, sh []int, d []float64) ([][]float64, int, error) {
	n := sh[len(sh)-1]
	s, sess := sh[0], 1
	if len(sh) == 4 {
		sess = sh[1]
	}
	if sess < 1 {
		return nil, 0, fmt.Errorf("%w: %s has no sessions", errInput, path)
	}
	out := make([][]float64, s)
	mean := make([]float64, n*n)
	for i := range out {
		clear(mean)
		for k := 0; k < sess; k++ {
			m := d[(i*sess+k)*n*n:][:n*n]
			if err := rdm.Check(n, m); err != nil {
				if sess > 1 {
					return nil, 0, fmt.Errorf("%w: %s subject %d session %d: %w", errInput, path, i, k, err)
				}
				return nil, 0, fmt.Errorf("%w: %s subject %d: %w", errInput, path, i, err)
			}
			for j, v := range m {
				mean[j] += v
			}
		}
		for j := range mean {
			mean[j] /= float64(sess)
		}
		out[i] = rdm.Upper(n, mean)
	}
	return out, n, nil
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
	subj, _, err := readSubjectRDMs(*path)
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

// medianFinite is the median of the finite values of x (NaN if none).
func medianFinite(x []float64) float64 {
	var f []float64
	for _, v := range x {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			f = append(f, v)
		}
	}
	if len(f) == 0 {
		return math.NaN()
	}
	slices.Sort(f)
	h := len(f) / 2
	if len(f)%2 == 1 {
		return f[h]
	}
	return (f[h-1] + f[h]) / 2
}

func readResponses(path string) (ceiling.Responses, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return ceiling.Responses{}, err
	}
	if len(a.Shape) != 3 {
		return ceiling.Responses{}, fmt.Errorf("%w: %s has shape %s; want targets × stimuli × repeats (NaN where a stimulus had fewer repeats)", errInput, path, shapeString(a.Shape))
	}
	return ceiling.Responses{Targets: a.Shape[0], Stimuli: a.Shape[1], Repeats: a.Shape[2], Data: a.Float64()}, nil
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
	r, err := readResponses(*path)
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
	return writeJSON(env.Stdout, map[string]any{"median": jsonFloat(medianFinite(per)), "per_target": pt, "splits": *splits, "seed": *seed})
}
