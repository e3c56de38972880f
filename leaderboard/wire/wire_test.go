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
		{"rank", "model_hash", "model_name", "family", "average", "average_se", "average_ci_low", "average_ci_high",
			"coverage_scored", "coverage_total", "partial", "differs_from_next", "complete", "missing",
			"mean:IT", "mean:IT:se", "mean:IT:ci_low", "mean:IT:ci_high",
			"a", "a:se", "a:ci_low", "a:ci_high", "b", "b:se", "b:ci_low", "b:ci_high",
			"a:raw", "a:ceiling", "a:layer", "b:raw", "b:ceiling", "b:layer"},
		// The average is over the one benchmark scored (issue 17: it was
		// (0.5 + 0)/2, the missing b counted as 0), with SE 0.05/0.5 and
		// interval 0.5 ± 1.96·0.1; coverage 1/2, partial, the last row (not
		// compared); ceiled SE 0.05/0.5, CI 0.2/0.5 and 0.3/0.5.
		{"1", "m", "net, \"quoted\"", "", "0.5", "0.1", "0.304004", "0.695996", "1", "2", "true", "", "false", "1",
			"0.5", "0.1", "0.304004", "0.695996", "0.5", "0.1", "0.4", "0.6", "", "", "", "",
			"0.25", "0.5", "", "", "", ""},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d", len(recs), len(want))
	}
	for i := range want {
		if len(recs[i]) != len(want[i]) {
			t.Errorf("record %d has %d fields, want %d: %q", i, len(recs[i]), len(want[i]), recs[i])
			continue
		}
		for j := range want[i] {
			if recs[i][j] != want[i][j] {
				t.Errorf("record %d field %d: %q, want %q", i, j, recs[i][j], want[i][j])
			}
		}
	}
}
