package wire_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring"
)

func TestNumWritesNullForNonFinite(t *testing.T) {
	b, err := json.Marshal([]wire.Num{1.0 / 3, wire.Num(math.NaN()), wire.Num(math.Inf(1))})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[0.333333,null,null]" {
		t.Errorf("got %s", b)
	}
	b, _ = json.Marshal([]wire.Num4{1.0 / 3, wire.Num4(math.NaN())})
	if string(b) != "[0.3333,null]" {
		t.Errorf("got %s", b)
	}
}

func TestCSVMarksMissingAsEmpty(t *testing.T) {
	bs := []leaderboard.BenchmarkInfo{{ID: "a", Region: "IT", Ceiling: 0.5}, {ID: "b", Region: "IT", Ceiling: 0.5}}
	ss := []scoring.Score{{ModelHash: "m", ModelName: "net, \"quoted\"", BenchmarkID: "a", Raw: 0.25, Ceiling: 0.5, Ceiled: 0.5, SE: 0.05, CILow: 0.2, CIHigh: 0.3}}
	out, err := wire.CSV(leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{}))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"rank", "model_hash", "model_name", "family", "average", "complete", "missing", "mean:IT", "a", "a:se", "a:ci_low", "a:ci_high", "b", "b:se", "b:ci_low", "b:ci_high"},
		// average = (0.5 + 0)/2 over IT; ceiled SE 0.05/0.5, CI 0.2/0.5 and 0.3/0.5.
		{"1", "m", "net, \"quoted\"", "", "0.25", "false", "1", "0.25", "0.5", "0.1", "0.4", "0.6", "", "", "", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if recs[i][j] != want[i][j] {
				t.Errorf("record %d field %d: %q, want %q", i, j, recs[i][j], want[i][j])
			}
		}
	}
}
