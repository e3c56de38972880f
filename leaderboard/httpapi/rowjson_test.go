package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard/wire"
)

// TestAppendRowIsMarshal: appendRow gives json.Marshal's bytes, for
// strings that need escaping, NaN and infinite numbers, empty and nil
// lists, missing cells and omitted model fields.
func TestAppendRowIsMarshal(t *testing.T) {
	cell := &wire.BoardCell{Ceiled: 0.123456, CeiledSE: wire.Num4(math.NaN()), CeiledCI: [2]wire.Num4{-1e-7, wire.Num4(math.Inf(1))}, Layer: "features.<3>&\"x\""}
	yes, no := true, false
	rows := []wire.Row{
		{},
		{Rank: 1, Model: wire.Model{Hash: "ab", Name: "plain", Family: "resnet"}, Average: 0.5, AverageSE: 0.01, AverageCI: [2]wire.Num4{0.48, 0.52},
			Coverage: wire.Coverage{Scored: 3, Total: 3}, DiffersFromNext: &yes, Complete: true, Missing: []string{}, ParentMeans: []wire.ParentMean{}, Scores: []*wire.BoardCell{}},
		{Rank: 12, Model: wire.Model{Hash: "h", Name: "naïve \u2028 net\x01", Family: "a\\b", Version: "v1", TrainingData: "imagenet", Params: 61100840, File: "x.onnx", Preprocessing: "bad \xff utf8"},
			Average: wire.Num(math.NaN()), AverageSE: wire.Num4(math.Inf(1)), AverageCI: [2]wire.Num4{wire.Num4(math.NaN()), 1e-9},
			Coverage: wire.Coverage{Scored: 2, Total: 5}, Partial: true, DiffersFromNext: &no, Missing: []string{"V1.a", "<IT>"}, ParentMeans: []wire.ParentMean{{Parent: "V1", Mean: 1.0 / 3, SE: 0.0123456789, CI: [2]wire.Num4{-0.5, wire.Num4(math.NaN())}, Scored: 2, Total: 3}, {Parent: "IT", Mean: wire.Num(math.Inf(-1))}},
			Scores: []*wire.BoardCell{nil, cell, {Ceiled: 1e21, CeiledSE: 123456789, Layer: ""}}},
	}
	for i := range rows {
		want, err := json.Marshal(rows[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := appendRow([]byte("prefix"), &rows[i])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("row %d:\n got %s\nwant %s", i, got[len("prefix"):], want)
		}
	}
}
