// Package wire is the v1 JSON and CSV representation of the leaderboard:
// the documents served under /api/v1 and written as published snapshots.
// The domain types in package leaderboard carry no tags; these do, and a
// change here is a change of the public format.
package wire

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// Num is a float64 written with 6 significant digits, and as null when it
// is not finite (JSON has no NaN).
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	x := float64(n)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, x, 'g', 6, 64), nil
}

// Rules states how the leaderboard is computed.
type Rules struct {
	Aggregation string `json:"aggregation"`
	Missing     string `json:"missing"`
	Ties        string `json:"ties"`
	Unceiled    string `json:"unceiled"`
	Private     string `json:"private"`
	Intervals   string `json:"intervals"`
}

// CurrentRules returns the rules package leaderboard applies.
func CurrentRules() Rules {
	return Rules{leaderboard.AggregationRule, leaderboard.MissingRule, leaderboard.TieRule, leaderboard.UnceiledRule, leaderboard.PrivateRule,
		leaderboard.IntervalRule}
}

// Filter is the filter a leaderboard was built with. Coverage is "all"
// (the default) or "common".
type Filter struct {
	Region   []string `json:"region"`
	Species  []string `json:"species"`
	Method   []string `json:"method"`
	Family   []string `json:"family"`
	Coverage string   `json:"coverage"`
}

// coverageName is f's coverage as the wire states it.
func coverageName(f leaderboard.Filter) string {
	if strings.EqualFold(f.Coverage, leaderboard.CoverageCommon) {
		return leaderboard.CoverageCommon
	}
	return leaderboard.CoverageAll
}

// Model describes a model entry: Hash is its ID (an ONNX file with one
// preprocessing spec), File the file's sha256, Preprocessing the spec.
type Model struct {
	Hash          string `json:"hash"`
	Name          string `json:"name"`
	Family        string `json:"family"`
	Version       string `json:"version,omitempty"`
	TrainingData  string `json:"training_data,omitempty"`
	Params        int64  `json:"params,omitempty"`
	File          string `json:"file,omitempty"`
	Preprocessing string `json:"preprocessing,omitempty"`
}

// FromModel converts a model.
func FromModel(m leaderboard.ModelInfo) Model {
	return Model{Hash: m.Hash, Name: m.Name, Family: m.Family, Version: m.Version, TrainingData: m.TrainingData, Params: m.Params,
		File: m.File, Preprocessing: m.Preprocessing}
}

// Benchmark describes a benchmark: metadata, counts and ceiling, never data.
// CeilingKind says which ceiling Ceiling is, Transform how ceiled scores
// are formed from raw and ceiling, Features how the model RDM's units
// are handled and Selection how the reported layer is chosen (issue 16;
// each omitted when not known).
type Benchmark struct {
	ID            string `json:"id"`
	Version       string `json:"version"`
	Parent        string `json:"parent"`
	Region        string `json:"region"`
	Species       string `json:"species"`
	Method        string `json:"method"`
	Private       bool   `json:"private"`
	Ceiling       Num    `json:"ceiling"`
	StimulusCount int    `json:"stimulus_count"`
	Citation      string `json:"citation,omitempty"`
	CeilingKind   string `json:"ceiling_kind,omitempty"`
	Transform     string `json:"transform,omitempty"`
	Features      string `json:"features,omitempty"`
	Selection     string `json:"selection,omitempty"`
}

// FromBenchmark converts a benchmark.
func FromBenchmark(b leaderboard.BenchmarkInfo) Benchmark {
	return Benchmark{b.ID, b.Version, b.Group(), b.Region, b.Species, b.Method, b.Private,
		Num(b.Ceiling), b.StimulusCount, b.Citation, b.CeilingKind, b.Transform, b.Features, b.Selection}
}

// Cell is a model's score on one benchmark, with its error bars, ceiled
// (divided by the ceiling) and raw.
type Cell struct {
	Ceiled       Num    `json:"ceiled"`
	CeiledSE     Num    `json:"ceiled_se"`
	CeiledCILow  Num    `json:"ceiled_ci_low"`
	CeiledCIHigh Num    `json:"ceiled_ci_high"`
	Raw          Num    `json:"raw"`
	SE           Num    `json:"se"`
	CILow        Num    `json:"ci_low"`
	CIHigh       Num    `json:"ci_high"`
	Ceiling      Num    `json:"ceiling"`
	Layer        string `json:"layer"`
}

// FromCell converts a cell; a missing one becomes nil (JSON null).
func FromCell(c leaderboard.Cell) *Cell {
	if !c.Present {
		return nil
	}
	return &Cell{Num(c.Ceiled), Num(c.CeiledSE), Num(c.CeiledCILow), Num(c.CeiledCIHi),
		Num(c.Raw), Num(c.SE), Num(c.CILow), Num(c.CIHigh), Num(c.Ceiling), c.Layer}
}

// Num4 is a float64 written with 4 significant digits (null when not
// finite): enough for a table cell shown with 3 decimals, and it keeps the
// leaderboard document small.
type Num4 float64

// MarshalJSON implements json.Marshaler.
func (n Num4) MarshalJSON() ([]byte, error) {
	x := float64(n)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, x, 'g', 4, 64), nil
}

// BoardCell is a leaderboard cell: the ceiled score, its SE and its CI
// ([low, high]), all divided by the ceiling, and the layer scored. The raw
// numbers are in the model document.
type BoardCell struct {
	Ceiled   Num4    `json:"ceiled"`
	CeiledSE Num4    `json:"ceiled_se"`
	CeiledCI [2]Num4 `json:"ceiled_ci"`
	Layer    string  `json:"layer"`
}

// ParentMean is a model's mean over the benchmarks of one parent it is
// scored on (null when none), with its SE and 95% interval ([low, high],
// 4 significant digits, like the cells').
type ParentMean struct {
	Parent string  `json:"parent"`
	Mean   Num     `json:"mean"`
	SE     Num4    `json:"se"`
	CI     [2]Num4 `json:"ci"`
	Scored int     `json:"scored"`
	Total  int     `json:"total"`
}

// Coverage is how many of the leaderboard's ceiled benchmarks a row is
// scored on.
type Coverage struct {
	Scored int `json:"scored"`
	Total  int `json:"total"`
}

// Row is a model's line: scores[i] is its cell on benchmarks[i], or null.
// Average is over the benchmarks the model has, with its SE and 95%
// interval; Partial rows (coverage below total) are ranked after every
// complete row, among themselves. DiffersFromNext: true when the average
// differs reliably from the next row's, false when it does not (their
// order is not reliable), null when not compared (the last row, or a next
// row averaged over other benchmarks).
type Row struct {
	Rank            int          `json:"rank"`
	Model           Model        `json:"model"`
	Average         Num          `json:"average"`
	AverageSE       Num4         `json:"average_se"`
	AverageCI       [2]Num4      `json:"average_ci"`
	Coverage        Coverage     `json:"coverage"`
	Partial         bool         `json:"partial"`
	DiffersFromNext *bool        `json:"differs_from_next"`
	Complete        bool         `json:"complete"`
	Missing         []string     `json:"missing"`
	ParentMeans     []ParentMean `json:"parent_means"`
	Scores          []*BoardCell `json:"scores"`
}

// differs converts a separation: nil when not compared.
func differs(s leaderboard.Separation) *bool {
	switch s {
	case leaderboard.Differs:
		t := true
		return &t
	case leaderboard.Overlaps:
		f := false
		return &f
	}
	return nil
}

// Facets are the values each filter accepts.
type Facets struct {
	Region  []string `json:"region"`
	Species []string `json:"species"`
	Method  []string `json:"method"`
	Family  []string `json:"family"`
}

// Leaderboard is the leaderboard document. Rows holds rows
// [Offset, Offset+len(Rows)) of Total. Excluded are the benchmarks the
// filter selects but coverage=common left out.
type Leaderboard struct {
	Rules      Rules       `json:"rules"`
	Filter     Filter      `json:"filter"`
	Benchmarks []Benchmark `json:"benchmarks"`
	Parents    []string    `json:"parents"`
	Excluded   []string    `json:"excluded"`
	Total      int         `json:"total"`
	Offset     int         `json:"offset"`
	Rows       []Row       `json:"rows"`
	Facets     Facets      `json:"facets"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// FromLeaderboard converts rows [offset, offset+limit) of lb; limit < 0
// means all.
func FromLeaderboard(lb *leaderboard.Leaderboard, offset, limit int) Leaderboard {
	out := Leaderboard{
		Rules: CurrentRules(),
		Filter: Filter{nonNil(lb.Filter.Regions), nonNil(lb.Filter.Species), nonNil(lb.Filter.Methods), nonNil(lb.Filter.Families),
			coverageName(lb.Filter)},
		Benchmarks: make([]Benchmark, len(lb.Benchmarks)),
		Parents:    nonNil(lb.Parents),
		Excluded:   nonNil(lb.Excluded),
		Total:      len(lb.Rows),
		Offset:     offset,
		Rows:       []Row{},
		Facets:     Facets{nonNil(lb.Facets.Regions), nonNil(lb.Facets.Species), nonNil(lb.Facets.Methods), nonNil(lb.Facets.Families)},
	}
	for i, b := range lb.Benchmarks {
		out.Benchmarks[i] = FromBenchmark(b)
	}
	rows := lb.Rows[min(offset, len(lb.Rows)):]
	if limit >= 0 && limit < len(rows) {
		rows = rows[:limit]
	}
	for _, r := range rows {
		w := Row{Rank: r.Rank, Model: FromModel(r.Model), Average: Num(r.Average), AverageSE: Num4(r.AverageSE),
			AverageCI: [2]Num4{Num4(r.AverageCI[0]), Num4(r.AverageCI[1])}, Coverage: Coverage{r.Coverage.Scored, r.Coverage.Total},
			Partial: r.Partial(), DiffersFromNext: differs(r.Next), Complete: r.Complete(),
			Missing: nonNil(r.Missing), ParentMeans: make([]ParentMean, len(r.ParentMeans)), Scores: make([]*BoardCell, len(r.Cells))}
		for i, p := range r.ParentMeans {
			w.ParentMeans[i] = ParentMean{p.Parent, Num(p.Mean), Num4(p.SE), [2]Num4{Num4(p.CI[0]), Num4(p.CI[1])}, p.Scored, p.Total}
		}
		for i, c := range r.Cells {
			if c.Present {
				w.Scores[i] = &BoardCell{Num4(c.Ceiled), Num4(c.CeiledSE), [2]Num4{Num4(c.CeiledCILow), Num4(c.CeiledCIHi)}, c.Layer}
			}
		}
		out.Rows = append(out.Rows, w)
	}
	return out
}

// ModelSummary is a model in the model list, with its overall standing.
type ModelSummary struct {
	Model
	Rank     int  `json:"rank,omitempty"` // 0 (omitted) when unranked
	Average  *Num `json:"average"`
	Complete bool `json:"complete"`
	Scored   int  `json:"scored"`
}

// Models is the model list.
type Models struct {
	Models []ModelSummary `json:"models"`
}

// LayerScore is one layer's score in a per-layer profile.
type LayerScore struct {
	Layer string `json:"layer"`
	// Name is the layer's ONNX node name ("" for scores stored before
	// names were recorded).
	Name   string  `json:"name"`
	Depth  float64 `json:"depth"`
	Raw    Num     `json:"raw"`
	Ceiled Num     `json:"ceiled"`
	SE     Num     `json:"se"`
}

// ModelScore is a model's full result on one benchmark. For a private
// benchmark the per-layer profile is withheld (LayersWithheld) and no RDM
// link is given.
type ModelScore struct {
	Benchmark        Benchmark    `json:"benchmark"`
	Score            *Cell        `json:"score"`
	Raw              Num          `json:"raw"`   // also when there is no ceiling (Score nil)
	Layer            string       `json:"layer"` // the reported layer
	Selection        string       `json:"selection"`
	Candidates       string       `json:"candidates"`
	BenchmarkVersion string       `json:"benchmark_version"`
	ScorerVersion    string       `json:"scorer_version"`
	CreatedAt        time.Time    `json:"created_at"`
	Layers           []LayerScore `json:"layers"`
	LayersWithheld   bool         `json:"layers_withheld,omitempty"`
	RDM              string       `json:"rdm,omitempty"` // API path of the RDM pair
	// Conventions say which ceiling the score used and how its ceiled
	// value was formed (issue 16); {} for a score stored before they were
	// recorded. Formula says it in a few characters ("raw/upper",
	// "(raw/lower)² clipped"; "raw/ceiling" when not recorded; "" without
	// a ceiling).
	Conventions scoring.Conventions `json:"conventions"`
	Formula     string              `json:"formula,omitempty"`
}

// FromScore converts a score on benchmark b; rdmPath is the RDM link or "".
func FromScore(b leaderboard.BenchmarkInfo, s scoring.Score, rdmPath string) ModelScore {
	ms := ModelScore{Benchmark: FromBenchmark(b), Score: FromCell(leaderboard.CellOf(s)), Raw: Num(s.Raw), Layer: s.Layer,
		Selection: s.Selection, Candidates: s.Candidates, BenchmarkVersion: s.BenchmarkVersion,
		ScorerVersion: s.ScorerVersion, CreatedAt: s.CreatedAt.UTC(), Layers: []LayerScore{},
		Conventions: s.Conventions, Formula: s.Conventions.Formula()}
	if b.Private {
		ms.LayersWithheld = true
		return ms
	}
	ms.RDM = rdmPath
	for _, l := range s.Layers {
		ms.Layers = append(ms.Layers, LayerScore{l.Layer, l.Name, l.Depth, Num(l.Raw), Num(l.Ceiled), Num(l.SE)})
	}
	return ms
}

// ModelDetail is one model with its scores.
type ModelDetail struct {
	ModelSummary
	Missing []string     `json:"missing"` // ceiled benchmarks without a score (not counted in the average)
	Rules   Rules        `json:"rules"`
	Scores  []ModelScore `json:"scores"`

	// What the submitter says about the model (issue 17), each omitted
	// when not given: a paper's https URL, a description, a licence (SPDX
	// id or text) and a BibTeX entry.
	Paper       string `json:"paper,omitempty"`
	Description string `json:"description,omitempty"`
	License     string `json:"license,omitempty"`
	BibTeX      string `json:"bibtex,omitempty"`
}

// Benchmarks is the benchmark list.
type Benchmarks struct {
	Benchmarks []BenchmarkSummary `json:"benchmarks"`
}

// BenchmarkSummary is a benchmark with the number of models scored on it.
type BenchmarkSummary struct {
	Benchmark
	ScoredModels int `json:"scored_models"`
}

// RankEntry is a model's line in a benchmark's ranking.
type RankEntry struct {
	Rank  int   `json:"rank"`
	Model Model `json:"model"`
	Score *Cell `json:"score"`
}

// BenchmarkDetail is a benchmark with its ranking.
type BenchmarkDetail struct {
	BenchmarkSummary
	Ranking []RankEntry `json:"ranking"`
	// Controls: the controls' scores and whether any trained model beats
	// them reliably; null when no control is scored here (issue 16).
	Controls *BenchmarkControls `json:"controls"`
}

// RDMPair is a model's RDM next to the brain's, for a public benchmark:
// upper triangles without diagonal, row by row, of n×n matrices.
type RDMPair struct {
	ModelHash   string    `json:"model_hash"`
	BenchmarkID string    `json:"benchmark_id"`
	N           int       `json:"n"`
	Model       []float64 `json:"model"`
	Brain       []float64 `json:"brain"`
}

// Error is the body of every error response.
type Error struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody says what went wrong.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
