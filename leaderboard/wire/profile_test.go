package wire_test

import (
	"bytes"
	"encoding/csv"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring"
)

// TestCSVHasRawCeilingLayer (issue 17): next to each benchmark's ceiled
// score the leaderboard CSV gives what it was formed from: the raw score,
// the ceiling and the chosen layer (a string cell, neutralised), empty
// when the score is missing. Columns are found by name.
func TestCSVHasRawCeilingLayer(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{{ID: "a", Region: "IT", Ceiling: 0.5}, {ID: "b", Region: "IT", Ceiling: 0.5}}
	ss := []scoring.Score{{ModelHash: "m", ModelName: "net", BenchmarkID: "a", Raw: 0.25, Ceiling: 0.5, Ceiled: 0.5, SE: 0.05,
		CILow: 0.2, CIHigh: 0.3, Layer: "-L001.Conv", Layers: []scoring.LayerScore{{Layer: "-L001.Conv", Raw: 0.25, Ceiled: 0.5}}}}
	out, err := wire.CSV(leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{}))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for name, want := range map[string]string{"a:raw": "0.25", "a:ceiling": "0.5", "a:layer": "'-L001.Conv", "b:raw": "", "b:ceiling": "", "b:layer": ""} {
		i, ok := col[name]
		if !ok {
			t.Errorf("no column %q in %q", name, recs[0])
			continue
		}
		if got := recs[1][i]; got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// After every ceiled column, one group per benchmark: raw, ceiling, layer.
	if col["a:raw"] != col["b:ci_high"]+1 || col["a:layer"] != col["a:raw"]+2 || col["b:raw"] != col["a:raw"]+3 || len(recs[0]) != col["b:layer"]+1 {
		t.Errorf("columns out of order: %q", recs[0])
	}
}

// TestProfileCSVNumbers: the profile CSV writes every digit, leaves
// missing numbers empty and neutralises string cells.
func TestProfileCSVNumbers(t *testing.T) {
	p := wire.FromProfile(leaderboard.ModelInfo{Hash: "h", Name: "@net"}, leaderboard.BenchmarkInfo{ID: "b"}, scoring.Score{
		Raw: 0.1, Ceiling: math.NaN(), Ceiled: math.NaN(), Layer: "L1",
		Layers: []scoring.LayerScore{{Layer: "L0", Depth: 0, Raw: 1.0 / 3, Ceiled: math.NaN(), SE: 0.01}, {Layer: "L1", Depth: 1, Raw: 0.1, Ceiled: math.NaN()}}})
	if p.Formula != "" || p.SEOf != "raw" {
		t.Errorf("profile without a ceiling: formula %q, se_of %q", p.Formula, p.SEOf)
	}
	out, err := wire.ProfileCSV(p)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	// model_hash,model_name,benchmark_id,benchmark_version,index,layer,name,depth,raw,ceiled,se,chosen,score_raw,score_ceiling,score_ceiled
	want := [][]string{
		{"h", "'@net", "b", "", "0", "L0", "", "0", "0.3333333333333333", "", "0.01", "false", "0.1", "", ""},
		{"h", "'@net", "b", "", "1", "L1", "", "1", "0.1", "", "", "true", "0.1", "", ""},
	}
	for i, w := range want {
		for j := range w {
			if recs[i+1][j] != w[j] {
				t.Errorf("row %d field %s: %q, want %q", i, recs[0][j], recs[i+1][j], w[j])
			}
		}
	}
}
