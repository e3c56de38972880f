package leaderboard

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/cortexbench/cortexbench/leaderboard/apierr"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/modelcmp"
)

// FDRLevel is the false discovery rate at which a difference between two
// models is called significant: q < FDRLevel, with q the
// Benjamini–Hochberg adjusted p-value across all pairs of one benchmark.
const FDRLevel = 0.05

// ComparisonRule states what a model comparison tests, served with every
// comparison so the statistics are visible.
const ComparisonRule = "paired bootstrap over stimuli and subjects (both resampled with replacement, every model scored on the same resamples, on all stimuli with its reported layer); " +
	"two-sided p of 'difference = 0'; q = Benjamini–Hochberg adjusted p across all pairs of the benchmark; a difference is significant when q < 0.05. " +
	"RSA benchmarks only for now. On a private benchmark only the differences, intervals and p/q values are published, never data or RDMs"

// Comparer compares every pair of models on one benchmark: whether one
// model's score is reliably above another's. leaderboard/stores implements it
// over the stored model RDMs and the benchmark's subject RDMs.
//
// modelHashes are the models to compare, best ranked first; Compare keeps
// that order in Comparison.Models and orients each pair as (earlier,
// later). It returns an *Error with code ENOTFOUND for an unknown
// benchmark and EUNSUPPORTED for a benchmark whose metric it cannot
// compare (encoding benchmarks, for now). Fewer than two comparable models
// is not an error: the comparison has no pairs.
type Comparer interface {
	Compare(ctx context.Context, benchmarkID string, modelHashes []string) (*Comparison, error)
}

// Comparison is the outcome of comparing every pair of models on a
// benchmark.
type Comparison struct {
	BenchmarkID string
	Method      string // how scores were computed, e.g. "rsa (spearman)"
	Resamples   int    // bootstrap resamples drawn
	Failed      int    // resamples left out because a score was undefined there
	Seed        uint64 // of the resamples: the same seed gives the same result

	// Models are the models compared, in the order asked, with Scores[i]
	// the raw score of Models[i] on all stimuli (the bootstrap's
	// reference; it may differ from the leaderboard's held-out score).
	Models []string
	Scores []float64
	// Skipped are models asked for that could not be compared.
	Skipped []SkippedModel
	// Pairs lists every pair of Models, i < j, in row-major order.
	Pairs []ModelPair
}

// SkippedModel is a model left out of a comparison, and why.
type SkippedModel struct {
	Hash   string
	Reason string
}

// ModelPair compares models A and B (A before B in Comparison.Models):
// Diff = score(A) − score(B), its 95% bootstrap interval [Lower, Upper],
// the bootstrap p-value P and the BH-adjusted Q across the benchmark's
// pairs.
type ModelPair struct {
	A, B         string
	Diff         float64
	Lower, Upper float64
	P, Q         float64
}

// Significant reports whether the difference survives the false discovery
// rate control: Q < FDRLevel.
func (p ModelPair) Significant() bool { return p.Q < FDRLevel }

// The tests of a two-model comparison (CompareModels), one per benchmark
// row, named as they are served.
const (
	// TestPairedStimuli is the Comparer's paired bootstrap over stimuli
	// and subjects (RSA benchmarks with both models' RDMs stored).
	TestPairedStimuli = "paired bootstrap over stimuli"
	// TestPairedSplits is the corrected resampled t-test over the score's
	// seeded splits or folds, paired by split (both scores stored the
	// per-split values of the same splits).
	TestPairedSplits = "paired over splits"
	// TestUnpaired is the z-test of the difference from each score's SE,
	// as if the scores were independent: conservative, since two models
	// scored on the same stimuli are positively correlated.
	TestUnpaired = "unpaired from SEs"
	// TestNone: no test was possible (see the row's note).
	TestNone = "none"
)

// TwoModelRule states how CompareModels compares two models, served with
// every two-model comparison.
const TwoModelRule = "diff = B − A per benchmark, in ceiled units (raw / ceiling) when the benchmark has a ceiling and its ceiled score is the ratio, else in raw units. " +
	"Test per benchmark, the first that applies: '" + TestPairedStimuli + "' (RSA: the paired bootstrap of model comparisons, both models' raw scores on all stimuli with their reported layers, so its diff can differ from the difference of the listed held-out scores); " +
	"'" + TestPairedSplits + "' (both scores kept the per-split scores of the same seeded splits or folds: the corrected resampled t-test of Nadeau & Bengio 2003 on the per-split differences, variance × (1/K + test/selection share), " +
	"test/selection = 1 for held-out splits (the platform's default 50% selection share) and 1/(K−1) for K folds, t with K−1 df); " +
	"'" + TestUnpaired + "' (z of the difference of the scores over √(SE_A² + SE_B²); conservative). " +
	"q = Benjamini–Hochberg adjusted p across the benchmarks compared; a model wins a benchmark reliably when q < 0.05. " +
	"The mean difference is over the benchmarks compared in ceiled units; its 95% interval is ± 1.96 × the mean of the rows' SEs, which bounds the SE of the mean whatever the benchmarks' correlation (several share stimuli), so it is conservative. " +
	"A benchmark only one model has a score on is listed as not compared"

// ModelScoreOn is one model's score in a two-model comparison row: the
// ceiled score with its 95% interval when the benchmark has a ceiling
// (Units "ceiled"), else the raw score with its interval (Units "raw"),
// the layer reported and the SE.
type ModelScoreOn struct {
	Units               string
	Value, Lower, Upper float64
	SE                  float64
	Raw                 float64
	Layer               string
	Score               scoring.Score // the stored score (its profile, selection)
}

// BenchmarkDiff compares two models on one benchmark: Diff = B − A in
// Units, its 95% interval, the test's p and the BH-adjusted Q across
// the benchmarks compared; DiffSE is the difference's standard error (the
// bootstrap's from its interval). Test names the test (Test* constants);
// Note says why a paired test was not used, when it was not.
type BenchmarkDiff struct {
	Benchmark          BenchmarkInfo
	A, B               ModelScoreOn
	Units              string // "ceiled" or "raw": of Diff
	Test               string
	Note               string
	Diff, Lower, Upper float64
	DiffSE             float64
	P, Q               float64
}

// Reliable reports whether the difference survives the false discovery
// rate control across the benchmarks compared: Q < FDRLevel.
func (d BenchmarkDiff) Reliable() bool { return d.Test != TestNone && d.Q < FDRLevel }

// Winner is "A" or "B" when that model's score is reliably higher, else "".
func (d BenchmarkDiff) Winner() string {
	switch {
	case !d.Reliable():
		return ""
	case d.Diff > 0:
		return "B"
	case d.Diff < 0:
		return "A"
	}
	return ""
}

// NotCompared is a benchmark left out of a two-model comparison, and why
// (Has is "A", "B" or "" for the model that has a score there).
type NotCompared struct {
	Benchmark BenchmarkInfo
	Has       string
	Reason    string
}

// TwoModelSummary sums a two-model comparison up: the benchmarks each
// model wins reliably, and the mean difference B − A over the N
// benchmarks compared in ceiled units with its conservative 95% interval
// (± 1.96 × the mean of their SEs; NaN when N is 0).
type TwoModelSummary struct {
	Compared, AWins, BWins int
	N                      int
	MeanDiff, Lower, Upper float64
}

// TwoModelComparison is models A and B compared over every benchmark both
// have a score on.
type TwoModelComparison struct {
	A, B ModelInfo
	// Resamples and Seed of the paired bootstraps (0 when none ran).
	Resamples   int
	Seed        uint64
	Rows        []BenchmarkDiff // in benchmark order
	NotCompared []NotCompared
	Summary     TwoModelSummary
}

// ResolveModel finds a model by reference: its full id, a unique prefix
// of at least 8 hex digits of its id, or its name (exact, then
// case-insensitive; a name several entries share is ambiguous). An
// unknown reference is ENOTFOUND naming the closest model names; an
// ambiguous one ECONFLICT (as the API's id prefixes) naming the
// candidates' ids.
func (ix *Index) ResolveModel(ref string) (ModelInfo, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ModelInfo{}, Errorf(EINVALID, "empty model reference: give a model name, id or id prefix of at least 8 hex digits")
	}
	if m, ok := ix.Model(ref); ok {
		return m, nil
	}
	lower := strings.ToLower(ref)
	if len(lower) >= 8 && isHex(lower) {
		var found []ModelInfo
		for _, m := range ix.models {
			if strings.HasPrefix(m.Hash, lower) {
				found = append(found, m)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
		default:
			return ModelInfo{}, Errorf(apierr.ECONFLICT, "model id prefix %q is ambiguous: %s; give more digits", ref, describeModels(found))
		}
	}
	for _, fold := range []bool{false, true} {
		var found []ModelInfo
		for _, m := range ix.models {
			if m.Name == ref || (fold && strings.EqualFold(m.Name, ref)) {
				found = append(found, m)
			}
		}
		switch len(found) {
		case 1:
			return found[0], nil
		case 0:
			continue
		default:
			return ModelInfo{}, Errorf(apierr.ECONFLICT, "model name %q is ambiguous: %s; give an id (or a prefix of 8 or more hex digits)", ref, describeModels(found))
		}
	}
	msg := fmt.Sprintf("no model %q (by name, id or id prefix of at least 8 hex digits)", ref)
	if near := ix.closestModelNames(ref, 3); len(near) > 0 {
		msg += "; closest names: " + strings.Join(near, ", ")
	}
	return ModelInfo{}, Errorf(ENOTFOUND, "%s", msg)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func describeModels(ms []ModelInfo) string {
	var parts []string
	for i, m := range ms {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(ms)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", m.Name, m.Hash[:min(12, len(m.Hash))]))
	}
	return strings.Join(parts, ", ")
}

// closestModelNames returns up to k distinct model names closest to ref
// by edit distance (case-insensitive), nearest first.
func (ix *Index) closestModelNames(ref string, k int) []string {
	type cand struct {
		name string
		d    int
	}
	seen := map[string]bool{}
	var cs []cand
	r := strings.ToLower(ref)
	for _, m := range ix.models {
		if m.Name == "" || seen[m.Name] {
			continue
		}
		seen[m.Name] = true
		cs = append(cs, cand{m.Name, editDistance(r, strings.ToLower(m.Name))})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.d != b.d {
			return a.d - b.d
		}
		return strings.Compare(a.name, b.name)
	})
	var out []string
	for _, c := range cs[:min(k, len(cs))] {
		out = append(out, c.name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b (runes).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// CompareModels compares models a and b (hashes, see ResolveModel) over
// the benchmarks ids (every benchmark when empty; an unknown id is
// ENOTFOUND), by the rule TwoModelRule. cmp runs the paired bootstraps
// of RSA benchmarks (nil: none, the other tests are used). An error of
// cmp other than "unsupported" or "not found" ends the comparison.
func CompareModels(ctx context.Context, ix *Index, cmp Comparer, a, b string, ids []string) (*TwoModelComparison, error) {
	ma, ok := ix.Model(a)
	if !ok {
		return nil, Errorf(ENOTFOUND, "no model with id %s", a)
	}
	mb, ok := ix.Model(b)
	if !ok {
		return nil, Errorf(ENOTFOUND, "no model with id %s", b)
	}
	if a == b {
		return nil, Errorf(EINVALID, "both models are %s (%s): give two different models", ma.Name, a)
	}
	var bs []BenchmarkInfo
	if len(ids) == 0 {
		bs = ix.benchmarks
	} else {
		seen := map[string]bool{}
		for _, id := range ids {
			bi, ok := ix.Benchmark(id)
			if !ok {
				return nil, Errorf(ENOTFOUND, "no benchmark %q (list them with 'cortexbench benchmarks list' or /api/v1/benchmarks)", id)
			}
			if !seen[id] {
				seen[id] = true
				bs = append(bs, bi)
			}
		}
	}
	out := &TwoModelComparison{A: ma, B: mb, Rows: []BenchmarkDiff{}, NotCompared: []NotCompared{}}
	for _, bi := range bs {
		sa, okA := ix.Score(a, bi.ID)
		sb, okB := ix.Score(b, bi.ID)
		okA = okA && finite(sa.Raw)
		okB = okB && finite(sb.Raw)
		switch {
		case okA && okB:
		case okA:
			out.NotCompared = append(out.NotCompared, NotCompared{Benchmark: bi, Has: "A", Reason: "only " + ma.Name + " (A) has a score"})
			continue
		case okB:
			out.NotCompared = append(out.NotCompared, NotCompared{Benchmark: bi, Has: "B", Reason: "only " + mb.Name + " (B) has a score"})
			continue
		default:
			if len(ids) > 0 {
				out.NotCompared = append(out.NotCompared, NotCompared{Benchmark: bi, Reason: "neither model has a score"})
			}
			continue
		}
		row, err := compareOn(ctx, cmp, bi, sa, sb, out)
		if err != nil {
			return nil, err
		}
		out.Rows = append(out.Rows, row)
	}
	var ps []float64
	var at []int
	for i, r := range out.Rows {
		if r.Test != TestNone && finite(r.P) {
			ps = append(ps, r.P)
			at = append(at, i)
		}
	}
	for k, q := range modelcmp.BH(ps) {
		out.Rows[at[k]].Q = q
	}
	out.Summary = summarize(out.Rows)
	return out, nil
}

func summarize(rows []BenchmarkDiff) TwoModelSummary {
	s := TwoModelSummary{Compared: len(rows), MeanDiff: math.NaN(), Lower: math.NaN(), Upper: math.NaN()}
	var sum, se float64
	for _, r := range rows {
		switch r.Winner() {
		case "A":
			s.AWins++
		case "B":
			s.BWins++
		}
		if r.Units == "ceiled" && r.Test != TestNone && finite(r.Diff) && finite(r.DiffSE) {
			s.N++
			sum += r.Diff
			se += r.DiffSE
		}
	}
	if s.N > 0 {
		// SD(mean) ≤ mean of the SDs for any correlation between the
		// benchmarks (the triangle inequality of the L2 norm): benchmarks
		// over the same stimuli are not independent.
		n := float64(s.N)
		s.MeanDiff = sum / n
		h := z975 * se / n
		s.Lower, s.Upper = s.MeanDiff-h, s.MeanDiff+h
	}
	return s
}

// z975 is the standard normal's 97.5th percentile.
var z975 = distuv.UnitNormal.Quantile(0.975)

// scoreOn is a model's score in a comparison row.
func scoreOn(s scoring.Score) ModelScoreOn {
	c := CellOf(s)
	if c.Present {
		return ModelScoreOn{Units: "ceiled", Value: c.Ceiled, Lower: c.CeiledCILow, Upper: c.CeiledCIHi, SE: c.CeiledSE, Raw: s.Raw, Layer: s.Layer, Score: s}
	}
	return ModelScoreOn{Units: "raw", Value: s.Raw, Lower: s.CILow, Upper: s.CIHigh, SE: s.SE, Raw: s.Raw, Layer: s.Layer, Score: s}
}

// compareOn compares two scores on one benchmark by the first test that
// applies. Differences are computed in raw units and divided by the
// ceiling when the row is in ceiled units (the ratio is linear, so the
// interval and p carry over exactly).
func compareOn(ctx context.Context, cmp Comparer, bi BenchmarkInfo, sa, sb scoring.Score, out *TwoModelComparison) (BenchmarkDiff, error) {
	row := BenchmarkDiff{Benchmark: bi, A: scoreOn(sa), B: scoreOn(sb), Units: "raw", Test: TestNone,
		Diff: math.NaN(), Lower: math.NaN(), Upper: math.NaN(), DiffSE: math.NaN(), P: math.NaN(), Q: math.NaN()}
	scale := 1.0
	ratio := sa.Conventions.Transform == "" || sa.Conventions.Transform == "ratio"
	if row.A.Units == "ceiled" && row.B.Units == "ceiled" && ratio && sa.Conventions.Transform == sb.Conventions.Transform && sa.Ceiling == sb.Ceiling {
		row.Units, scale = "ceiled", 1/sa.Ceiling
	}
	var notes []string
	// 1. The paired bootstrap over stimuli.
	if cmp != nil {
		c, err := cmp.Compare(ctx, bi.ID, []string{sa.ModelHash, sb.ModelHash})
		switch code := ErrorCode(err); {
		case err == nil && len(c.Pairs) == 1:
			p := c.Pairs[0] // A − B
			row.Test = TestPairedStimuli
			row.Diff, row.Lower, row.Upper = -p.Diff*scale, -p.Upper*scale, -p.Lower*scale
			row.DiffSE = (row.Upper - row.Lower) / (2 * z975)
			row.P = p.P
			if len(c.Scores) == 2 {
				row.Note = fmt.Sprintf("the bootstrap's reference, raw on all stimuli: A %.4f, B %.4f", c.Scores[0], c.Scores[1])
			}
			out.Resamples, out.Seed = c.Resamples, c.Seed
			return row, nil
		case err == nil:
			for _, s := range c.Skipped {
				who := "A"
				if s.Hash == sb.ModelHash {
					who = "B"
				}
				notes = append(notes, fmt.Sprintf("no paired bootstrap: %s: %s", who, s.Reason))
			}
		case code == EUNSUPPORTED:
			// An encoding or other metric: the next test.
		case code == ENOTFOUND:
			notes = append(notes, "no paired bootstrap: "+ErrorMessage(err))
		default:
			return row, fmt.Errorf("compare %s and %s on %s: %w", sa.ModelHash, sb.ModelHash, bi.ID, err)
		}
	}
	// 2. Paired over the splits or folds.
	if d, k, r, why := splitDiffs(sa.SelectionData, sb.SelectionData); why == "" {
		mean, sd := meanSD(d)
		se := sd * math.Sqrt(1/float64(k)+r)
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(k - 1)}
		row.Test = TestPairedSplits
		row.Diff, row.DiffSE = mean*scale, se*scale
		h := t.Quantile(0.975) * se
		row.Lower, row.Upper = (mean-h)*scale, (mean+h)*scale
		switch {
		case se > 0:
			row.P = 2 * t.CDF(-math.Abs(mean)/se)
		case mean == 0:
			row.P = 1
		default:
			row.P = 0
		}
		row.Note = strings.Join(notes, "; ")
		return row, nil
	} else {
		notes = append(notes, "not paired over splits: "+why)
	}
	// 3. Unpaired, from the SEs.
	se := math.Hypot(sa.SE, sb.SE)
	row.Note = strings.Join(notes, "; ")
	if !finite(se) || se <= 0 {
		row.Note = strings.TrimPrefix(row.Note+"; no SE to test with", "; ")
		row.Diff = (sb.Raw - sa.Raw) * scale
		return row, nil
	}
	diff := sb.Raw - sa.Raw
	row.Test = TestUnpaired
	row.Diff, row.DiffSE = diff*scale, se*scale
	row.Lower, row.Upper = (diff-z975*se)*scale, (diff+z975*se)*scale
	row.P = 2 * distuv.UnitNormal.CDF(-math.Abs(diff)/se)
	return row, nil
}

// splitDiffs returns the per-split differences B − A of two scores' kept
// per-split values, the number of splits and the Nadeau–Bengio ratio of
// test to selection share; why says why they cannot be paired.
func splitDiffs(a, b scoring.Selection) (d []float64, k int, ratio float64, why string) {
	switch {
	case len(a.PerSplit) < 2 || len(b.PerSplit) < 2:
		return nil, 0, 0, "a score kept no per-split values"
	case a.Method != b.Method:
		return nil, 0, 0, fmt.Sprintf("the layers were chosen differently (%s, %s)", a.Method, b.Method)
	case len(a.PerSplit) != len(b.PerSplit) || a.Splits != b.Splits || a.Seed != b.Seed:
		return nil, 0, 0, fmt.Sprintf("different splits (%d splits seed %d, %d splits seed %d)", len(a.PerSplit), a.Seed, len(b.PerSplit), b.Seed)
	}
	k = len(a.PerSplit)
	switch a.Method {
	case scoring.HeldOutStimuli, scoring.HeldOutSessions:
		ratio = 1
	case scoring.CrossValidated:
		ratio = 1 / float64(k-1)
	default:
		return nil, 0, 0, fmt.Sprintf("selection %q has no splits to pair", a.Method)
	}
	d = make([]float64, k)
	for i := range d {
		d[i] = b.PerSplit[i] - a.PerSplit[i]
		if !finite(d[i]) {
			return nil, 0, 0, "a per-split value is not finite"
		}
	}
	return d, k, ratio, ""
}

func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}
