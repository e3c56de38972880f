package runner

import (
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// reliableT is the |t| a unit's mean response must exceed for
// FeaturesZScoreReliable: two-sided t test at about 5%.
const reliableT = 1.96

// unitStats says what feature handling did to one layer.
type unitStats struct {
	Units, Constant, Unreliable, Kept int
}

func (u unitStats) String() string {
	s := fmt.Sprintf("%d of %d units kept", u.Kept, u.Units)
	if u.Constant > 0 {
		s += fmt.Sprintf(", %d constant across the stimuli dropped", u.Constant)
	}
	if u.Unreliable > 0 {
		s += fmt.Sprintf(", %d without a reliably non-zero mean dropped", u.Unreliable)
	}
	return s
}

// handleUnits applies a benchmark's feature handling to x (stimuli ×
// units) before its RDM:
//
//   - benchmarks.FeaturesZScore: every unit (column) is centred on its
//     mean across the stimuli and divided by its population standard
//     deviation (numpy's std, ddof 0). A unit constant across the stimuli
//     (sd 0) has no z-score and is dropped.
//   - benchmarks.FeaturesZScoreReliable: first keeps only the units whose
//     mean response is reliably non-zero, |mean| / (s/√n) > 1.96 with s
//     the sample standard deviation (ddof 1): a two-sided one-sample t
//     test at about 5%, as Brain-Score selects units for such data; then
//     z-scores them as above.
//
// Means and deviations are taken in float64. The result has the kept
// units only, in order; it has no columns when none is kept (the layer
// then has no RDM). Any other mode is an error.
func handleUnits(x linalg.Matrix[float32], mode string) (linalg.Matrix[float64], unitStats, error) {
	st := unitStats{Units: x.Cols}
	if mode != benchmarks.FeaturesZScore && mode != benchmarks.FeaturesZScoreReliable {
		return linalg.Matrix[float64]{}, st, fmt.Errorf("%w: unknown feature handling %q (want %s or %s)", ErrInternal, mode, benchmarks.FeaturesZScore, benchmarks.FeaturesZScoreReliable)
	}
	n := x.Rows
	type unit struct {
		col       int
		mean, inv float64 // inv: 1 / population sd
	}
	var keep []unit
	for j := 0; j < x.Cols; j++ {
		var sum float64
		for i := 0; i < n; i++ {
			sum += float64(x.Data[i*x.Stride+j])
		}
		mean := sum / float64(n)
		var ss float64
		for i := 0; i < n; i++ {
			d := float64(x.Data[i*x.Stride+j]) - mean
			ss += d * d
		}
		if !(ss > 0) {
			st.Constant++
			continue
		}
		if mode == benchmarks.FeaturesZScoreReliable {
			if n < 2 {
				st.Unreliable++
				continue
			}
			sample := math.Sqrt(ss / float64(n-1))
			if !(math.Abs(mean)/(sample/math.Sqrt(float64(n))) > reliableT) {
				st.Unreliable++
				continue
			}
		}
		keep = append(keep, unit{col: j, mean: mean, inv: 1 / math.Sqrt(ss/float64(n))})
	}
	st.Kept = len(keep)
	out := linalg.NewMatrix[float64](n, len(keep))
	for i := 0; i < n; i++ {
		row := x.Data[i*x.Stride:]
		dst := out.Row(i)
		for k, u := range keep {
			dst[k] = (float64(row[u.col]) - u.mean) * u.inv
		}
	}
	return out, st, nil
}
