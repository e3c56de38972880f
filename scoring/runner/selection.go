package runner

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/cortexbench/cortexbench/scoring/stats"
)

// SplitPolicy says how stimuli are split for layer selection within one
// benchmark: Splits seeded random splits, each putting SelectFraction of
// the stimuli (per label, when labels are given) into the selection part
// and the rest into the test part.
type SplitPolicy struct {
	Splits         int
	SelectFraction float64
	Seed           uint64
}

// DefaultSplitPolicy is used when a benchmark names none.
var DefaultSplitPolicy = SplitPolicy{Splits: 10, SelectFraction: 0.5, Seed: 1}

// Validate reports a policy that cannot produce two non-trivial parts.
func (p SplitPolicy) Validate() error {
	if p.Splits < 1 {
		return fmt.Errorf("split policy: %d splits, need at least 1", p.Splits)
	}
	if !(p.SelectFraction > 0 && p.SelectFraction < 1) {
		return fmt.Errorf("split policy: selection fraction %g must be in (0, 1)", p.SelectFraction)
	}
	return nil
}

// Split is one partition of the stimuli into a selection and a test part.
type Split struct {
	Select, Test []int // stimulus indices, ascending
}

// MakeSplits draws the policy's seeded splits of n stimuli. With labels (one
// per stimulus) each label's stimuli are split separately so both parts keep
// the category proportions. Every part has at least minPart stimuli.
func MakeSplits(n int, labels []string, p SplitPolicy, minPart int) ([]Split, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("splits: %d labels for %d stimuli", len(labels), n)
	}
	groups := map[string][]int{}
	var order []string
	for i := 0; i < n; i++ {
		l := ""
		if labels != nil {
			l = labels[i]
		}
		if _, ok := groups[l]; !ok {
			order = append(order, l)
		}
		groups[l] = append(groups[l], i)
	}
	r := rand.New(rand.NewPCG(p.Seed, 0x5e1ec7))
	out := make([]Split, p.Splits)
	for s := range out {
		var sel, test []int
		for _, l := range order {
			g := slices.Clone(groups[l])
			r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
			k := int(math.Round(p.SelectFraction * float64(len(g))))
			if len(g) >= 2 {
				k = min(max(k, 1), len(g)-1)
			}
			sel = append(sel, g[:k]...)
			test = append(test, g[k:]...)
		}
		slices.Sort(sel)
		slices.Sort(test)
		if len(sel) < minPart || len(test) < minPart {
			return nil, fmt.Errorf("splits: %d stimuli give parts of %d and %d, need at least %d each", n, len(sel), len(test), minPart)
		}
		out[s] = Split{Select: sel, Test: test}
	}
	return out, nil
}

// Evaluator scores layers on subsets of a benchmark's stimuli.
type Evaluator interface {
	// Subset prepares scoring on the given stimuli (ascending indices).
	Subset(idx []int) (SubsetScorer, error)
}

// SubsetScorer scores every layer, and the ceiling, on one stimulus subset.
type SubsetScorer interface {
	Score(layer int) (float64, error)
	Ceiling() (float64, error) // NaN when the benchmark has no ceiling
}

// Selection is the outcome of choosing a layer on held-out data.
type Selection struct {
	Layer    int     // the layer chosen most often over splits (ties: the shallower)
	Raw      float64 // mean over splits of the test-part score of the layer chosen on that split's selection part
	SE       float64 // standard error of Raw over splits (0 with one split)
	Ceiling  float64 // mean over splits of the ceiling on the test parts
	PerSplit []float64
	Chosen   []int // the layer chosen on each split
}

// ErrNoLayer is returned when no candidate layer gives a finite score.
var ErrNoLayer = errors.New("no candidate layer has a finite score")

// SelectHeldOut chooses, on each split, the candidate layer with the best
// score on the selection part and reports that layer's score on the disjoint
// test part, so the reported number never comes from the data the layer was
// chosen on. candidates are layer indices passed to the scorer.
func SelectHeldOut(ev Evaluator, splits []Split, candidates []int) (Selection, error) {
	return selectHeldOut(ev, splits, candidates, nil)
}

// selectHeldOut is SelectHeldOut, the time spent on ceilings counted to t
// (nil: not counted). The parts are scored in parallel (parallelFor), so
// ev's subsets and scorers must be safe for concurrent use; the ceilings
// are computed after every part's layer scores, and the first error is
// the one a loop over the splits in order would meet first.
func selectHeldOut(ev Evaluator, splits []Split, candidates []int, t *timings) (Selection, error) {
	if len(candidates) == 0 {
		return Selection{}, fmt.Errorf("select layer: %w: no candidates", ErrNoLayer)
	}
	// parts[2s] is split s's selection part, parts[2s+1] its test part.
	type part struct {
		sc      SubsetScorer
		row     []float64
		ceil    float64
		err     error // of the subset or its layer scores
		ceilErr error
	}
	parts := make([]part, 2*len(splits))
	parallelFor(len(parts), func(i int) {
		p := &parts[i]
		idx := splits[i/2].Select
		if i%2 == 1 {
			idx = splits[i/2].Test
		}
		if p.sc, p.err = ev.Subset(idx); p.err != nil {
			return
		}
		p.row = make([]float64, len(candidates))
		for k, l := range candidates {
			var err error
			if p.row[k], err = p.sc.Score(l); err != nil {
				p.err = fmt.Errorf("layer %d: %w", l, err)
				return
			}
		}
	})
	start := time.Now()
	parallelFor(len(splits), func(s int) {
		p := &parts[2*s+1]
		if p.err != nil {
			return
		}
		if c, err := p.sc.Ceiling(); err != nil {
			p.ceilErr = fmt.Errorf("ceiling: %w", err)
		} else {
			p.ceil = c
		}
	})
	t.add(stageCeilings, start)
	tb, err := fillTable(splits, func(s int, _ []int, test bool) ([]float64, float64, error) {
		if !test {
			return parts[2*s].row, 0, parts[2*s].err
		}
		p := parts[2*s+1]
		if p.err != nil {
			return nil, 0, p.err
		}
		return p.row, p.ceil, p.ceilErr
	})
	if err != nil {
		return Selection{}, err
	}
	sel, err := tb.Select1()
	if err != nil {
		return Selection{}, err
	}
	sel.Layer = candidates[sel.Layer]
	for i, c := range sel.Chosen {
		sel.Chosen[i] = candidates[c]
	}
	return sel, nil
}

// Table holds, for every split and candidate layer, the layer's score on
// the selection part and on the test part, and the ceiling on each test
// part. Filling it is the expensive part; choosing from it is cheap.
type Table struct {
	Select, Test [][]float64 // [split][candidate]
	Ceiling      []float64   // [split]; NaN when there is none
}

// fillTable is the one way a selection Table is filled: for every split
// in order, row(split, part, test) scores the candidates on the selection
// part (test false), then on the test part (test true, where it also
// returns the part's ceiling, NaN for none). Rows may come from results
// computed earlier (indexed by split) or be computed from the part's
// stimuli; a test row may leave NaN every candidate but the one chosen on
// the selection part (splitTable).
func fillTable(splits []Split, row func(split int, part []int, test bool) ([]float64, float64, error)) (Table, error) {
	t := Table{Select: make([][]float64, len(splits)), Test: make([][]float64, len(splits)), Ceiling: make([]float64, len(splits))}
	for s, sp := range splits {
		var err error
		if t.Select[s], _, err = row(s, sp.Select, false); err != nil {
			return Table{}, fmt.Errorf("split %d selection part: %w", s, err)
		}
		if t.Test[s], t.Ceiling[s], err = row(s, sp.Test, true); err != nil {
			return Table{}, fmt.Errorf("split %d test part: %w", s, err)
		}
	}
	return t, nil
}

// Select1 chooses, per split, the candidate with the best selection-part
// score and reports its test-part score (see SelectHeldOut). Layer and
// Chosen are candidate positions.
func (t Table) Select1() (Selection, error) {
	var sel Selection
	votes := map[int]int{}
	var ceil []float64
	for s := range t.Select {
		best, bestV := -1, math.Inf(-1)
		for k, v := range t.Select[s] {
			if !math.IsNaN(v) && v > bestV {
				best, bestV = k, v
			}
		}
		if best < 0 {
			return Selection{}, fmt.Errorf("split %d: %w", s, ErrNoLayer)
		}
		sel.PerSplit = append(sel.PerSplit, t.Test[s][best])
		sel.Chosen = append(sel.Chosen, best)
		votes[best]++
		ceil = append(ceil, t.Ceiling[s])
	}
	if len(sel.PerSplit) == 0 {
		return Selection{}, fmt.Errorf("select layer: no splits")
	}
	sel.Raw, sel.SE = MeanSE(sel.PerSplit)
	sel.Ceiling = stats.Mean(ceil)
	sel.Layer = -1
	for k := range t.Select[0] {
		if votes[k] > 0 && (sel.Layer < 0 || votes[k] > votes[sel.Layer]) {
			sel.Layer = k
		}
	}
	return sel, nil
}

// MeanSE returns the mean of x and its standard error (stats.StdErr), the
// SE being 0 for a single value rather than undefined.
func MeanSE(x []float64) (mean, se float64) {
	mean = stats.Mean(x)
	if len(x) == 1 {
		return mean, 0
	}
	return mean, stats.StdErr(x)
}
