package benchmarks

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// metricKind describes one metric kind in one place: where its settings
// are in a manifest, how they are checked and defaulted, whether the
// metric fits and chooses inside the benchmark, how its settings read and
// how its layer is chosen. The runner's table of metrics
// (scoring/runner) is keyed by the same kinds; a test there checks both
// list exactly the same ones.
type metricKind struct {
	kind MetricKind
	// advanced: one of the methods beyond plain RSA and ridge. They fit
	// and choose everything inside the benchmark (stimulus folds, seeded
	// splits), so a private benchmark is scored the same way as a public
	// one rather than on its partner's layer; their own settings (Layers,
	// Sets, Components) enter the version.
	advanced bool
	// crossValidated: nothing is chosen on seeded splits; the selection
	// policy is the stimulus folds.
	crossValidated bool
	// given reports whether the manifest's metric section names this kind.
	given func(s *MetricSpec) bool
	// check reports what is wrong with the kind's settings in m;
	// stimuli checks a stimulus section.
	check func(m *Manifest, bad func(string, ...any), stimuli func(what string, s *StimuliSpec))
	// settings fills in the defaults of a checked manifest.
	settings func(m *Manifest) Metric
	// describe is Metric.String.
	describe func(m Metric) string
}

// metricKinds is the one table of metric kinds, in the manifest's order.
var metricKinds = []metricKind{
	{
		kind:  MetricRSA,
		given: func(s *MetricSpec) bool { return s.RSA != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			rsa := m.Metric.RSA
			if m.RDMs == nil {
				bad("metric.rsa needs rdms")
			}
			switch rsa.Distance {
			case "", "correlation", "euclidean", "cosine":
			default:
				bad("metric.rsa.distance %q: want correlation, euclidean or cosine", rsa.Distance)
			}
			switch rsa.Comparison {
			case "", "spearman", "pearson", "kendall-tau-a":
			default:
				bad("metric.rsa.comparison %q: want spearman, pearson or kendall-tau-a", rsa.Comparison)
			}
		},
		settings: func(m *Manifest) Metric {
			r := m.Metric.RSA
			met := Metric{Kind: MetricRSA, Distance: r.Distance, Comparison: r.Comparison}
			if met.Distance == "" {
				met.Distance = "correlation"
			}
			if met.Comparison == "" {
				met.Comparison = "spearman"
			}
			return met
		},
		describe: func(m Metric) string { return fmt.Sprintf("rsa (%s RDM, %s)", m.Distance, m.Comparison) },
	},
	{
		kind:  MetricRidge,
		given: func(s *MetricSpec) bool { return s.Ridge != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			ridge := m.Metric.Ridge
			if m.RDMs != nil {
				bad("metric.ridge needs responses or sessions, not rdms")
			}
			if ridge.Folds < 0 || ridge.Folds == 1 || ridge.Folds > 100 {
				bad("metric.ridge.folds %d: want 2 to 100 (default 5)", ridge.Folds)
			}
			checkAlphas("ridge", ridge.Alphas, bad)
		},
		settings: func(m *Manifest) Metric {
			r := m.Metric.Ridge
			met := Metric{Kind: MetricRidge, Folds: r.Folds, Alphas: append([]float64(nil), r.Alphas...), Seed: r.Seed}
			if met.Folds == 0 {
				met.Folds = 5
			}
			return met
		},
		describe: func(m Metric) string {
			lo, hi := 0.0, 0.0
			if len(m.Alphas) > 0 {
				lo, hi = m.Alphas[0], m.Alphas[len(m.Alphas)-1]
			}
			return fmt.Sprintf("ridge (%d folds, %d alphas %g..%g, seed %d)", m.Folds, len(m.Alphas), lo, hi, m.Seed)
		},
	},
	{
		kind: MetricReweightedRSA, advanced: true, crossValidated: true,
		given: func(s *MetricSpec) bool { return s.ReweightedRSA != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			r := m.Metric.ReweightedRSA
			needRDMs(m, "reweighted_rsa", bad)
			checkDistance("reweighted_rsa", r.Distance, bad)
			checkComparison("reweighted_rsa", r.Comparison, bad)
			checkFolds("reweighted_rsa", "stimulus_folds", r.StimulusFolds, bad)
			checkLayers("reweighted_rsa", r.Layers, 2, bad)
		},
		settings: func(m *Manifest) Metric {
			r := m.Metric.ReweightedRSA
			return Metric{Kind: MetricReweightedRSA, Distance: orString(r.Distance, "correlation"), Comparison: orString(r.Comparison, "spearman"),
				Folds: orDefault(r.StimulusFolds, defaultStimulusFolds), Seed: r.Seed, Layers: layersSetting(r.Layers)}
		},
		describe: func(m Metric) string {
			return fmt.Sprintf("reweighted rsa (%s RDMs of %s, %s, %d stimulus folds × leave-one-subject-out, seed %d)", m.Distance, m.layerText(), m.Comparison, m.Folds, m.Seed)
		},
	},
	{
		kind: MetricVariancePartitioning, advanced: true, crossValidated: true,
		given: func(s *MetricSpec) bool { return s.VariancePartitioning != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			v := m.Metric.VariancePartitioning
			needRDMs(m, "variance_partitioning", bad)
			checkDistance("variance_partitioning", v.Distance, bad)
			checkFolds("variance_partitioning", "folds", v.Folds, bad)
			sets := v.Sets
			if len(sets) == 0 {
				sets = []string{"early", "late"}
			}
			if !slices.Equal(sets, []string{"early", "late"}) && !slices.Equal(sets, []string{"early", "middle", "late"}) {
				bad("metric.variance_partitioning.sets %v: want [early, late] or [early, middle, late]", v.Sets)
			}
			checkLayers("variance_partitioning", v.Layers, 2*len(sets), bad)
			if k, err := parseLayers(v.Layers, 2*len(sets)); err == nil && (k == 0 || k > maxVarPartLayers) {
				bad("metric.variance_partitioning.layers %q: want an integer from %d to %d (least squares on many, nearly collinear layer RDMs is singular and overfits)", v.Layers, 2*len(sets), maxVarPartLayers)
			}
		},
		settings: func(m *Manifest) Metric {
			v := m.Metric.VariancePartitioning
			sets := slices.Clone(v.Sets)
			if len(sets) == 0 {
				sets = []string{"early", "late"}
			}
			return Metric{Kind: MetricVariancePartitioning, Distance: orString(v.Distance, "correlation"),
				Folds: orDefault(v.Folds, defaultStimulusFolds), Seed: v.Seed, Layers: layersSetting(v.Layers), Sets: sets}
		},
		describe: func(m Metric) string {
			return fmt.Sprintf("variance partitioning (%s RDMs of %s in sets %s, %d stimulus folds, seed %d)", m.Distance, m.layerText(), strings.Join(m.Sets, "/"), m.Folds, m.Seed)
		},
	},
	{
		kind: MetricFeatureWeightedRSA, advanced: true, crossValidated: true,
		given: func(s *MetricSpec) bool { return s.FeatureWeightedRSA != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			f := m.Metric.FeatureWeightedRSA
			needRDMs(m, "feature_weighted_rsa", bad)
			checkComparison("feature_weighted_rsa", f.Comparison, bad)
			checkComponents("feature_weighted_rsa", f.Components, bad)
			if f.Components == 1 {
				bad("metric.feature_weighted_rsa.components 1: weighting needs at least 2 components")
			}
			checkLayers("feature_weighted_rsa", f.Layers, 1, bad)
			checkFolds("feature_weighted_rsa", "stimulus_folds", f.StimulusFolds, bad)
		},
		settings: func(m *Manifest) Metric {
			f := m.Metric.FeatureWeightedRSA
			return Metric{Kind: MetricFeatureWeightedRSA, Comparison: orString(f.Comparison, "spearman"),
				Folds: orDefault(f.StimulusFolds, defaultStimulusFolds), Seed: f.Seed, Layers: layersSetting(f.Layers), Components: orDefault(f.Components, defaultFWComponents)}
		},
		describe: func(m Metric) string {
			return fmt.Sprintf("feature-weighted rsa (%d principal components of %s, %s, %d stimulus folds, seed %d)", m.Components, m.layerText(), m.Comparison, m.Folds, m.Seed)
		},
	},
	{
		kind: MetricDecoding, advanced: true, crossValidated: true,
		given: func(s *MetricSpec) bool { return s.Decoding != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			d := m.Metric.Decoding
			if m.RDMs != nil {
				bad("metric.decoding needs responses or sessions, not rdms")
			}
			checkComponents("decoding", d.Components, bad)
			checkLayers("decoding", d.Layers, 1, bad)
			checkFolds("decoding", "folds", d.Folds, bad)
			checkAlphas("decoding", d.Alphas, bad)
		},
		settings: func(m *Manifest) Metric {
			d := m.Metric.Decoding
			return Metric{Kind: MetricDecoding, Folds: orDefault(d.Folds, defaultStimulusFolds), Alphas: slices.Clone(d.Alphas), Seed: d.Seed,
				Layers: layersSetting(d.Layers), Components: orDefault(d.Components, defaultDecodeComps)}
		},
		describe: func(m Metric) string {
			return fmt.Sprintf("decoding (%d principal components of %s, %d folds, %d alphas, seed %d)", m.Components, m.layerText(), m.Folds, len(m.Alphas), m.Seed)
		},
	},
	{
		kind: MetricTimeResolvedRSA, advanced: true,
		given: func(s *MetricSpec) bool { return s.TimeResolvedRSA != nil },
		check: func(m *Manifest, bad func(string, ...any), _ func(string, *StimuliSpec)) {
			t := m.Metric.TimeResolvedRSA
			if m.RDMs == nil || m.RDMs.Times == "" {
				bad("metric.time_resolved_rsa needs rdms with times: {file: rdms.npy, times: times.npy}, shape subjects × times × n × n")
			}
			checkDistance("time_resolved_rsa", t.Distance, bad)
			checkComparison("time_resolved_rsa", t.Comparison, bad)
		},
		settings: func(m *Manifest) Metric {
			t := m.Metric.TimeResolvedRSA
			return Metric{Kind: MetricTimeResolvedRSA, Distance: orString(t.Distance, "correlation"), Comparison: orString(t.Comparison, "spearman")}
		},
		describe: func(m Metric) string {
			return fmt.Sprintf("time-resolved rsa (%s RDM, %s)", m.Distance, m.Comparison)
		},
	},
	{
		kind: MetricRemix, advanced: true,
		given: func(s *MetricSpec) bool { return s.Remix != nil },
		check: func(m *Manifest, bad func(string, ...any), stimuli func(string, *StimuliSpec)) {
			rx := m.Metric.Remix
			if m.RDMs == nil || m.RDMs.Times != "" {
				bad("metric.remix needs rdms (without times)")
			}
			stimuli("metric.remix.training", &rx.Training)
			if rx.Training.Labels == nil {
				bad("metric.remix.training.labels is required: the classifier learns the categories from them")
			}
			if rx.Alpha < 0 || math.IsInf(rx.Alpha, 0) || math.IsNaN(rx.Alpha) {
				bad("metric.remix.alpha %g: want a positive penalty (default 1)", rx.Alpha)
			}
			checkDistance("remix", rx.Distance, bad)
			checkComparison("remix", rx.Comparison, bad)
			checkLayers("remix", rx.Layers, 1, bad)
		},
		settings: func(m *Manifest) Metric {
			rx := m.Metric.Remix
			alpha := rx.Alpha
			if alpha == 0 {
				alpha = 1
			}
			return Metric{Kind: MetricRemix, Distance: orString(rx.Distance, "euclidean"), Comparison: orString(rx.Comparison, "spearman"),
				Alphas: []float64{alpha}, Layers: layersSetting(rx.Layers)}
		},
		describe: func(m Metric) string {
			alpha := 0.0
			if len(m.Alphas) > 0 {
				alpha = m.Alphas[0]
			}
			return fmt.Sprintf("remix (ridge classifier, alpha %g, on %s; %s RDM of decision values, %s)", alpha, m.layerText(), m.Distance, m.Comparison)
		},
	},
}

// MetricKinds lists every metric kind a manifest can name.
func MetricKinds() []MetricKind {
	out := make([]MetricKind, len(metricKinds))
	for i, k := range metricKinds {
		out[i] = k.kind
	}
	return out
}

// lookupKind returns the table entry of k.
func lookupKind(k MetricKind) (metricKind, bool) {
	for _, mk := range metricKinds {
		if mk.kind == k {
			return mk, true
		}
	}
	return metricKind{}, false
}

// given returns the table entries of the kinds the section names.
func (s *MetricSpec) given() []metricKind {
	var out []metricKind
	for _, mk := range metricKinds {
		if mk.given(s) {
			out = append(out, mk)
		}
	}
	return out
}

// The checks the kinds share.

func checkDistance(what, d string, bad func(string, ...any)) {
	switch d {
	case "", "correlation", "euclidean", "cosine":
	default:
		bad("metric.%s.distance %q: want correlation, euclidean or cosine", what, d)
	}
}

func checkComparison(what, c string, bad func(string, ...any)) {
	switch c {
	case "", "spearman", "pearson", "kendall-tau-a":
	default:
		bad("metric.%s.comparison %q: want spearman, pearson or kendall-tau-a", what, c)
	}
}

func checkLayers(what, l string, least int, bad func(string, ...any)) {
	if _, err := parseLayers(l, least); err != nil {
		bad("metric.%s.layers %q: %v", what, l, err)
	}
}

func checkFolds(what, key string, k int, bad func(string, ...any)) {
	if k < 0 || k == 1 || k > 100 {
		bad("metric.%s.%s %d: want 2 to 100 (default %d)", what, key, k, defaultStimulusFolds)
	}
}

func needRDMs(m *Manifest, what string, bad func(string, ...any)) {
	switch {
	case m.RDMs == nil:
		bad("metric.%s needs rdms", what)
	case m.RDMs.Times != "":
		bad("metric.%s needs rdms without times (time-resolved RDMs go with time_resolved_rsa)", what)
	}
}

func checkComponents(what string, c int, bad func(string, ...any)) {
	if c < 0 || c > 1000 {
		bad("metric.%s.components %d: want 1 to 1000", what, c)
	}
}

func checkAlphas(what string, alphas []float64, bad func(string, ...any)) {
	if len(alphas) == 0 || len(alphas) > 100 {
		bad("metric.%s.alphas: give 1 to 100 penalties, e.g. [0.1, 1, 10, 100]", what)
	}
	for i, a := range alphas {
		if !(a > 0) || math.IsInf(a, 0) || (i > 0 && a <= alphas[i-1]) {
			bad("metric.%s.alphas must be positive, finite and increasing", what)
			break
		}
	}
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

func orString(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// layersSetting reads a checked layers setting.
func layersSetting(s string) int {
	k, _ := parseLayers(s, 0) // checked already
	return k
}
