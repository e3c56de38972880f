package leaderboard

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
)

// Filter narrows a leaderboard. Regions, Species and Methods select
// benchmarks (and so the columns and what is averaged); Families selects
// models. An empty list selects everything; values match case-insensitively.
// Coverage is CoverageAll ("" means the same) or CoverageCommon, which
// further keeps only the ceiled benchmarks every listed model is scored
// on, so that every average is over the same benchmarks (issue 17).
type Filter struct {
	Regions  []string
	Species  []string
	Methods  []string
	Families []string
	Coverage string
}

// The values Filter.Coverage may take.
const (
	CoverageAll    = "all"    // every selected benchmark; partial rows ranked in their own block
	CoverageCommon = "common" // only the ceiled benchmarks every listed model has
)

// common reports whether f restricts the columns to the common benchmarks.
func (f Filter) common() bool { return strings.EqualFold(f.Coverage, CoverageCommon) }

// IsZero reports whether the filter selects everything.
func (f Filter) IsZero() bool {
	return len(f.Regions)+len(f.Species)+len(f.Methods)+len(f.Families) == 0 && !f.common()
}

// Key is a canonical string for f: filters selecting the same things have
// the same key, so it can key a cache.
func (f Filter) Key() string {
	norm := func(v []string) string {
		c := make([]string, len(v))
		for i, s := range v {
			c[i] = strings.ToLower(s)
		}
		slices.Sort(c)
		return strings.Join(slices.Compact(c), ",")
	}
	k := "region=" + norm(f.Regions) + "&species=" + norm(f.Species) +
		"&method=" + norm(f.Methods) + "&family=" + norm(f.Families)
	if f.common() {
		k += "&coverage=" + CoverageCommon
	}
	return k
}

func matches(set []string, v string) bool {
	if len(set) == 0 {
		return true
	}
	for _, s := range set {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

func (f Filter) benchmark(b BenchmarkInfo) bool {
	return matches(f.Regions, b.Region) && matches(f.Species, b.Species) && matches(f.Methods, b.Method)
}

// Facets are the values a filter may take, sorted.
type Facets struct {
	Regions, Species, Methods, Families []string
}

// Cell is one model's result on one benchmark. Present is false when the
// score is missing; the numbers are then zero.
type Cell struct {
	Present     bool
	Ceiled      float64
	CeiledSE    float64 // SE / Ceiling (see CellOf for other transforms)
	CeiledCILow float64 // CILow / Ceiling, or its transform
	CeiledCIHi  float64 // CIHigh / Ceiling, or its transform
	Raw         float64
	SE          float64
	CILow       float64
	CIHigh      float64
	Ceiling     float64
	Layer       string
}

// ParentMean is a model's mean over the benchmarks of one parent it is
// scored on, with its standard error and 95% interval (see the package
// comment, "Intervals"). Mean, SE and CI are NaN when the model has no
// score in the parent.
type ParentMean struct {
	Parent string
	Mean   float64
	SE     float64
	CI     [2]float64 // [low, high]
	Scored int        // ceiled benchmarks with a score
	Total  int        // ceiled benchmarks in the parent
}

// Coverage counts a row's ceiled benchmarks: those it has a score on, of
// all the leaderboard's.
type Coverage struct {
	Scored, Total int
}

// Separation says whether a row's average differs reliably from the next
// row's (see the package comment, "Neighbours").
type Separation int8

const (
	// Unseparated: the last row, a next row averaged over other
	// benchmarks (the other block, or another partial coverage), or an
	// interval that cannot be computed (a score without an SE).
	Unseparated Separation = iota
	// Differs: the 95% interval of the difference excludes 0.
	Differs
	// Overlaps: it does not; the two rows' order is not reliable.
	Overlaps
)

// Row is one model's line in a leaderboard.
type Row struct {
	Rank  int
	Model ModelInfo
	// Average is the mean of the ParentMeans the model has a score in;
	// AverageSE its standard error and AverageCI its 95% interval.
	Average     float64
	AverageSE   float64
	AverageCI   [2]float64   // [low, high]
	Coverage    Coverage     // ceiled benchmarks scored, of the leaderboard's
	ParentMeans []ParentMean // in Leaderboard.Parents order
	Cells       []Cell       // in Leaderboard.Benchmarks order
	Missing     []string     // ids of ceiled benchmarks without a score
	Next        Separation   // how Average compares with the next row's
}

// Complete reports whether the model has a score on every benchmark.
func (r Row) Complete() bool { return len(r.Missing) == 0 }

// Partial reports whether the model misses a ceiled benchmark: it is then
// ranked in the partial block, after every complete row.
func (r Row) Partial() bool { return len(r.Missing) > 0 }

// Leaderboard is a ranked table.
type Leaderboard struct {
	Filter     Filter
	Benchmarks []BenchmarkInfo // columns, sorted by parent then id
	Parents    []string        // sorted
	// Rows: the complete rows by rank, then name, then hash; then the
	// partial rows, ranked among themselves the same way, their ranks
	// following on from the complete block's.
	Rows []Row
	// Excluded are the benchmarks the filter selects but Coverage
	// "common" left out, because some listed model has no score on them
	// (or they have no ceiling), sorted by parent then id.
	Excluded []string
	Facets   Facets // every value the filters may take
}

// Index holds the source's content, with scores resolved to one per
// (model, benchmark). Build it once per change and rank from it many times.
type Index struct {
	models     []ModelInfo // sorted by hash
	modelByKey map[string]int
	benchmarks []BenchmarkInfo // sorted by parent, id
	benchByID  map[string]int
	scores     map[[2]string]scoring.Score // (model hash, benchmark id) → current score
	// cells[m*len(benchmarks)+b] is CellOf the current score of models[m]
	// on benchmarks[b] (the zero Cell when there is none), so Rank reads
	// a table instead of hashing two strings per cell (issue 15).
	cells  []Cell
	facets Facets
}

// Load reads src whole and indexes it.
func Load(ctx context.Context, src Source) (*Index, error) {
	models, err := src.Models(ctx)
	if err != nil {
		return nil, fmt.Errorf("load models: %w", err)
	}
	benchmarks, err := src.Benchmarks(ctx)
	if err != nil {
		return nil, fmt.Errorf("load benchmarks: %w", err)
	}
	scores, err := src.Scores(ctx)
	if err != nil {
		return nil, fmt.Errorf("load scores: %w", err)
	}
	return NewIndex(models, benchmarks, scores), nil
}

// NewIndex indexes the given records; its inputs are not modified.
//
// Of several scores for a (model, benchmark) pair, only those for the
// benchmark's current Version count (all, when the benchmark has no
// version), and of those the newest by CreatedAt. Scores for unknown
// benchmarks are ignored; a score for an unknown model adds a model named
// after the score.
func NewIndex(models []ModelInfo, benchmarks []BenchmarkInfo, scores []scoring.Score) *Index {
	ix := &Index{
		modelByKey: make(map[string]int),
		benchByID:  make(map[string]int),
		scores:     make(map[[2]string]scoring.Score),
	}
	ix.benchmarks = slices.Clone(benchmarks)
	sort.SliceStable(ix.benchmarks, func(i, j int) bool {
		a, b := ix.benchmarks[i], ix.benchmarks[j]
		if a.Group() != b.Group() {
			return a.Group() < b.Group()
		}
		return a.ID < b.ID
	})
	for i, b := range ix.benchmarks {
		ix.benchByID[b.ID] = i
	}
	seen := make(map[string]bool)
	for _, m := range models {
		if !seen[m.Hash] {
			seen[m.Hash] = true
			ix.models = append(ix.models, m)
		}
	}
	for _, s := range scores {
		bi, ok := ix.benchByID[s.BenchmarkID]
		if !ok {
			continue
		}
		if v := ix.benchmarks[bi].Version; v != "" && s.BenchmarkVersion != v {
			continue
		}
		if !seen[s.ModelHash] {
			seen[s.ModelHash] = true
			ix.models = append(ix.models, ModelInfo{Hash: s.ModelHash, Name: s.ModelName})
		}
		k := [2]string{s.ModelHash, s.BenchmarkID}
		if old, ok := ix.scores[k]; !ok || s.CreatedAt.After(old.CreatedAt) {
			ix.scores[k] = s
		}
	}
	sort.Slice(ix.models, func(i, j int) bool { return ix.models[i].Hash < ix.models[j].Hash })
	for i, m := range ix.models {
		ix.modelByKey[m.Hash] = i
	}
	ix.cells = make([]Cell, len(ix.models)*len(ix.benchmarks))
	for k, s := range ix.scores {
		ix.cells[ix.modelByKey[k[0]]*len(ix.benchmarks)+ix.benchByID[k[1]]] = CellOf(s)
	}
	var f Facets
	for _, b := range ix.benchmarks {
		f.Regions = append(f.Regions, b.Region)
		f.Species = append(f.Species, b.Species)
		f.Methods = append(f.Methods, b.Method)
	}
	for _, m := range ix.models {
		f.Families = append(f.Families, m.Family)
	}
	for _, p := range []*[]string{&f.Regions, &f.Species, &f.Methods, &f.Families} {
		*p = slices.DeleteFunc(*p, func(s string) bool { return s == "" })
		slices.Sort(*p)
		*p = slices.Compact(*p)
	}
	ix.facets = f
	return ix
}

// Facets returns the values each filter may take.
func (ix *Index) Facets() Facets { return ix.facets }

// Models returns every model, sorted by hash. The slice must not be modified.
func (ix *Index) Models() []ModelInfo { return ix.models }

// Benchmarks returns every benchmark, sorted by parent then id. The slice
// must not be modified.
func (ix *Index) Benchmarks() []BenchmarkInfo { return ix.benchmarks }

// Model returns the model with the given hash.
func (ix *Index) Model(hash string) (ModelInfo, bool) {
	i, ok := ix.modelByKey[hash]
	if !ok {
		return ModelInfo{}, false
	}
	return ix.models[i], true
}

// Benchmark returns the benchmark with the given id.
func (ix *Index) Benchmark(id string) (BenchmarkInfo, bool) {
	i, ok := ix.benchByID[id]
	if !ok {
		return BenchmarkInfo{}, false
	}
	return ix.benchmarks[i], true
}

// Score returns the current score of a model on a benchmark.
func (ix *Index) Score(modelHash, benchmarkID string) (scoring.Score, bool) {
	s, ok := ix.scores[[2]string{modelHash, benchmarkID}]
	return s, ok
}

// CheckFilter returns an EINVALID error naming the first value of f that
// matches nothing, with the values that would.
func (ix *Index) CheckFilter(f Filter) error {
	for _, c := range []struct {
		name        string
		vals, known []string
	}{
		{"region", f.Regions, ix.facets.Regions},
		{"species", f.Species, ix.facets.Species},
		{"method", f.Methods, ix.facets.Methods},
		{"family", f.Families, ix.facets.Families},
	} {
		for _, v := range c.vals {
			if !slices.ContainsFunc(c.known, func(k string) bool { return strings.EqualFold(k, v) }) {
				return Errorf(EINVALID, "unknown %s %q; known values: %s", c.name, v, strings.Join(c.known, ", "))
			}
		}
	}
	if f.Coverage != "" && !strings.EqualFold(f.Coverage, CoverageAll) && !f.common() {
		return Errorf(EINVALID, "unknown coverage %q; want %q (every selected benchmark, the default) or %q (only those every listed model is scored on)",
			f.Coverage, CoverageAll, CoverageCommon)
	}
	return nil
}

// CellOf returns the leaderboard cell for a score; a score without a finite
// ceiled value is missing.
func CellOf(s scoring.Score) Cell {
	if !finite(s.Ceiled) || !finite(s.Ceiling) || s.Ceiling == 0 {
		return Cell{}
	}
	t := ceiling.Transform(s.Conventions.Transform)
	return Cell{
		Present:     true,
		Ceiled:      s.Ceiled,
		CeiledSE:    ceiledSE(s, t),
		CeiledCILow: ceiling.Apply(s.CILow, s.Ceiling, t),
		CeiledCIHi:  ceiling.Apply(s.CIHigh, s.Ceiling, t),
		Raw:         s.Raw,
		SE:          s.SE,
		CILow:       s.CILow,
		CIHigh:      s.CIHigh,
		Ceiling:     s.Ceiling,
		Layer:       s.Layer,
	}
}

// ceiledSE is the SE of the ceiled score: SE / Ceiling for the ratio;
// for squared-clipped, (r/c)² with the ratio clipped to [0, 1], the delta
// method's 2·(r/c)·SE/c at the clipped ratio (0 where the ratio is
// clipped at 0). The interval's ends are transformed exactly (the
// transform is monotone), so it may be asymmetric around Ceiled.
func ceiledSE(s scoring.Score, t ceiling.Transform) float64 {
	if t != ceiling.TransformSquaredClipped {
		return s.SE / s.Ceiling
	}
	v := max(0, min(1, s.Raw/s.Ceiling))
	return 2 * v * s.SE / s.Ceiling
}

// Ranked reports whether the benchmark enters the average: only
// benchmarks with a noise ceiling do (see UnceiledRule).
func (b BenchmarkInfo) Ranked() bool { return finite(b.Ceiling) && b.Ceiling > 0 }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// z95 is the standard normal's 97.5th percentile: a 95% interval is the
// estimate ± z95 standard errors.
const z95 = 1.959963984540054

// Rank builds the leaderboard for f by the rule in the package comment.
// It does not check f's values; see CheckFilter.
func (ix *Index) Rank(f Filter) *Leaderboard {
	lb := &Leaderboard{Filter: f, Facets: ix.facets}
	nb := len(ix.benchmarks)
	var pos []int // of lb.Benchmarks in ix.benchmarks
	for j, b := range ix.benchmarks {
		if f.benchmark(b) {
			pos = append(pos, j)
		}
	}
	// The listed models: in the family filter, with a score on a
	// selected ceiled benchmark.
	var listed []int
	for mi, m := range ix.models {
		if !matches(f.Families, m.Family) {
			continue
		}
		cells := ix.cells[mi*nb : (mi+1)*nb]
		if slices.ContainsFunc(pos, func(j int) bool { return cells[j].Present && ix.benchmarks[j].Ranked() }) {
			listed = append(listed, mi)
		}
	}
	if f.common() {
		pos = slices.DeleteFunc(pos, func(j int) bool {
			drop := !ix.benchmarks[j].Ranked() || slices.ContainsFunc(listed, func(mi int) bool { return !ix.cells[mi*nb+j].Present })
			if drop {
				lb.Excluded = append(lb.Excluded, ix.benchmarks[j].ID)
			}
			return drop
		})
	}
	for _, j := range pos {
		lb.Benchmarks = append(lb.Benchmarks, ix.benchmarks[j])
	}
	// Parents in benchmark order; the benchmarks are sorted by group.
	var groupOf []int
	for _, b := range lb.Benchmarks {
		if n := len(lb.Parents); n == 0 || lb.Parents[n-1] != b.Group() {
			lb.Parents = append(lb.Parents, b.Group())
		}
		groupOf = append(groupOf, len(lb.Parents)-1)
	}
	variance := make([]float64, len(lb.Parents))
	complete, partial := make([]Row, 0, len(listed)), []Row(nil)
	for _, mi := range listed {
		cells := ix.cells[mi*nb : (mi+1)*nb]
		row := Row{Model: ix.models[mi], Cells: make([]Cell, len(lb.Benchmarks)), ParentMeans: make([]ParentMean, len(lb.Parents))}
		for i, p := range lb.Parents {
			row.ParentMeans[i].Parent = p
			variance[i] = 0
		}
		for i, b := range lb.Benchmarks {
			row.Cells[i] = cells[pos[i]]
			if !b.Ranked() {
				continue
			}
			pm := &row.ParentMeans[groupOf[i]]
			pm.Total++
			row.Coverage.Total++
			if !row.Cells[i].Present {
				row.Missing = append(row.Missing, b.ID)
				continue
			}
			row.Coverage.Scored++
			pm.Scored++
			pm.Mean += row.Cells[i].Ceiled
			variance[groupOf[i]] += row.Cells[i].CeiledSE * row.Cells[i].CeiledSE
		}
		if row.Coverage.Scored == 0 {
			continue // coverage "common" left none of its scores
		}
		groups, avgVar := 0, 0.0
		for i := range row.ParentMeans {
			pm := &row.ParentMeans[i]
			if pm.Scored == 0 {
				pm.Mean, pm.SE = math.NaN(), math.NaN()
				pm.CI = [2]float64{math.NaN(), math.NaN()}
				continue
			}
			n := float64(pm.Scored)
			pm.Mean /= n
			pm.SE = math.Sqrt(variance[i]) / n
			pm.CI = [2]float64{pm.Mean - z95*pm.SE, pm.Mean + z95*pm.SE}
			row.Average += pm.Mean
			avgVar += pm.SE * pm.SE
			groups++
		}
		g := float64(groups)
		row.Average /= g
		row.AverageSE = math.Sqrt(avgVar) / g
		row.AverageCI = [2]float64{row.Average - z95*row.AverageSE, row.Average + z95*row.AverageSE}
		if row.Partial() {
			partial = append(partial, row)
		} else {
			complete = append(complete, row)
		}
	}
	rankRows(complete)
	rankRows(partial)
	for i := range partial {
		partial[i].Rank += len(complete)
	}
	lb.Rows = append(complete, partial...) // complete has room for all
	for i := 0; i+1 < len(lb.Rows); i++ {
		lb.Rows[i].Next = separation(&lb.Rows[i], &lb.Rows[i+1])
	}
	return lb
}

// separation compares a row's average with the next row's: rows averaged
// over different benchmarks are not compared; else their averages differ
// when the difference's 95% interval, under independent errors, excludes
// 0 (tied rows never do).
func separation(a, b *Row) Separation {
	if !slices.Equal(a.Missing, b.Missing) {
		return Unseparated
	}
	se := math.Hypot(a.AverageSE, b.AverageSE)
	if !finite(se) {
		return Unseparated
	}
	if quantize(a.Average) != quantize(b.Average) && math.Abs(a.Average-b.Average) > z95*se {
		return Differs
	}
	return Overlaps
}

// quantize maps a score to the integer grid used to decide ties, so that
// equality is transitive.
func quantize(x float64) int64 { return int64(math.Round(x / ScoreResolution)) }

// rankRows sorts rows by average (descending; ties by name, then hash) and
// gives competition ranks: equal averages share a rank, the next one skips.
func rankRows(rows []Row) {
	sort.Slice(rows, func(i, j int) bool {
		qi, qj := quantize(rows[i].Average), quantize(rows[j].Average)
		if qi != qj {
			return qi > qj
		}
		if rows[i].Model.Name != rows[j].Model.Name {
			return rows[i].Model.Name < rows[j].Model.Name
		}
		return rows[i].Model.Hash < rows[j].Model.Hash
	})
	for i := range rows {
		if i > 0 && quantize(rows[i].Average) == quantize(rows[i-1].Average) {
			rows[i].Rank = rows[i-1].Rank
		} else {
			rows[i].Rank = i + 1
		}
	}
}

// BenchmarkEntry is one model's line in a single benchmark's ranking.
type BenchmarkEntry struct {
	Rank  int
	Model ModelInfo
	Cell  Cell
}

// RankBenchmark ranks the models scored on one benchmark by ceiled score,
// with the same tie rule as Rank. Models without a score are left out.
func (ix *Index) RankBenchmark(id string) []BenchmarkEntry {
	var rows []Row
	for _, m := range ix.models {
		s, ok := ix.scores[[2]string{m.Hash, id}]
		if !ok {
			continue
		}
		c := CellOf(s)
		if !c.Present {
			continue
		}
		rows = append(rows, Row{Model: m, Average: c.Ceiled, Cells: []Cell{c}})
	}
	rankRows(rows)
	out := make([]BenchmarkEntry, len(rows))
	for i, r := range rows {
		out[i] = BenchmarkEntry{Rank: r.Rank, Model: r.Model, Cell: r.Cells[0]}
	}
	return out
}

// ModelScores returns a model's current scores, in benchmark order.
func (ix *Index) ModelScores(hash string) []scoring.Score {
	var out []scoring.Score
	for _, b := range ix.benchmarks {
		if s, ok := ix.scores[[2]string{hash, b.ID}]; ok {
			out = append(out, s)
		}
	}
	return out
}
