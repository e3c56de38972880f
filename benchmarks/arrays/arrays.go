// Package arrays reads the scoring math's inputs from .npy files, checked
// (full or upper-triangle RDMs, subjects' RDMs, repeated responses), and
// computes the noise ceilings of the shared datasets straight from their
// files.
package arrays

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// ErrInvalid marks a file whose content is not what the computation needs
// (wrong shape, an RDM that is not one): the user's input, not a failure.
var ErrInvalid = errors.New("bad input")

// num renders NaN as null, which JSON has no number for.
type num float64

func (f num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// Shape renders an array shape as numpy does: (2, 3).
func Shape(s []int) string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(p, ", ") + ")"
}

// ReadRDMVector reads a full n×n RDM (validated with rdm.Check) or a 1-D
// upper-triangle vector and returns the vector.
func ReadRDMVector(path string) ([]float64, error) {
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
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
		}
		return rdm.Upper(a.Shape[0], d), nil
	}
	return nil, fmt.Errorf("%w: %s has shape %s; want a square n×n RDM or a 1-D upper-triangle vector", ErrInvalid, path, Shape(a.Shape))
}

// ReadSubjectRDMs reads subjects × n × n RDMs, or subjects × sessions × n × n
// (sessions averaged per subject), checks each RDM, and returns one
// upper-triangle vector per subject.
func ReadSubjectRDMs(path string) ([][]float64, int, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, 0, err
	}
	sh := a.Shape
	if !(len(sh) == 3 || len(sh) == 4) || sh[len(sh)-1] != sh[len(sh)-2] {
		return nil, 0, fmt.Errorf("%w: %s has shape %s; want subjects × n × n or subjects × sessions × n × n", ErrInvalid, path, Shape(sh))
	}
	return SubjectUppers(path, sh, a.Float64())
}

func SubjectUppers(path string, sh []int, d []float64) ([][]float64, int, error) {
	n := sh[len(sh)-1]
	s, sess := sh[0], 1
	if len(sh) == 4 {
		sess = sh[1]
	}
	if sess < 1 {
		return nil, 0, fmt.Errorf("%w: %s has no sessions", ErrInvalid, path)
	}
	out := make([][]float64, s)
	mean := make([]float64, n*n)
	for i := range out {
		clear(mean)
		for k := 0; k < sess; k++ {
			m := d[(i*sess+k)*n*n:][:n*n]
			if err := rdm.Check(n, m); err != nil {
				if sess > 1 {
					return nil, 0, fmt.Errorf("%w: %s subject %d session %d: %w", ErrInvalid, path, i, k, err)
				}
				return nil, 0, fmt.Errorf("%w: %s subject %d: %w", ErrInvalid, path, i, err)
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

// MedianFinite is the median of the finite values of x (NaN if none).
func MedianFinite(x []float64) float64 {
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

func ReadResponses(path string) (ceiling.Responses, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return ceiling.Responses{}, err
	}
	if len(a.Shape) != 3 {
		return ceiling.Responses{}, fmt.Errorf("%w: %s has shape %s; want targets × stimuli × repeats (NaN where a stimulus had fewer repeats)", ErrInvalid, path, Shape(a.Shape))
	}
	return ceiling.Responses{Targets: a.Shape[0], Stimuli: a.Shape[1], Repeats: a.Shape[2], Data: a.Float64()}, nil
}

// Ceiling is the noise ceiling of one dataset and region (NaN where
// undefined; null in JSON).
type Ceiling struct {
	Dataset  string `json:"dataset"`
	Region   string `json:"region"`
	Kind     string `json:"kind"` // "rsa" or "split-half"
	Subjects int    `json:"subjects,omitempty"`
	Stimuli  int    `json:"stimuli,omitempty"`
	Upper    num    `json:"upper"`
	Lower    num    `json:"lower"`
	UpperR2  num    `json:"upper_r2"`
	LowerR2  num    `json:"lower_r2"`
	Note     string `json:"note,omitempty"`
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

// DatasetCeilings computes the noise ceiling of every shared dataset in
// dir (RSA ceilings with Spearman; split-half reliability of responses
// with splits seeded halves); a missing file is a row that says so.
func DatasetCeilings(ctx context.Context, dir string, splits int, seed uint64) ([]Ceiling, error) {
	var rows []Ceiling
	for _, s := range rsaSets {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := filepath.Join(dir, s.file)
		a, err := npy.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			rows = append(rows, Ceiling{Dataset: s.dataset, Region: s.region, Kind: "rsa", Note: "missing: " + s.file, Upper: nan, Lower: nan, UpperR2: nan, LowerR2: nan})
			continue
		}
		if err != nil {
			return nil, err
		}
		sh := a.Shape
		if !(len(sh) == 3 || len(sh) == 4) || sh[len(sh)-1] != sh[len(sh)-2] {
			return nil, fmt.Errorf("%w: %s has shape %s", ErrInvalid, path, Shape(sh))
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
		row := Ceiling{Dataset: g.dataset, Region: g.region, Kind: "rsa", Note: "no ceiling: group RDM only", Upper: nan, Lower: nan, UpperR2: nan, LowerR2: nan}
		if a, err := npy.ReadFile(filepath.Join(dir, g.file)); err == nil && len(a.Shape) == 2 {
			row.Stimuli = a.Shape[0]
		}
		rows = append(rows, row)
	}
	row := Ceiling{Dataset: "cowley2023-v4", Region: "V4 (session 210325)", Kind: "split-half", Upper: nan, Lower: nan, UpperR2: nan, LowerR2: nan}
	r, err := ReadResponses(filepath.Join(dir, cowleyRaw))
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
		med := MedianFinite(per)
		row.Upper = num(med)
		row.Subjects, row.Stimuli = r.Targets, r.Stimuli
		row.Note = fmt.Sprintf("median over %d neurons of Spearman-Brown split-half r (%d splits, seed %d)", r.Targets, splits, seed)
	}
	rows = append(rows, row)
	return rows, nil
}

var nan = num(math.NaN())

func rsaRow(path, dataset, region string, sh []int, d []float64) (Ceiling, error) {
	subj, n, err := SubjectUppers(path, sh, d)
	if err != nil {
		return Ceiling{}, err
	}
	c, err := ceiling.RSACeiling(subj, rsa.Spearman)
	if err != nil {
		return Ceiling{}, fmt.Errorf("%s: %w", path, err)
	}
	return Ceiling{Dataset: dataset, Region: region, Kind: "rsa", Subjects: len(subj), Stimuli: n,
		Upper: num(c.Upper), Lower: num(c.Lower), UpperR2: num(c.UpperR2), LowerR2: num(c.LowerR2)}, nil
}

// PrintCeilings writes the ceilings as a table.
func PrintCeilings(w io.Writer, rows []Ceiling) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "dataset\tregion\tsubjects\tstimuli\tupper r\tlower r\tupper R²\tlower R²\tnote")
	f := func(v num) string {
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
	fmt.Fprintln(w, "\nRSA ceilings: Spearman between upper triangles; upper = vs mean of all subjects, lower = vs mean of the others (Nili et al. 2014; with plain means it is also the leave-one-subject-out ceiling of Brain-Score and the Algonauts authors); R² = mean of squared per-subject r. "+
		"Which one a benchmark's scores divide by is its ceiling.bound: see 'cortexbench benchmarks show ID'.")
}
