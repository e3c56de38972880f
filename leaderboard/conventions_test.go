package leaderboard_test

import (
	"math"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// TestCellOfSquaredClipped: under squared-clipped the ceiled interval is
// the transformed raw interval (clipped at 0 and 1) and the ceiled SE the
// delta method's; under the ratio both are divided by the ceiling.
func TestCellOfSquaredClipped(t *testing.T) {
	s := scoring.Score{Raw: 0.2, Ceiling: 0.4, Ceiled: 0.25, SE: 0.05, CILow: -0.1, CIHigh: 0.5,
		Conventions: scoring.Conventions{Ceiling: "lower", Transform: "squared-clipped"}}
	c := leaderboard.CellOf(s)
	if !c.Present || c.Ceiled != 0.25 || c.CeiledCILow != 0 || c.CeiledCIHi != 1 || math.Abs(c.CeiledSE-2*0.5*0.05/0.4) > 1e-15 {
		t.Errorf("squared-clipped cell: %+v", c)
	}
	s.Conventions.Transform, s.Ceiled = "ratio", 0.5
	c = leaderboard.CellOf(s)
	if c.CeiledCILow != -0.1/0.4 || c.CeiledCIHi != 0.5/0.4 || c.CeiledSE != 0.05/0.4 {
		t.Errorf("ratio cell: %+v", c)
	}
}
