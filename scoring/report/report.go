// Package report renders the scoring runner's progress and scores as the
// CLI prints them: progress lines, a table, and the CLI's JSON form.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/runner"
)

// num renders NaN as null, which JSON has no number for.
type num float64

func (f num) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// ProgressPrinter writes the runner's events to w, one line per stage
// change and at most one extraction line per few seconds.
func ProgressPrinter(w io.Writer) func(runner.Event) {
	var mu sync.Mutex
	var last time.Time
	var lastKey string
	start := time.Now()
	return func(e runner.Event) {
		mu.Lock()
		defer mu.Unlock()
		key := e.Model + e.Benchmark + e.Stage
		if (e.Stage == "extracting" || e.Stage == "scoring") && key == lastKey && time.Since(last) < 3*time.Second && e.Done != e.Total {
			return
		}
		last, lastKey = time.Now(), key
		el := time.Since(start).Round(time.Second)
		line := fmt.Sprintf("[%02d:%02d] %s · %s · %s", int(el.Minutes()), int(el.Seconds())%60, e.Model, e.Benchmark, e.Stage)
		if e.Total > 0 {
			line += fmt.Sprintf(" %d/%d", e.Done, e.Total)
		}
		if e.Message != "" {
			line += " · " + e.Message
		}
		fmt.Fprintln(w, line)
	}
}

// ScoreJSON is a score as the CLI prints it with --json.
type ScoreJSON struct {
	Model            string  `json:"model"`
	ModelHash        string  `json:"model_hash"`
	Benchmark        string  `json:"benchmark"`
	BenchmarkVersion string  `json:"benchmark_version"`
	ScorerVersion    string  `json:"scorer_version"`
	Raw              num     `json:"raw"`
	SE               num     `json:"se"`
	CI               [2]num  `json:"ci"`
	Ceiling          num     `json:"ceiling"`
	Ceiled           num     `json:"ceiled"`
	Layer            string  `json:"layer"`
	Selection        string  `json:"selection"`
	Candidates       string  `json:"candidates"`
	Seed             uint64  `json:"seed"`
	Seconds          float64 `json:"seconds"`
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`
	// CeilingKind names the ceiling ("upper", "lower",
	// "leave-one-subject-out", "halves", "split-half", "none"; "" when
	// the score predates recorded conventions), Transform how ceiled was
	// formed from raw and ceiling ("ratio" or "squared-clipped").
	CeilingKind string `json:"ceiling_kind"`
	Transform   string `json:"transform"`
	// Conventions are all the settings the score was computed under
	// (scoring.Conventions; fields at their default are omitted).
	Conventions scoring.Conventions `json:"conventions"`
	// LayerName is the chosen layer's ONNX name ("" when the score does
	// not record it) and Profile every layer's score as stored (issue 17).
	LayerName string      `json:"layer_name"`
	Profile   []LayerJSON `json:"profile"`
}

// LayerJSON is one layer of a score's profile: its raw and ceiled score
// and the SE of raw (null when the metric stores none per layer).
type LayerJSON struct {
	Layer  string  `json:"layer"`
	Name   string  `json:"name"`
	Depth  float64 `json:"depth"`
	Raw    num     `json:"raw"`
	Ceiled num     `json:"ceiled"`
	SE     num     `json:"se"`
}

// layerName is the ONNX name recorded with a layer's score, "" when none.
func layerName(l scoring.LayerScore) string { return l.Name }

// ScoresJSON converts scores to their CLI JSON form.
func ScoresJSON(ss []scoring.Score) []ScoreJSON {
	out := make([]ScoreJSON, len(ss))
	for i, s := range ss {
		out[i] = ScoreJSON{Model: s.ModelName, ModelHash: s.ModelHash, Benchmark: s.BenchmarkID, BenchmarkVersion: s.BenchmarkVersion,
			ScorerVersion: s.ScorerVersion, Raw: num(s.Raw), SE: num(s.SE), CI: [2]num{num(s.CILow), num(s.CIHigh)},
			Ceiling: num(s.Ceiling), Ceiled: num(s.Ceiled), Layer: s.Layer, Selection: s.Selection, Candidates: s.Candidates,
			Seed: s.Seed, Seconds: s.Elapsed.Seconds(), PeakRSSBytes: s.PeakRSSBytes, CeilingKind: s.Conventions.Ceiling,
			Transform: s.Conventions.TransformName(), Conventions: s.Conventions, Profile: make([]LayerJSON, len(s.Layers))}
		for k, l := range s.Layers {
			se := l.SE
			if se == 0 {
				se = math.NaN() // none stored for this layer
			}
			out[i].Profile[k] = LayerJSON{Layer: l.Layer, Name: layerName(l), Depth: l.Depth, Raw: num(l.Raw), Ceiled: num(l.Ceiled), SE: num(se)}
			if l.Layer == s.Layer {
				out[i].LayerName = out[i].Profile[k].Name
			}
		}
	}
	return out
}

// PrintScores writes scores as a table. The ceiling is shown with its
// kind ("0.620 upper") and the ceiled score with how it was formed
// ("0.500 raw/upper", "0.250 (raw/lower)² clipped").
func PrintScores(w io.Writer, ss []scoring.Score) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tBENCHMARK\tRAW ± SE\t95% CI\tCEILING\tCEILED\tLAYER\tSELECTION")
	for _, s := range ss {
		fmt.Fprintf(tw, "%s\t%s\t%.3f ± %.3f\t[%.3f, %.3f]\t%s\t%s\t%s\t%s\n", s.ModelName, s.BenchmarkID, s.Raw, s.SE, s.CILow, s.CIHigh,
			labelled(s.Ceiling, s.Conventions.Ceiling), labelled(s.Ceiled, s.Conventions.Formula()), s.Layer, s.Selection)
	}
	tw.Flush()
}

// labelled is x with 3 decimals and its label ("—" when x is NaN).
func labelled(x float64, label string) string {
	if math.IsNaN(x) || label == "" || label == "none" {
		return num3(x)
	}
	return num3(x) + " " + label
}

func num3(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.3f", x)
}
