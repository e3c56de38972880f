package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/compare"
	"github.com/cortexbench/cortexbench/scoring/report"
	"github.com/cortexbench/cortexbench/scoring/runner"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
)

// The controls `score --control` makes of a model (issue 16).
const (
	controlShuffled  = "shuffled"
	controlUntrained = "untrained"
)

// controlFlags are `score`'s --control and --control-seed.
type controlFlags struct {
	kind *string
	seed *uint64
}

func addControlFlags(fs *flag.FlagSet) *controlFlags {
	return &controlFlags{
		kind: fs.String("control", "", "also score a control of every --model on the same benchmarks and compare them: shuffled (each weight tensor permuted) or untrained (the architecture re-initialised: He-normal weights, zero biases, identity batch norm)"),
		seed: fs.Uint64("control-seed", 1, "`seed` of the control's weights"),
	}
}

func (c *controlFlags) on() bool { return *c.kind != "" }

func (c *controlFlags) check() error {
	switch *c.kind {
	case "", controlShuffled, controlUntrained:
		return nil
	}
	return fmt.Errorf("%w: --control %q: want shuffled (weights permuted within each tensor) or untrained (the architecture re-initialised)", errInput, *c.kind)
}

// make returns the control's ONNX bytes and what its weights are, for
// the entry's training-data field.
func (c *controlFlags) make(data []byte) ([]byte, string, error) {
	switch *c.kind {
	case controlShuffled:
		out, _, err := onnxmodel.ShuffleWeights(data, *c.seed)
		return out, fmt.Sprintf("none (weights shuffled within each tensor, seed %d)", *c.seed), err
	case controlUntrained:
		out, _, err := onnxmodel.Untrained(data, *c.seed)
		return out, fmt.Sprintf("none (re-initialised, seed %d: He-normal weights, zero biases, identity batch norm)", *c.seed), err
	}
	panic("controlFlags.make: no control asked for")
}

// controlRow is one benchmark's model and control scores side by side,
// with the paired bootstrap of their difference where it can be computed.
type controlRow struct {
	Benchmark string `json:"benchmark"`
	Model     string `json:"model"`
	ModelHash string `json:"model_hash"`
	Control   string `json:"control"`
	// ControlHash is the control's own model entry.
	ControlHash string `json:"control_hash"`
	Kind        string `json:"kind"`
	Seed        uint64 `json:"seed"`

	ModelRaw      jsonFloat    `json:"model_raw"`
	ModelCI       [2]jsonFloat `json:"model_ci"`
	ModelCeiled   jsonFloat    `json:"model_ceiled"`
	ControlRaw    jsonFloat    `json:"control_raw"`
	ControlCI     [2]jsonFloat `json:"control_ci"`
	ControlCeiled jsonFloat    `json:"control_ceiled"`
	// CIOverlap: the two scores' 95% intervals overlap; null when either
	// has none.
	CIOverlap *bool `json:"ci_overlap"`

	// The paired bootstrap over stimuli and subjects (compare's): Diff =
	// model − control raw score on all stimuli with each reported layer,
	// its 95% interval and two-sided p; null with Test saying why not.
	Diff      jsonFloat    `json:"diff"`
	DiffCI    [2]jsonFloat `json:"diff_ci"`
	P         jsonFloat    `json:"p"`
	Resamples int          `json:"resamples,omitempty"`
	Test      string       `json:"test"`
}

// scoreControl makes the control of the model in info (scored already:
// scores), registers it as its own entry (file hash, name "<name>
// (control: KIND)", family "control", ControlOf the model's entry) unless
// --fresh, scores it on ids, and compares the two on each benchmark.
func scoreControl(ctx context.Context, env *Env, p *platform, rt *ort.Runtime, run *runner.Runner, info onnxrun.Info, scores []scoring.Score,
	sf *scoreFlags, ids []string, cf *controlFlags) ([]scoring.Score, []controlRow, error) {
	data, err := os.ReadFile(info.Path)
	if err != nil {
		return nil, nil, err
	}
	out, training, err := cf.make(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: make the %s control of %s: %w", errInput, *cf.kind, info.Path, err)
	}
	dir, err := os.MkdirTemp("", "cortexbench-control-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, fmt.Sprintf("%s_%s_seed%d.onnx", strings.TrimSuffix(filepath.Base(info.Path), filepath.Ext(info.Path)), *cf.kind, *cf.seed))
	if err := os.WriteFile(file, out, 0o644); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(data)
	hash, name := models.EntryID(hex.EncodeToString(sum[:]), info.Spec), info.Name
	if len(scores) > 0 { // the entry as registered (its name may be an earlier one)
		hash, name = scores[0].ModelHash, scores[0].ModelName
	}
	cinfo := onnxrun.Info{Path: file, Name: fmt.Sprintf("%s (control: %s)", name, *cf.kind), Family: "control",
		Version: fmt.Sprintf("%s seed%d", *cf.kind, *cf.seed), TrainingData: training, Spec: info.Spec, ControlOf: hash, Control: *cf.kind}
	cscores, err := scoreModel(ctx, env, p, rt, run, cinfo, sf, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("score the %s control: %w", *cf.kind, err)
	}
	byID := map[string]scoring.Score{}
	for _, s := range cscores {
		byID[s.BenchmarkID] = s
	}
	cmp := compare.Comparer{Bench: p.bench, RDMs: rdmstore.Store{Bucket: p.bucket}, Resamples: compare.DefaultResamples, Seed: compare.DefaultSeed}
	var rows []controlRow
	for _, s := range scores {
		c, ok := byID[s.BenchmarkID]
		if !ok {
			continue
		}
		row := controlRow{Benchmark: s.BenchmarkID, Model: s.ModelName, ModelHash: s.ModelHash, Control: c.ModelName, ControlHash: c.ModelHash,
			Kind: *cf.kind, Seed: *cf.seed,
			ModelRaw: jsonFloat(s.Raw), ModelCI: [2]jsonFloat{jsonFloat(s.CILow), jsonFloat(s.CIHigh)}, ModelCeiled: jsonFloat(s.Ceiled),
			ControlRaw: jsonFloat(c.Raw), ControlCI: [2]jsonFloat{jsonFloat(c.CILow), jsonFloat(c.CIHigh)}, ControlCeiled: jsonFloat(c.Ceiled),
			Diff: jsonFloat(math.NaN()), DiffCI: [2]jsonFloat{jsonFloat(math.NaN()), jsonFloat(math.NaN())}, P: jsonFloat(math.NaN())}
		if !math.IsNaN(s.CILow + s.CIHigh + c.CILow + c.CIHigh) {
			overlap := s.CILow <= c.CIHigh && c.CILow <= s.CIHigh
			row.CIOverlap = &overlap
		}
		if sf.fresh {
			row.Test = "not computed: --fresh keeps no model RDMs, which the paired test reads (score without --fresh)"
			rows = append(rows, row)
			continue
		}
		r, err := cmp.Compare(ctx, s.BenchmarkID, []string{s.ModelHash, c.ModelHash})
		switch {
		case errors.Is(err, compare.ErrUnsupported):
			row.Test = "not available for this metric (paired bootstrap of RSA benchmarks only): compare the two intervals"
		case err != nil:
			return nil, nil, fmt.Errorf("compare with the control on %s: %w", s.BenchmarkID, err)
		case len(r.Pairs) == 1:
			pr := r.Pairs[0]
			row.Diff, row.DiffCI, row.P = jsonFloat(pr.Diff), [2]jsonFloat{jsonFloat(pr.Lower), jsonFloat(pr.Upper)}, jsonFloat(pr.P)
			row.Resamples = r.Resamples
			row.Test = fmt.Sprintf("paired bootstrap over stimuli and subjects, %d resamples (seed %d), two-sided", r.Resamples, r.Seed)
		default:
			var why []string
			for _, sk := range r.Skipped {
				who := "model"
				if sk.Hash == c.ModelHash {
					who = "control"
				}
				why = append(why, who+": "+sk.Reason)
			}
			row.Test = "not computed: " + strings.Join(why, "; ")
		}
		rows = append(rows, row)
	}
	return cscores, rows, nil
}

// controlJSON is `score --control --json`: every score, and the
// comparisons with the controls.
type controlJSON struct {
	Scores   []report.ScoreJSON `json:"scores"`
	Controls []controlRow       `json:"controls"`
}

// printControls writes the model and control scores side by side.
func printControls(w io.Writer, rows []controlRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BENCHMARK\tMODEL\tRAW [95% CI]\tCONTROL RAW [95% CI]\tCEILED MODEL / CONTROL\tDIFF (ALL STIMULI) [95% CI]\tP")
	for _, r := range rows {
		diff, p := "—", "—"
		if !math.IsNaN(float64(r.P)) {
			diff = fmt.Sprintf("%+.3f [%+.3f, %+.3f]", float64(r.Diff), float64(r.DiffCI[0]), float64(r.DiffCI[1]))
			p = fmt.Sprintf("%.3g", float64(r.P))
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f [%.3f, %.3f]\t%.3f [%.3f, %.3f]\t%s / %s\t%s\t%s\n", r.Benchmark, r.Model,
			float64(r.ModelRaw), float64(r.ModelCI[0]), float64(r.ModelCI[1]),
			float64(r.ControlRaw), float64(r.ControlCI[0]), float64(r.ControlCI[1]),
			fmtNum(float64(r.ModelCeiled)), fmtNum(float64(r.ControlCeiled)), diff, p)
	}
	tw.Flush()
	for _, r := range rows {
		if math.IsNaN(float64(r.P)) {
			overlap := "the scores have no 95% intervals to compare"
			if r.CIOverlap != nil && *r.CIOverlap {
				overlap = "the 95% intervals overlap"
			} else if r.CIOverlap != nil {
				overlap = "the 95% intervals do not overlap"
			}
			fmt.Fprintf(w, "%s: no paired test (%s); %s\n", r.Benchmark, r.Test, overlap)
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if !seen[r.ControlHash] {
			seen[r.ControlHash] = true
			fmt.Fprintf(w, "control of %s: %q (entry %s, %s, seed %d)\n", r.Model, r.Control, r.ControlHash[:12], r.Kind, r.Seed)
		}
	}
	if len(rows) > 0 {
		fmt.Fprintln(w, "DIFF = model − control raw score on all stimuli, each with its reported layer; P: two-sided, of 'difference = 0', not corrected across benchmarks")
	}
}

func fmtNum(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.3f", x)
}
