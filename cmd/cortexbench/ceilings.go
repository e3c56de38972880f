package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// ceilingRow is one line of the main job's table.
type ceilingRow struct {
	Dataset  string    `json:"dataset"`
	Region   string    `json:"region"`
	Kind     string    `json:"kind"` // "rsa" or "split-half"
	Subjects int       `json:"subjects,omitempty"`
	Stimuli  int       `json:"stimuli,omitempty"`
	Upper    jsonFloat `json:"upper"`
	Lower    jsonFloat `json:"lower"`
	UpperR2  jsonFloat `json:"upper_r2"`
	LowerR2  jsonFloat `json:"lower_r2"`
	Note     string    `json:"note,omitempty"`
}

// rsaSets are the subject-RDM files of the shared datasets.
var rsaSets = []struct{ dataset, region, file string }{
	{"algonauts2019-92", "EVC", "algonauts2019-92/rdms/EVC.npy"},
	{"algonauts2019-92", "IT", "algonauts2019-92/rdms/IT.npy"},
	{"algonauts2019-78", "EVC", "algonauts2019-78/rdms/EVC.npy"},
	{"algonauts2019-78", "IT", "algonauts2019-78/rdms/IT.npy"},
	{"algonauts2019-78", "EVC testset2", "algonauts2019-78/rdms/EVC_testset2.npy"},
	{"algonauts2019-78", "IT testset2", "algonauts2019-78/rdms/IT_testset2.npy"},
	{"kriegeskorte2008-92", "hIT (session mean)", "kriegeskorte2008-92/rdms/hIT_subject_rdms_sessionmean.npy"},
	{"kriegeskorte2008-92", "hIT (per session)", "kriegeskorte2008-92/rdms/hIT_subject_session_rdms.npy"},
	{"kriegeskorte2008-92", "behaviour", "kriegeskorte2008-92/rdms/behav_simjudge_rdms_16subj.npy"},
}

// groupOnly are group-average RDMs: no subjects, so no ceiling.
var groupOnly = []struct{ dataset, region, file string }{
	{"kriegeskorte2008-92", "mIT", "kriegeskorte2008-92/rdms/mIT_group_rdm_674neurons.npy"},
	{"kriegeskorte2008-92", "hIT (group)", "kriegeskorte2008-92/rdms/hIT_group_rdm_316vx.npy"},
}

const cowleyRaw = "cowley2023-v4/responses_raw/responses_210325.npy"

// runCeilings prints the noise ceiling of every dataset in the shared
// datasets folder, straight from the files (no store needed).
func runCeilings(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "ceilings", "ceilings [--data DIR] [--json]")
	data := fs.String("data", defaultDataDir, "datasets `folder`")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	splits := fs.Int("splits", 100, "split halves for response reliability")
	seed := fs.Uint64("seed", 1, "seed of the split halves")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("%w: datasets folder: %w (pass --data DIR)", errInput, err)
	}
	rows, err := datasetCeilings(ctx, *data, *splits, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.Stdout, map[string]any{"method": string(rsa.Spearman), "ceilings": rows})
	}
	printCeilings(env.Stdout, rows)
	return nil
}

func datasetCeilings(ctx context.Context, dir string, splits int, seed uint64) ([]ceilingRow, error) {
	var rows []ceilingRow
	for _, s := range rsaSets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, s.file)
		a, err := npy.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			rows = append(rows, ceilingRow{Dataset: s.dataset, Region: s.region, Kind: "rsa", Note: "missing: " + s.file, Upper: nan, Lower: nan, UpperR2: nan, LowerR2: nan})
			continue
		}
		if err != nil {
			return nil, err
		}
		sh := a.Shape
		if !(len(sh) == 3 || len(sh) == 4) || sh[len(sh)-1] != sh[len(sh)-2] {
			return nil, fmt.Errorf("%w: %s has shape %s", errInput, path, shapeString(sh))
		}
		d := a.Float64()
		n := sh[len(sh)-1]
		if len(sh) == 4 {
			// One ceiling per session: subjects' RDMs within a session.
			for k := 0; k < sh[1]; k++ {
				sess := make([]float64, 0, sh[0]*n*n)
				for i := 0; i < sh[0]; i++ {
					sess = append(sess, d[(i*sh[1]+k)*n*n:][:n*n]...)
				}
				row, err := rsaRow(path, s.dataset, fmt.Sprintf("hIT (session %d)", k+1), []int{sh[0], n, n}, sess)
				if err != nil {
					return nil, err
				}
				rows = append(rows, row)
			}
			continue
		}
		row, err := rsaRow(path, s.dataset, s.region, sh, d)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	for _, g := range groupOnly {
		row := ceilingRow{Dataset: g.dataset, Region: g.region, Kind: "rsa", Note: "no ceiling: group RDM only", Upper: nan, Lower: nan, UpperR2: nan, LowerR2: nan}
		if a, err := npy.ReadFile(filepath.Join(dir, g.file)); err == nil && len(a.Shape) == 2 {
			row.Stimuli = a.Shape[0]
		}
		rows = append(rows, row)
	}
	row := ceilingRow{Dataset: "cowley2023-v4", Region: "V4 (session 210325)", Kind: "split-half", Upper: nan, Lower: nan, UpperR2: nan, LowerR2: nan}
	r, err := readResponses(filepath.Join(dir, cowleyRaw))
	switch {
	case errors.Is(err, os.ErrNotExist):
		row.Note = "missing: " + cowleyRaw
	case err != nil:
		return nil, err
	default:
		per, err := ceiling.SplitHalf(r, splits, seed)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cowleyRaw, err)
		}
		med := medianFinite(per)
		row.Upper = jsonFloat(med)
		row.Subjects, row.Stimuli = r.Targets, r.Stimuli
		row.Note = fmt.Sprintf("median over %d neurons of Spearman-Brown split-half r (%d splits, seed %d)", r.Targets, splits, seed)
	}
	rows = append(rows, row)
	return rows, nil
}

var nan = jsonFloat(math.NaN())

func rsaRow(path, dataset, region string, sh []int, d []float64) (ceilingRow, error) {
	subj, n, err := subjectUppers(path, sh, d)
	if err != nil {
		return ceilingRow{}, err
	}
	c, err := ceiling.RSACeiling(subj, rsa.Spearman)
	if err != nil {
		return ceilingRow{}, fmt.Errorf("%s: %w", path, err)
	}
	return ceilingRow{Dataset: dataset, Region: region, Kind: "rsa", Subjects: len(subj), Stimuli: n,
		Upper: jsonFloat(c.Upper), Lower: jsonFloat(c.Lower), UpperR2: jsonFloat(c.UpperR2), LowerR2: jsonFloat(c.LowerR2)}, nil
}

func printCeilings(w io.Writer, rows []ceilingRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tregion\tsubjects\tstimuli\tupper r\tlower r\tupper R²\tlower R²\tnote")
	f := func(v jsonFloat) string {
		if v != v {
			return "-"
		}
		return fmt.Sprintf("%.4f", float64(v))
	}
	for _, r := range rows {
		subj, stim := "-", "-"
		if r.Subjects > 0 {
			subj = fmt.Sprint(r.Subjects)
		}
		if r.Stimuli > 0 {
			stim = fmt.Sprint(r.Stimuli)
		}
		note := r.Note
		if r.Kind == "split-half" && r.Upper == r.Upper {
			subj += " neurons"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Dataset, r.Region, subj, stim, f(r.Upper), f(r.Lower), f(r.UpperR2), f(r.LowerR2), note)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRSA ceilings: Spearman between upper triangles; upper = vs mean of all subjects, lower = vs mean of the others (Nili et al. 2014); R² = mean of squared per-subject r.")
}
