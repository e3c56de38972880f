package wire

import (
	"bytes"
	"encoding/csv"
	"math"
	"strconv"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// Exact is a float64 written with every digit needed to read it back
// (downloads are for analysis); NaN and ±Inf as null.
type Exact float64

// MarshalJSON implements json.Marshaler.
func (n Exact) MarshalJSON() ([]byte, error) {
	x := float64(n)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

// ProfileLayer is one layer of a downloaded profile, as stored: SE is the
// standard error of Raw (null when the metric stores none per layer).
type ProfileLayer struct {
	Layer  string  `json:"layer"`
	Name   string  `json:"name"` // ONNX node or tensor name; "" when the score does not record it
	Index  int     `json:"index"`
	Depth  float64 `json:"depth"` // relative depth in [0, 1]
	Raw    Exact   `json:"raw"`
	Ceiled Exact   `json:"ceiled"`
	SE     Exact   `json:"se"`
}

// Profile is GET /api/v1/models/{hash}/benchmarks/{id}/profile.json: a
// model's score on one benchmark with its per-layer profile (issue 17).
type Profile struct {
	ModelHash        string         `json:"model_hash"`
	ModelName        string         `json:"model_name"`
	BenchmarkID      string         `json:"benchmark_id"`
	BenchmarkVersion string         `json:"benchmark_version"`
	ScorerVersion    string         `json:"scorer_version"`
	Raw              Exact          `json:"raw"`
	SE               Exact          `json:"se"`
	Ceiling          Exact          `json:"ceiling"`
	Ceiled           Exact          `json:"ceiled"`
	Formula          string         `json:"formula,omitempty"` // how ceiled is formed, e.g. "raw/upper"
	Layer            string         `json:"layer"`             // the chosen layer
	LayerName        string         `json:"layer_name"`
	Selection        string         `json:"selection"`
	SEOf             string         `json:"se_of"` // what a layer's se is the standard error of
	Layers           []ProfileLayer `json:"layers"`
}

// LayerName is the ONNX name recorded with a layer's score, "" when none.
func LayerName(l scoring.LayerScore) string { return l.Name }

// FromProfile converts model m's score s on benchmark b. The caller
// withholds private benchmarks' profiles.
func FromProfile(m leaderboard.ModelInfo, b leaderboard.BenchmarkInfo, s scoring.Score) Profile {
	p := Profile{ModelHash: m.Hash, ModelName: m.Name, BenchmarkID: b.ID, BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion,
		Raw: Exact(s.Raw), SE: Exact(s.SE), Ceiling: Exact(s.Ceiling), Ceiled: Exact(s.Ceiled), Formula: s.Conventions.Formula(),
		Layer: s.Layer, Selection: s.Selection, SEOf: "raw", Layers: make([]ProfileLayer, len(s.Layers))}
	if math.IsNaN(s.Ceiling) {
		p.Formula = ""
	}
	for i, l := range s.Layers {
		se := l.SE
		if se == 0 {
			se = math.NaN() // the metric stores no per-layer SE
		}
		p.Layers[i] = ProfileLayer{Layer: l.Layer, Name: LayerName(l), Index: i, Depth: l.Depth, Raw: Exact(l.Raw), Ceiled: Exact(l.Ceiled), SE: Exact(se)}
		if l.Layer == s.Layer {
			p.LayerName = p.Layers[i].Name
		}
	}
	return p
}

// ProfileCSV is the profile as CSV: one row per layer, the model's
// overall score repeated on each (so one file says everything); string
// cells neutralised against spreadsheet formulas (SafeCell).
func ProfileCSV(p Profile) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	num := func(x Exact) string {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return ""
		}
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	}
	if err := w.Write([]string{"model_hash", "model_name", "benchmark_id", "benchmark_version", "index", "layer", "name", "depth",
		"raw", "ceiled", "se", "chosen", "score_raw", "score_ceiling", "score_ceiled"}); err != nil {
		return nil, err
	}
	for _, l := range p.Layers {
		rec := []string{SafeCell(p.ModelHash), SafeCell(p.ModelName), SafeCell(p.BenchmarkID), SafeCell(p.BenchmarkVersion),
			strconv.Itoa(l.Index), SafeCell(l.Layer), SafeCell(l.Name), strconv.FormatFloat(l.Depth, 'g', -1, 64),
			num(l.Raw), num(l.Ceiled), num(l.SE), strconv.FormatBool(l.Layer == p.Layer), num(p.Raw), num(p.Ceiling), num(p.Ceiled)}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}
