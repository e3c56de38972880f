package benchmarks

import (
	"context"
	"math"
	"testing"
)

func TestBuiltinImport(t *testing.T) {
	reg, _, results := importedBuiltins(t)
	want := []string{
		"algonauts2019-78.EVC", "algonauts2019-78.IT", "algonauts2019-92.EVC", "algonauts2019-92.IT",
		"cowley2023.V4", "cowley2023.V4.public",
		"kriegeskorte2008.behaviour", "kriegeskorte2008.hIT", "kriegeskorte2008.mIT",
	}
	got := map[string]Summary{}
	for _, r := range results {
		if r.Status != StatusAdded {
			t.Errorf("%s: status %q, want %q", r.Summary.ID, r.Status, StatusAdded)
		}
		got[r.Summary.ID] = r.Summary
		s := r.Summary
		t.Logf("%-28s %-8s subj=%d sess=%d targ=%d stim=%d ceiling %s upper=%.4f lower=%.4f upperR2=%.4f lowerR2=%.4f n=%d",
			s.ID, s.Version, s.Subjects, s.Sessions, s.Targets, s.Stimuli, s.CeilingMethod, s.CeilingUpper, s.CeilingLower, s.CeilingUpperR2, s.CeilingLowerR2, s.CeilingTargets)
	}
	for _, id := range want {
		s, ok := got[id]
		if !ok {
			t.Errorf("built-in %s not imported", id)
			continue
		}
		if s.CeilingMethod == "" || (s.CeilingValid == (s.CeilingMethod == CeilingNone)) {
			t.Errorf("%s: ceiling %q valid=%v", id, s.CeilingMethod, s.CeilingValid)
		}
		if !s.CeilingValid && s.CeilingReason == "" {
			t.Errorf("%s: no ceiling and no reason", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("imported %d built-ins, want %d", len(got), len(want))
	}

	// Published Algonauts 2019 noise ceilings (upper bound as R², 92-image
	// set; datasets README and Cichy et al. 2019): EVC 0.1589, IT 0.3075.
	for id, r2 := range map[string]float64{"algonauts2019-92.EVC": 0.1589, "algonauts2019-92.IT": 0.3075} {
		if s := got[id]; math.Abs(s.CeilingUpperR2-r2) > 0.5e-4 {
			t.Errorf("%s: upper ceiling R² = %.6f, want %.4f (±0.00005)", id, s.CeilingUpperR2, r2)
		}
	}
	if s := got["kriegeskorte2008.mIT"]; s.CeilingValid || s.Subjects != 1 {
		t.Errorf("mIT: ceiling valid=%v subjects=%d, want no ceiling and one group RDM", s.CeilingValid, s.Subjects)
	}
	if s := got["cowley2023.V4"]; !s.Private || s.Sessions != 4 || s.CeilingTargets == 0 || s.CeilingSession != "210325" {
		t.Errorf("cowley2023.V4: private=%v sessions=%d ceiling targets=%d session=%q", s.Private, s.Sessions, s.CeilingTargets, s.CeilingSession)
	}
	if s := got["cowley2023.V4.public"]; s.Private || s.Sessions != 8 {
		t.Errorf("cowley2023.V4.public: private=%v sessions=%d, want public with 8 sessions", s.Private, s.Sessions)
	}

	// Importing again changes nothing.
	again, err := reg.ImportBuiltin(context.Background(), datasetsDir(t), []string{"algonauts2019-78.IT"}, AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Status != StatusUnchanged {
			t.Errorf("re-import %s: status %q, want unchanged", r.Summary.ID, r.Status)
		}
	}
	list, err := reg.List(context.Background())
	if err != nil || len(list) != len(want) {
		t.Fatalf("List: %d summaries, err %v; want %d", len(list), err, len(want))
	}
}
