package scoring

import (
	"encoding/json"
	"math"
	"strconv"
)

// SelectionMethod names how the reported layer was chosen.
type SelectionMethod string

const (
	// HeldOutStimuli: on each of Splits seeded splits of the stimuli the
	// layer is chosen on the selection part and scored on the disjoint
	// test part; Raw is the mean over splits.
	HeldOutStimuli SelectionMethod = "held-out-stimuli"
	// HeldOutSessions: as HeldOutStimuli, splitting sessions (disjoint
	// images and neurons) rather than stimuli.
	HeldOutSessions SelectionMethod = "held-out-sessions"
	// Committed: the layer the model commits to a region, scored on all
	// of this benchmark's data: chosen on the public Partner benchmark(s)
	// (region commitment: Partner lists the region's commit benchmarks,
	// comma-separated), or declared by the submitter
	// (scoring.Conventions.Declared, Partner empty).
	Committed SelectionMethod = "committed"
	// CrossValidated: everything is fitted on some stimulus folds and
	// scored on the others (Splits folds); no layer is chosen on the data
	// scored.
	CrossValidated SelectionMethod = "cross-validated"
)

// Selection is how a Score's layer was chosen, as data.
type Selection struct {
	Method SelectionMethod
	// Splits is the number of seeded splits (held-out methods) or of
	// stimulus folds (CrossValidated); Seed deals them.
	Splits int
	Seed   uint64
	// Partner is the public benchmark a Committed layer was chosen on, or
	// the unused partner of a private benchmark scored CrossValidated.
	Partner string
	// BestHere is a diagnostic of a Committed score, never the reported
	// one: the candidate layer with the best raw score on all of this
	// benchmark's stimuli, and BestHereRaw that score (in-sample: the
	// layer is chosen on the data it is scored on). Empty when the
	// profile was not computed.
	BestHere    string
	BestHereRaw float64
	// PerSplit is the test-part score of each split; Chosen the layer
	// chosen on each split's selection part (held-out methods).
	PerSplit []float64
	Chosen   []string
	// Values are the metric's own named quantities (see each metric's
	// documentation in scoring/runner), e.g. "best_single_mean" or
	// "unique early".
	Values map[string]float64
	// LayerValues is a named quantity per layer, e.g. "weight" → layer →
	// the mean reweighting weight.
	LayerValues map[string]map[string]float64
	// Sets are named sets of layers, e.g. the variance-partitioning sets.
	Sets map[string][]string
}

// Value returns the named quantity and whether it is there.
func (s Selection) Value(name string) (float64, bool) {
	v, ok := s.Values[name]
	return v, ok
}

// jsonFloat is a float64 whose JSON form survives NaN and ±Inf (as the
// strings "NaN", "+Inf", "-Inf"), which encoding/json refuses.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return json.Marshal(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return err
		}
		*f = jsonFloat(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

type selectionJSON struct {
	Method      SelectionMethod                 `json:"method,omitempty"`
	Splits      int                             `json:"splits,omitempty"`
	Seed        uint64                          `json:"seed,omitempty"`
	Partner     string                          `json:"partner,omitempty"`
	BestHere    string                          `json:"best_here,omitempty"`
	BestHereRaw *jsonFloat                      `json:"best_here_raw,omitempty"`
	PerSplit    []jsonFloat                     `json:"per_split,omitempty"`
	Chosen      []string                        `json:"chosen,omitempty"`
	Values      map[string]jsonFloat            `json:"values,omitempty"`
	LayerValues map[string]map[string]jsonFloat `json:"layer_values,omitempty"`
	Sets        map[string][]string             `json:"sets,omitempty"`
}

// MarshalJSON encodes the selection, NaN and ±Inf included.
func (s Selection) MarshalJSON() ([]byte, error) {
	w := selectionJSON{Method: s.Method, Splits: s.Splits, Seed: s.Seed, Partner: s.Partner, Chosen: s.Chosen, Sets: s.Sets}
	if s.BestHere != "" {
		w.BestHere = s.BestHere
		v := jsonFloat(s.BestHereRaw)
		w.BestHereRaw = &v
	}
	for _, v := range s.PerSplit {
		w.PerSplit = append(w.PerSplit, jsonFloat(v))
	}
	if s.Values != nil {
		w.Values = map[string]jsonFloat{}
		for k, v := range s.Values {
			w.Values[k] = jsonFloat(v)
		}
	}
	if s.LayerValues != nil {
		w.LayerValues = map[string]map[string]jsonFloat{}
		for name, m := range s.LayerValues {
			w.LayerValues[name] = map[string]jsonFloat{}
			for k, v := range m {
				w.LayerValues[name][k] = jsonFloat(v)
			}
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (s *Selection) UnmarshalJSON(b []byte) error {
	var w selectionJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = Selection{Method: w.Method, Splits: w.Splits, Seed: w.Seed, Partner: w.Partner, Chosen: w.Chosen, Sets: w.Sets, BestHere: w.BestHere}
	if w.BestHereRaw != nil {
		s.BestHereRaw = float64(*w.BestHereRaw)
	}
	for _, v := range w.PerSplit {
		s.PerSplit = append(s.PerSplit, float64(v))
	}
	if w.Values != nil {
		s.Values = map[string]float64{}
		for k, v := range w.Values {
			s.Values[k] = float64(v)
		}
	}
	if w.LayerValues != nil {
		s.LayerValues = map[string]map[string]float64{}
		for name, m := range w.LayerValues {
			s.LayerValues[name] = map[string]float64{}
			for k, v := range m {
				s.LayerValues[name][k] = float64(v)
			}
		}
	}
	return nil
}
