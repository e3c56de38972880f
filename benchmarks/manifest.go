package benchmarks

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"io"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Manifest is the YAML a maintainer writes to add a benchmark. Paths are
// relative to the manifest's folder, slash-separated, and may not leave
// it. Exactly one of RDMs, Responses and Sessions is given; Stimuli goes
// with RDMs and Responses (each session names its own). Unknown keys are
// errors. Example (see catalogue/ for more):
//
//	id: algonauts2019-92.IT
//	title: Algonauts 2019, 92 objects, human IT (fMRI)
//	parent: IT
//	metadata: {species: human, region: IT, method: fMRI, licence: BSD-3-Clause, citation: "@article{...}"}
//	stimuli:
//	  dir: algonauts2019-92/stimuli          # or zip: images.zip; order: order.txt
//	  labels: {csv: kriegeskorte2008-92/stimuli.csv, column: category}
//	rdms: {file: algonauts2019-92/rdms/IT.npy}   # npz: key: IT; 4-D: sessions: mean
//	metric: {rsa: {distance: correlation, comparison: spearman}}
//	ceiling: {method: rsa-nili}
//	splits: {count: 10, selection_fraction: 0.5, stratify_by_label: true, seed: 1}
type Manifest struct {
	ID        string           `yaml:"id"`
	Title     string           `yaml:"title"`
	Parent    string           `yaml:"parent,omitempty"`
	Private   bool             `yaml:"private,omitempty"`
	Partner   string           `yaml:"partner,omitempty"`
	Metadata  ManifestMetadata `yaml:"metadata"`
	Stimuli   *StimuliSpec     `yaml:"stimuli,omitempty"`
	RDMs      *ArraySpec       `yaml:"rdms,omitempty"`
	Responses *ResponsesSpec   `yaml:"responses,omitempty"`
	Sessions  []SessionSpec    `yaml:"sessions,omitempty"`
	Metric    MetricSpec       `yaml:"metric"`
	Ceiling   CeilingSpec      `yaml:"ceiling"`
	Splits    *SplitsSpec      `yaml:"splits,omitempty"`
	// Scoring states the benchmark's scoring conventions (issue 16):
	// ceiled-score transform, feature handling, layer selection
	// (region commitment) and its region and commit benchmarks.
	Scoring *ScoringSpec `yaml:"scoring,omitempty"`

	file string // where the manifest came from, for errors
}

// ManifestMetadata is the descriptive part of a manifest.
type ManifestMetadata struct {
	Species     string `yaml:"species"`
	Region      string `yaml:"region"`
	Method      string `yaml:"method"`
	Licence     string `yaml:"licence"`
	Citation    string `yaml:"citation"` // BibTeX
	Description string `yaml:"description,omitempty"`
}

// StimuliSpec names the images: a folder (dir) or a zip archive (zip),
// in the order of an order file (one file name per line) or else in file
// order (sorted names for a folder, archive order for a zip; directory
// entries and non-image files are skipped, a zip's folder prefix is
// dropped from names).
type StimuliSpec struct {
	Dir    string      `yaml:"dir,omitempty"`
	Zip    string      `yaml:"zip,omitempty"`
	Order  string      `yaml:"order,omitempty"`
	Labels *LabelsSpec `yaml:"labels,omitempty"`
	// Degrees is the images' size in degrees of visual angle as the
	// subjects saw them (a positive number up to 180); omitted: not
	// stated. Not for remix training images.
	Degrees float64 `yaml:"degrees,omitempty"`
}

// LabelsSpec takes one label per stimulus from a CSV column: matched by
// the file name in column Match when given, else row by row.
type LabelsSpec struct {
	CSV    string `yaml:"csv"`
	Column string `yaml:"column"`
	Match  string `yaml:"match,omitempty"`
}

// ArraySpec names an array: a .npy file, or a member (Key) of a .npz.
type ArraySpec struct {
	File string `yaml:"file"`
	Key  string `yaml:"key,omitempty"`
	// Sessions: "mean" for an RDM set subjects × sessions × n × n, whose
	// sessions are averaged per subject.
	Sessions string `yaml:"sessions,omitempty"`
	// Times makes rdms time-resolved: a .npy of the time points (seconds
	// from stimulus onset, increasing) of an RDM set subjects × times ×
	// n × n. Only for rdms, and only with metric time_resolved_rsa.
	Times string `yaml:"times,omitempty"`
	// Form says how asymmetric matrices are to be read (rdms only):
	// split-half-similarity (row: pattern of half A, column: half B) or
	// cv-dissimilarity (row: fold A, column: fold B). Omitted: symmetric
	// dissimilarities with a zero diagonal.
	Form string `yaml:"form,omitempty"`
}

// ResponsesSpec is a targets × stimuli matrix with optional repeats
// (targets × stimuli × repeats, NaN-padded).
type ResponsesSpec struct {
	File    string     `yaml:"file"`
	Key     string     `yaml:"key,omitempty"`
	Repeats *ArraySpec `yaml:"repeats,omitempty"`
}

// SessionSpec is one session of a multi-session set.
type SessionSpec struct {
	ID        string      `yaml:"id"`
	Responses ArraySpec   `yaml:"responses"`
	Repeats   *ArraySpec  `yaml:"repeats,omitempty"`
	Stimuli   StimuliSpec `yaml:"stimuli"`
}

// MetricSpec: exactly one metric. MANIFEST.md says what each answers.
type MetricSpec struct {
	RSA                  *RSASpec                  `yaml:"rsa,omitempty"`
	Ridge                *RidgeSpec                `yaml:"ridge,omitempty"`
	ReweightedRSA        *ReweightedRSASpec        `yaml:"reweighted_rsa,omitempty"`
	VariancePartitioning *VariancePartitioningSpec `yaml:"variance_partitioning,omitempty"`
	FeatureWeightedRSA   *FeatureWeightedRSASpec   `yaml:"feature_weighted_rsa,omitempty"`
	Decoding             *DecodingSpec             `yaml:"decoding,omitempty"`
	TimeResolvedRSA      *RSASpec                  `yaml:"time_resolved_rsa,omitempty"`
	Remix                *RemixSpec                `yaml:"remix,omitempty"`
}

// RemixSpec: training names labelled images that are not benchmark
// stimuli (as StimuliSpec; labels required, at least two classes);
// alpha is the ridge classifier's penalty (default 1); distance is the
// RDM of the decision values (default euclidean: with two classes the
// decision is one number per image, for which correlation distance is
// undefined); comparison as RSASpec; layers as ReweightedRSASpec
// (default 8, or all).
type RemixSpec struct {
	Training   StimuliSpec `yaml:"training"`
	Alpha      float64     `yaml:"alpha,omitempty"`
	Distance   string      `yaml:"distance,omitempty"`
	Comparison string      `yaml:"comparison,omitempty"`
	Layers     string      `yaml:"layers,omitempty"`
}

// ReweightedRSASpec: distance and comparison as RSASpec; stimulus_folds
// (default 5) dealt with seed; layers: how many candidate layers, evenly
// spaced in depth, are combined ("all" or an integer ≥ 2; default 8).
type ReweightedRSASpec struct {
	Distance      string `yaml:"distance,omitempty"`
	Comparison    string `yaml:"comparison,omitempty"`
	StimulusFolds int    `yaml:"stimulus_folds,omitempty"`
	Seed          uint64 `yaml:"seed,omitempty"`
	Layers        string `yaml:"layers,omitempty"`
}

// VariancePartitioningSpec: distance as RSASpec; sets [early, late]
// (default) or [early, middle, late]; layers (an integer, at least 2 per
// set and at most 32; default 8) cut into the sets by depth; folds (stimulus
// folds, default 5) dealt with seed.
type VariancePartitioningSpec struct {
	Distance string   `yaml:"distance,omitempty"`
	Sets     []string `yaml:"sets,flow,omitempty"`
	Layers   string   `yaml:"layers,omitempty"`
	Folds    int      `yaml:"folds,omitempty"`
	Seed     uint64   `yaml:"seed,omitempty"`
}

// FeatureWeightedRSASpec: comparison as RSASpec; components (principal
// components weighted per layer, default 10); layers ("all" or an integer,
// default 8); stimulus_folds (default 5) dealt with seed.
type FeatureWeightedRSASpec struct {
	Comparison    string `yaml:"comparison,omitempty"`
	Components    int    `yaml:"components,omitempty"`
	Layers        string `yaml:"layers,omitempty"`
	StimulusFolds int    `yaml:"stimulus_folds,omitempty"`
	Seed          uint64 `yaml:"seed,omitempty"`
}

// DecodingSpec: components (principal components of each layer predicted
// from the brain, default 20); layers ("all" or an integer, default 8);
// folds (default 5), alphas (required, as RidgeSpec) and seed.
type DecodingSpec struct {
	Components int       `yaml:"components,omitempty"`
	Layers     string    `yaml:"layers,omitempty"`
	Folds      int       `yaml:"folds,omitempty"`
	Alphas     []float64 `yaml:"alphas,flow"`
	Seed       uint64    `yaml:"seed,omitempty"`
}

// Defaults of the advanced metrics.
const (
	defaultAdvancedLayers = 8
	defaultStimulusFolds  = 5
	defaultFWComponents   = 10
	defaultDecodeComps    = 20
	// maxVarPartLayers bounds the layers of variance partitioning: with
	// all 240 MobileNetV2 layers (130 after dropping affine copies) the
	// least-squares design is rank-deficient.
	maxVarPartLayers = 32
)

// parseLayers reads a layers setting: "" gives the default, "all" gives
// 0 (every candidate), else an integer ≥ least.
func parseLayers(s string, least int) (int, error) {
	switch s {
	case "":
		return defaultAdvancedLayers, nil
	case "all":
		return 0, nil
	}
	var k int
	if _, err := fmt.Sscan(s, &k); err != nil || fmt.Sprint(k) != s || k < least || k > 1000 {
		return 0, fmt.Errorf("want \"all\" or an integer from %d to 1000", least)
	}
	return k, nil
}

// RSASpec: distance correlation|euclidean|cosine (default correlation),
// comparison spearman|pearson|kendall-tau-a (default spearman).
type RSASpec struct {
	Distance   string `yaml:"distance,omitempty"`
	Comparison string `yaml:"comparison,omitempty"`
}

// RidgeSpec: outer folds (default 5), the alpha grid (required, positive,
// increasing) and the fold seed.
type RidgeSpec struct {
	Folds  int       `yaml:"folds,omitempty"`
	Alphas []float64 `yaml:"alphas,flow"`
	Seed   uint64    `yaml:"seed,omitempty"`
}

// CeilingSpec: method rsa-nili | split-half | none (reason required).
// split-half uses the repeats of the responses, or of the session named.
type CeilingSpec struct {
	Method  string `yaml:"method"`
	Pool    string `yaml:"pool,omitempty"` // rsa-nili: mean (default) or standardized
	Reason  string `yaml:"reason,omitempty"`
	Session string `yaml:"session,omitempty"`
	Splits  int    `yaml:"splits,omitempty"` // default 100
	Seed    uint64 `yaml:"seed,omitempty"`
	// Bound (rsa-nili): which estimate ceiled scores divide by: upper
	// (default), lower, leave-one-subject-out or halves (asymmetric rdms
	// only).
	Bound string `yaml:"bound,omitempty"`
}

// ScoringSpec is the scoring section of a manifest (issue 16); every key
// is optional and its absence keeps the behaviour of benchmarks before it.
//
//   - transform: ratio (default: raw / ceiling) or squared-clipped
//     ((raw / ceiling)² with the ratio clipped to [0, 1] first).
//   - features (metric rsa): as-is (default), zscore (each unit z-scored
//     across the stimuli before the model RDM) or zscore-reliable (the
//     same, keeping only units whose mean response is reliably non-zero).
//   - selection: commit (the layer the model commits to the region,
//     chosen on the commit benchmarks) or held-out (this benchmark's own
//     seeded splits). Default: commit for metric rsa or ridge with fewer
//     than 50 stimuli, else held-out. held-out needs at least 20 stimuli.
//   - region: the region a committed benchmark scores (default
//     metadata.region); giving it (or commit_on) implies selection commit.
//   - commit_on: the commit benchmarks (ids); default from
//     catalogue/regions.yaml by region.
type ScoringSpec struct {
	Transform string   `yaml:"transform,omitempty"`
	Features  string   `yaml:"features,omitempty"`
	Selection string   `yaml:"selection,omitempty"`
	Region    string   `yaml:"region,omitempty"`
	CommitOn  []string `yaml:"commit_on,flow,omitempty"`
}

// Thresholds of layer selection (stimuli of the benchmark, summed over
// sessions).
const (
	// commitBelow: RSA and ridge benchmarks with fewer stimuli commit by
	// default: choosing a layer on half of them is noise (issue 16: on 24
	// stimuli trained and shuffled networks were indistinguishable).
	commitBelow = 50
)

// SplitsSpec is the layer-selection policy (see Splits). Defaults: 10
// splits, selection fraction 0.5.
type SplitsSpec struct {
	Count             int     `yaml:"count,omitempty"`
	SelectionFraction float64 `yaml:"selection_fraction,omitempty"`
	StratifyByLabel   bool    `yaml:"stratify_by_label,omitempty"`
	Seed              uint64  `yaml:"seed,omitempty"`
}

// maxManifestBytes bounds what ParseManifest reads: manifests are small.
const maxManifestBytes = 1 << 20

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	sessionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	unknownField   = regexp.MustCompile(`field (\S+) not found in type \S+`)
)

// ParseManifest decodes and checks a manifest. name is the file name used
// in errors. Unknown keys, a second YAML document, and settings that do
// not fit together are errors naming name (and the line, for YAML errors).
// It does not open any data file.
func ParseManifest(name string, data []byte) (*Manifest, error) {
	if len(data) > maxManifestBytes {
		return nil, invalid(name, "manifest is %d bytes, more than the %d allowed", len(data), maxManifestBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalid(name, "manifest is empty")
		}
		return nil, invalid(name, "%s", yamlProblem(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, invalid(name, "more than one YAML document (remove the second '---')")
	}
	if err := m.check(); err != nil {
		return nil, invalid(name, "%s", err.Error())
	}
	m.file = name
	return &m, nil
}

// yamlProblem rewords yaml.v3's messages, which say "field x not found in
// type benchmarks.Manifest", into the user's terms.
func yamlProblem(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	s = strings.ReplaceAll(s, "unmarshal errors:\n  ", "")
	s = unknownField.ReplaceAllString(s, "unknown key $1")
	return strings.ReplaceAll(s, "\n  ", "; ")
}

func (m *Manifest) check() error {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	if !idPattern.MatchString(m.ID) {
		bad("id %q must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", m.ID)
	}
	if strings.TrimSpace(m.Title) == "" {
		bad("title is required")
	}
	if m.Parent != "" && !idPattern.MatchString(m.Parent) {
		bad("parent %q must be letters, digits, '.', '_' or '-'", m.Parent)
	}
	if m.Private && m.Partner == "" && (m.Scoring == nil || m.Scoring.Selection == SelectionHeldOut) {
		bad("a private benchmark needs a partner (the public benchmark its layer is selected on) or region commitment (scoring: {selection: commit})")
	}
	if m.Partner != "" && (!idPattern.MatchString(m.Partner) || m.Partner == m.ID) {
		bad("partner %q must be the id of another benchmark", m.Partner)
	}
	md := m.Metadata
	for _, f := range []struct{ key, val string }{
		{"species", md.Species}, {"region", md.Region}, {"method", md.Method}, {"licence", md.Licence}, {"citation", md.Citation},
	} {
		if strings.TrimSpace(f.val) == "" {
			bad("metadata.%s is required", f.key)
		}
	}
	if c := strings.TrimSpace(md.Citation); c != "" && !strings.HasPrefix(c, "@") {
		bad("metadata.citation must be BibTeX (start with @article{...} or similar)")
	}

	kinds := 0
	if m.RDMs != nil {
		kinds++
	}
	if m.Responses != nil {
		kinds++
	}
	if len(m.Sessions) > 0 {
		kinds++
	}
	if kinds != 1 {
		bad("give exactly one of rdms, responses and sessions")
	}
	checkPath := func(what, p string, required bool) {
		if p == "" {
			if required {
				bad("%s is required", what)
			}
			return
		}
		if err := checkRelPath(p); err != nil {
			bad("%s %q: %v", what, p, err)
		}
	}
	checkStimuli := func(what string, s *StimuliSpec) {
		if (s.Dir == "") == (s.Zip == "") {
			bad("%s: give exactly one of dir and zip", what)
		}
		checkPath(what+".dir", s.Dir, false)
		checkPath(what+".zip", s.Zip, false)
		checkPath(what+".order", s.Order, false)
		if l := s.Labels; l != nil {
			checkPath(what+".labels.csv", l.CSV, true)
			if l.Column == "" {
				bad("%s.labels.column is required", what)
			}
		}
		if d := s.Degrees; d != 0 && !(d > 0 && d <= 180) {
			bad("%s.degrees %v: want the images' size in degrees of visual angle, a number above 0 and at most 180", what, d)
		}
	}
	checkArray := func(what string, a *ArraySpec, sessionsOK bool) {
		checkPath(what+".file", a.File, true)
		ext := strings.ToLower(filepath.Ext(a.File))
		switch {
		case ext == ".npz" && a.Key == "":
			bad("%s.key is required for a .npz file (the member name)", what)
		case ext == ".npy" && a.Key != "":
			bad("%s.key is only for .npz files", what)
		case a.File != "" && ext != ".npy" && ext != ".npz":
			bad("%s.file must be a .npy or .npz file", what)
		}
		switch {
		case a.Form == "":
		case !sessionsOK:
			bad("%s.form: only rdms have a form", what)
		case a.Form != FormSplitHalfSimilarity && a.Form != FormCVDissimilarity:
			bad("%s.form %q: want %s or %s (omit it for symmetric dissimilarities)", what, a.Form, FormSplitHalfSimilarity, FormCVDissimilarity)
		case a.Times != "":
			bad("%s: form is not supported for time-resolved RDMs (times)", what)
		}
		if a.Sessions != "" && (!sessionsOK || a.Sessions != "mean") {
			bad("%s.sessions: only \"mean\" is supported, and only for rdms", what)
		}
		if a.Times != "" {
			switch {
			case !sessionsOK:
				bad("%s.times: only rdms can be time-resolved", what)
			case a.Sessions != "":
				bad("%s: give sessions or times, not both (a time-resolved set is subjects × times × n × n)", what)
			case strings.ToLower(filepath.Ext(a.Times)) != ".npy":
				bad("%s.times must be a .npy file of the time points", what)
			}
			checkPath(what+".times", a.Times, false)
		}
	}
	if m.RDMs != nil {
		checkArray("rdms", m.RDMs, true)
	}
	if m.Responses != nil {
		checkArray("responses", &ArraySpec{File: m.Responses.File, Key: m.Responses.Key}, false)
		if m.Responses.Repeats != nil {
			checkArray("responses.repeats", m.Responses.Repeats, false)
		}
	}
	if m.RDMs != nil || m.Responses != nil {
		if m.Stimuli == nil {
			bad("stimuli is required")
		} else {
			checkStimuli("stimuli", m.Stimuli)
		}
	} else if m.Stimuli != nil && len(m.Sessions) > 0 {
		bad("stimuli goes inside each session for a multi-session set")
	}
	seen := map[string]bool{}
	for i := range m.Sessions {
		s := &m.Sessions[i]
		what := fmt.Sprintf("sessions[%d]", i)
		if !sessionPattern.MatchString(s.ID) {
			bad("%s.id %q must be letters, digits, '.', '_' or '-' (quote numbers: \"190923\")", what, s.ID)
		}
		if seen[s.ID] {
			bad("%s.id %q is repeated", what, s.ID)
		}
		seen[s.ID] = true
		checkArray(what+".responses", &s.Responses, false)
		if s.Repeats != nil {
			checkArray(what+".repeats", s.Repeats, false)
		}
		checkStimuli(what+".stimuli", &s.Stimuli)
	}

	timeResolved := m.RDMs != nil && m.RDMs.Times != ""
	given := m.Metric.given()
	switch {
	case len(given) != 1:
		bad("metric: give exactly one of rsa, ridge, reweighted_rsa, variance_partitioning, feature_weighted_rsa, decoding and time_resolved_rsa")
	case m.Metric.TimeResolvedRSA == nil && timeResolved:
		bad("rdms.times (time-resolved RDMs) needs metric time_resolved_rsa")
	default:
		given[0].check(m, bad, checkStimuli)
	}

	c := m.Ceiling
	switch CeilingMethod(c.Method) {
	case CeilingRSANili:
		if m.RDMs == nil {
			bad("ceiling rsa-nili needs rdms")
		}
		if m.Metric.VariancePartitioning != nil {
			bad("variance_partitioning reports R², for which the rsa-nili ceiling (a correlation) does not apply: use ceiling method none with a reason")
		}
		if pool, err := ceiling.ParsePool(c.Pool); err != nil {
			bad("ceiling.pool %q: want mean or standardized", c.Pool)
		} else if pool != ceiling.PoolMean && m.Metric.RSA == nil {
			bad("ceiling.pool standardized is supported for metric rsa only")
		}
	case CeilingSplitHalf:
		switch {
		case m.Responses != nil && m.Responses.Repeats == nil:
			bad("ceiling split-half needs responses.repeats")
		case m.RDMs != nil:
			bad("ceiling split-half needs responses with repeats, not rdms")
		case len(m.Sessions) > 0:
			var sess *SessionSpec
			for i := range m.Sessions {
				if m.Sessions[i].ID == c.Session {
					sess = &m.Sessions[i]
				}
			}
			if sess == nil || sess.Repeats == nil {
				bad("ceiling.session %q must name a session that has repeats", c.Session)
			}
		}
		if c.Splits < 0 || c.Splits > 10000 {
			bad("ceiling.splits %d: want 1 to 10000 (default 100)", c.Splits)
		}
	case CeilingNone:
		if strings.TrimSpace(c.Reason) == "" {
			bad("ceiling none needs a reason (e.g. \"group RDM only\")")
		}
	default:
		bad("ceiling.method %q: want rsa-nili, split-half or none", c.Method)
	}
	if c.Session != "" && CeilingMethod(c.Method) != CeilingSplitHalf {
		bad("ceiling.session is only for split-half")
	}
	if c.Pool != "" && CeilingMethod(c.Method) != CeilingRSANili {
		bad("ceiling.pool is only for rsa-nili")
	}

	if c.Bound != "" {
		switch bound, err := ceiling.ParseBound(c.Bound); {
		case err != nil:
			bad("ceiling.bound %q: want upper, lower, leave-one-subject-out or halves", c.Bound)
		case CeilingMethod(c.Method) != CeilingRSANili:
			bad("ceiling.bound is only for rsa-nili")
		case bound != ceiling.BoundUpper && m.Metric.RSA == nil:
			bad("ceiling.bound %s is supported for metric rsa only (the other metrics divide by the upper bound)", c.Bound)
		case bound == ceiling.BoundHalves && (m.RDMs == nil || m.RDMs.Form == ""):
			bad("ceiling.bound halves needs asymmetric RDMs: rdms.form split-half-similarity or cv-dissimilarity")
		}
	}
	m.checkDegrees(bad)
	m.checkScoring(bad)

	if s := m.Splits; s != nil {
		if s.Count < 0 || s.Count > 1000 {
			bad("splits.count %d: want 1 to 1000 (default 10)", s.Count)
		}
		if s.SelectionFraction != 0 && !(s.SelectionFraction > 0 && s.SelectionFraction < 1) {
			bad("splits.selection_fraction must be between 0 and 1 (default 0.5)")
		}
		if s.StratifyByLabel && !m.hasLabels() {
			bad("splits.stratify_by_label needs stimuli.labels")
		}
	}
	if len(probs) > 0 {
		return errors.New(strings.Join(probs, "; "))
	}
	return nil
}

// checkDegrees: one size in degrees for the benchmark; sessions state the
// same (or none), remix training images none (they are not shown to
// subjects).
func (m *Manifest) checkDegrees(bad func(string, ...any)) {
	if rx := m.Metric.Remix; rx != nil && rx.Training.Degrees != 0 {
		bad("metric.remix.training.degrees: training images are not shown to subjects; state degrees under stimuli only")
	}
	var first float64
	for i, s := range m.Sessions {
		if i == 0 {
			first = s.Stimuli.Degrees
		} else if s.Stimuli.Degrees != first {
			bad("sessions[%d].stimuli.degrees %v differs from sessions[0]'s %v: every session must state the same size (or none)", i, s.Stimuli.Degrees, first)
			return
		}
	}
}

// checkScoring checks the scoring section; what depends on the data (the
// stimulus count) or the registry (commit benchmarks) is checked at
// import.
func (m *Manifest) checkScoring(bad func(string, ...any)) {
	sc := m.Scoring
	if sc == nil {
		return
	}
	if _, err := ceiling.ParseTransform(sc.Transform); err != nil {
		bad("scoring.transform %q: want ratio or squared-clipped", sc.Transform)
	} else if sc.Transform == string(ceiling.TransformSquaredClipped) && CeilingMethod(m.Ceiling.Method) == CeilingNone {
		bad("scoring.transform squared-clipped needs a ceiling (ceiling method none gives no ceiled score)")
	}
	switch sc.Features {
	case "", "as-is":
	case FeaturesZScore, FeaturesZScoreReliable:
		if m.Metric.RSA == nil {
			bad("scoring.features %s is supported for metric rsa only", sc.Features)
		}
	default:
		bad("scoring.features %q: want as-is, zscore or zscore-reliable", sc.Features)
	}
	simple := m.Metric.RSA != nil || m.Metric.Ridge != nil
	switch sc.Selection {
	case "", SelectionHeldOut:
	case SelectionCommit:
		if !simple {
			bad("scoring.selection commit is for metric rsa or ridge; the advanced metrics fit and choose within the benchmark")
		}
	default:
		bad("scoring.selection %q: want commit or held-out", sc.Selection)
	}
	if m.Partner != "" && (sc.Selection != "" || sc.Region != "" || len(sc.CommitOn) > 0) {
		bad("partner is already region commitment on one benchmark: give either partner or scoring.selection/region/commit_on, not both")
	}
	if sc.Region != "" && !idPattern.MatchString(sc.Region) {
		bad("scoring.region %q must be letters, digits, '.', '_' or '-' (e.g. IT, V4, EVC)", sc.Region)
	}
	if sc.Selection == SelectionHeldOut && (sc.Region != "" || len(sc.CommitOn) > 0) {
		bad("scoring.region and scoring.commit_on are for selection commit, not held-out")
	}
	if (len(sc.CommitOn) > 0 || sc.Region != "") && !simple {
		bad("scoring.region and scoring.commit_on are for metric rsa or ridge (region commitment); the advanced metrics fit and choose within the benchmark")
	}
	seen := map[string]bool{}
	for i, id := range sc.CommitOn {
		switch {
		case !idPattern.MatchString(id):
			bad("scoring.commit_on[%d] %q is not a benchmark id", i, id)
		case id == m.ID:
			bad("scoring.commit_on[%d]: a benchmark cannot commit on itself (name the region's public commit benchmarks)", i)
		case seen[id]:
			bad("scoring.commit_on[%d] %q is repeated", i, id)
		}
		seen[id] = true
	}
}

// name is the manifest's file name for errors (its id when it was not
// read from a file).
func (m *Manifest) name() string {
	if m.file != "" {
		return m.file
	}
	return m.ID
}

func (m *Manifest) hasLabels() bool {
	if m.Stimuli != nil {
		return m.Stimuli.Labels != nil
	}
	for _, s := range m.Sessions {
		if s.Stimuli.Labels == nil {
			return false
		}
	}
	return len(m.Sessions) > 0
}

// checkRelPath refuses paths that are absolute or climb out with "..".
// Symlinks are caught when the file is opened (os.Root).
func checkRelPath(p string) error {
	if strings.Contains(p, `\`) {
		return errors.New("use '/' to separate folders")
	}
	if !filepath.IsLocal(filepath.FromSlash(p)) || strings.HasPrefix(p, "/") {
		return errors.New("path leaves the manifest's folder: use a path relative to it, without '..'")
	}
	return nil
}

// settings turns a checked manifest into the benchmark's settings with
// defaults filled in.
func (m *Manifest) settings() (Metric, CeilingPolicy, Splits) {
	var met Metric
	if kinds := m.Metric.given(); len(kinds) == 1 {
		met = kinds[0].settings(m)
	}
	c := CeilingPolicy{Method: CeilingMethod(m.Ceiling.Method), Reason: m.Ceiling.Reason}
	if pool, _ := ceiling.ParsePool(m.Ceiling.Pool); pool != ceiling.PoolMean {
		c.Pool = string(pool) // the default stays empty: versions of existing benchmarks do not change
	}
	if bound, _ := ceiling.ParseBound(m.Ceiling.Bound); bound != ceiling.BoundUpper {
		c.Bound = bound // as Pool: upper stays empty
	}
	if c.Method == CeilingSplitHalf {
		c.Session, c.Splits, c.Seed = m.Ceiling.Session, m.Ceiling.Splits, m.Ceiling.Seed
		if c.Splits == 0 {
			c.Splits = 100
		}
	}
	sp := Splits{Count: 10, SelectionFraction: 0.5}
	if s := m.Splits; s != nil {
		if s.Count > 0 {
			sp.Count = s.Count
		}
		if s.SelectionFraction > 0 {
			sp.SelectionFraction = s.SelectionFraction
		}
		sp.StratifyByLabel, sp.Seed = s.StratifyByLabel, s.Seed
	}
	return met, c, sp
}
