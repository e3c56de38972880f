package scoring

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// TestSelectionJSONBestHere: the diagnostic best layer survives JSON,
// NaN included, and is absent when not computed.
func TestSelectionJSONBestHere(t *testing.T) {
	for _, raw := range []float64{0.25, 0, math.NaN()} {
		s := Selection{Method: Committed, Partner: "a,b", BestHere: "L003.Conv", BestHereRaw: raw}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Selection
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.BestHere != "L003.Conv" || back.Partner != "a,b" || !(back.BestHereRaw == raw || math.IsNaN(raw) && math.IsNaN(back.BestHereRaw)) {
			t.Errorf("%s read back as %+v", b, back)
		}
	}
	b, _ := json.Marshal(Selection{Method: HeldOutStimuli})
	if strings.Contains(string(b), "best_here") {
		t.Errorf("no diagnostic, yet %s", b)
	}
}
