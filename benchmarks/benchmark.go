package benchmarks

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
)

// Sentinel errors, wrapped with %w by every function of this package.
var (
	// ErrInvalid: a manifest or a data file is wrong; the error is a
	// *ValidationError naming the file and the problem.
	ErrInvalid = errors.New("invalid benchmark")
	// ErrNotFound: no benchmark has that identifier (or version).
	ErrNotFound = errors.New("benchmark not found")
	// ErrExists: the identifier is taken by a benchmark with different
	// data or settings.
	ErrExists = errors.New("benchmark already exists with different data")
)

// ValidationError is a user's mistake in a manifest or a data file.
type ValidationError struct {
	File    string // the manifest or data file, as the manifest names it
	Problem string // what is wrong and, where possible, how to fix it
}

func (e *ValidationError) Error() string { return e.File + ": " + e.Problem }

// Unwrap makes every ValidationError match ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(file, format string, args ...any) error {
	return &ValidationError{File: file, Problem: fmt.Sprintf(format, args...)}
}

// Kind is the shape of a benchmark's data.
type Kind string

const (
	// KindRDM: RDMs over one stimulus set, subjects × n × n (or
	// subjects × sessions × n × n averaged over sessions, or one group
	// RDM n × n).
	KindRDM Kind = "rdm"
	// KindResponses: one response matrix targets × stimuli over one
	// stimulus set, optionally with repeats (targets × stimuli × repeats).
	KindResponses Kind = "responses"
	// KindSessions: several recording sessions, each with its own stimuli
	// and its own targets × stimuli matrix (e.g. Cowley et al. V4).
	KindSessions Kind = "sessions"
	// KindTimeRDM: time-resolved RDMs over one stimulus set (MEG/EEG),
	// subjects × times × n × n, with the times in a second array.
	KindTimeRDM Kind = "time-rdm"
)

// MetricKind names how a model is compared with the data.
type MetricKind string

const (
	// MetricRSA compares model RDMs with each subject's RDM.
	MetricRSA MetricKind = "rsa"
	// MetricRidge predicts each target from layer features with ridge
	// regression (encoding model).
	MetricRidge MetricKind = "ridge"
	// MetricReweightedRSA models each subject's RDM as a non-negative
	// combination of several layers' RDMs, cross-validated over stimuli
	// and subjects (scoring/reweight).
	MetricReweightedRSA MetricKind = "reweighted_rsa"
	// MetricVariancePartitioning splits the cross-validated R² of the
	// mean brain RDM between RDM sets of early and late layers
	// (scoring/varpart).
	MetricVariancePartitioning MetricKind = "variance_partitioning"
	// MetricFeatureWeightedRSA fits non-negative weights of a layer's
	// principal components to the brain RDM, cross-validated
	// (scoring/fwrsa).
	MetricFeatureWeightedRSA MetricKind = "feature_weighted_rsa"
	// MetricDecoding predicts a layer's principal components from the
	// brain responses with cross-validated ridge (scoring/decode).
	MetricDecoding MetricKind = "decoding"
	// MetricTimeResolvedRSA compares layer RDMs with time-resolved brain
	// RDMs at every time point (scoring/timersa).
	MetricTimeResolvedRSA MetricKind = "time_resolved_rsa"
	// MetricRemix compares with each subject's RDM the RDM of a linear
	// classifier's decision values, the classifier trained on a layer's
	// features of a separate labelled image set (scoring/remix).
	MetricRemix MetricKind = "remix"
)

// Advanced reports whether the metric is one of the methods beyond plain
// RSA and ridge. They fit and choose everything inside the benchmark
// (stimulus folds, seeded splits), so a private benchmark is scored the
// same way as a public one rather than on its partner's layer.
func (k MetricKind) Advanced() bool {
	mk, _ := lookupKind(k)
	return mk.advanced
}

// CeilingMethod names how the noise ceiling is computed.
type CeilingMethod string

const (
	CeilingRSANili   CeilingMethod = "rsa-nili"
	CeilingSplitHalf CeilingMethod = "split-half"
	CeilingNone      CeilingMethod = "none"
)

// Benchmark is one version of one benchmark: what the runner needs to
// score a model and what the registry stores about it. It may hold
// stimulus names; serve a Summary instead.
type Benchmark struct {
	ID      string // e.g. "algonauts2019-92.IT"
	Version string // content hash of data and settings (hex)
	Title   string
	Parent  string // aggregation parent, e.g. "IT"; empty for none
	Private bool
	Partner string // public benchmark on which a private one's layer is selected
	Created time.Time

	Metadata Metadata
	Metric   Metric
	Ceiling  CeilingPolicy
	Splits   Splits
	Dataset  Dataset
	// Conventions are the scoring conventions beyond the metric (issue
	// 16); the zero value is the behaviour of every benchmark before them
	// and does not enter the version.
	Conventions Conventions

	// CeilingValue is the ceiling computed at import.
	CeilingValue Ceiling
}

// Metadata describes where data come from; it does not enter the version.
type Metadata struct {
	Species, Region, Method string
	Licence                 string
	Citation                string // BibTeX
	Description             string
}

// Metric is the comparison between a model and the data.
//
// RSA: the model RDM (Distance) is compared with each subject's RDM
// (Comparison); the score is the mean over subjects. Ridge: each target is
// predicted from layer features with the penalty chosen per target by
// inner cross-validation over Alphas; the score of a session is the median
// over targets of Pearson r between held-out predictions and data (mean
// over Folds outer folds), and a multi-session benchmark's score is the
// mean over sessions.
//
// The advanced kinds (see MANIFEST.md for what each answers) reuse these
// fields: Distance and Comparison for every RDM metric; Folds is the
// number of stimulus folds of reweighted, feature-weighted and
// variance-partitioning RSA and the outer folds of decoding; Alphas are
// decoding's penalties (remix: the classifier's one penalty); Seed deals
// the folds. Layers, Sets and Components
// are theirs alone.
type Metric struct {
	Kind MetricKind
	// RSA
	Distance   string // RDM distance for the model: correlation, euclidean, cosine
	Comparison string // spearman, pearson, kendall-tau-a
	// Ridge
	Folds  int       // outer cross-validation folds
	Alphas []float64 // ridge penalties tried per target by inner CV
	Seed   uint64    // fold assignment
	// Layers is how many of the runner's candidate layers, evenly spaced
	// in depth, an advanced metric uses (each scored alone, or combined);
	// 0 means all candidates.
	Layers int
	// Sets names the layer sets of variance partitioning, in order:
	// "early", "late" or "early", "middle", "late" (the Layers chosen,
	// cut by depth into equal consecutive parts).
	Sets []string
	// Components is the number of principal components of a layer that
	// feature-weighted RSA weights or decoding predicts.
	Components int
}

// String describes the metric in one line.
func (m Metric) String() string {
	if mk, ok := lookupKind(m.Kind); ok {
		return mk.describe(m)
	}
	return string(m.Kind)
}

func (m Metric) layerText() string {
	if m.Layers == 0 {
		return "all candidate layers"
	}
	return fmt.Sprintf("%d evenly spaced layers", m.Layers)
}

// CeilingPolicy says how the ceiling is computed.
type CeilingPolicy struct {
	Method CeilingMethod
	Reason string // why there is none (CeilingNone)
	// rsa-nili: how subject RDMs are pooled into the reference (see
	// scoring/ceiling); empty is the plain mean. Omitted from the version
	// hash when empty.
	Pool string `json:",omitempty"`
	// rsa-nili: which estimate ceiled scores divide by; "" is the upper
	// bound. Omitted from the version hash when empty.
	Bound ceiling.Bound `json:",omitempty"`
	// Split-half
	Session string // the session whose repeats are used (KindSessions)
	Splits  int    // random split-halves averaged
	Seed    uint64
}

// Splits is the layer-selection policy of a public benchmark: Count seeded
// random splits of the stimuli into a selection part (SelectionFraction of
// them) on which the layer is chosen and a disjoint test part on which it
// is scored; stratified by stimulus label when StratifyByLabel is set. A
// private benchmark selects on its Partner instead and ignores Splits.
type Splits struct {
	Count             int
	SelectionFraction float64
	StratifyByLabel   bool
	Seed              uint64
}

// Ceiling is a computed noise ceiling. Valid is false for CeilingNone;
// the numbers are then zero and Reason says why.
type Ceiling struct {
	Method CeilingMethod
	Valid  bool
	Reason string
	// rsa-nili: bounds as correlations (the comparison's units) and as R².
	Upper, Lower     float64
	UpperR2, LowerR2 float64
	// split-half: median Spearman-Brown corrected reliability over Targets
	// (Pearson r); in Upper as well.
	Reliability float64
	Targets     int
	// Bound is the policy's bound (rsa-nili; "" is upper). LOSO is the
	// leave-one-subject-out consistency (plain mean of the others) and
	// Halves the split-half ceiling of asymmetric input, each with its R²
	// (mean squared per-subject value); zero when not computed.
	Bound            ceiling.Bound `json:",omitempty"`
	LOSO, LOSOR2     float64       `json:",omitempty"`
	Halves, HalvesR2 float64       `json:",omitempty"`
	// Diagonal is, for asymmetric input (Array.Form), the mean over
	// subjects and stimuli of the matrices' diagonal: each stimulus's
	// similarity between halves (split-half) or its cross-validated
	// distance from itself — a data-quality number, not used in scoring.
	Diagonal float64 `json:",omitempty"`
}

// Value is the ceiling ceiled scores divide by, in the comparison's
// units: the bound the policy chose (rsa-nili), the reliability
// (split-half); NaN when there is none.
func (c Ceiling) Value() float64 {
	if !c.Valid {
		return math.NaN()
	}
	switch c.Bound {
	case ceiling.BoundLower:
		return c.Lower
	case ceiling.BoundLOSO:
		return c.LOSO
	case ceiling.BoundHalves:
		return c.Halves
	}
	return c.Upper
}

// Conventions are a benchmark's scoring conventions beyond its metric
// (issue 16). Every field's zero value is the behaviour before they
// existed.
type Conventions struct {
	// Transform forms the ceiled score from raw and ceiling: "" (ratio)
	// or squared-clipped (see scoring/ceiling).
	Transform ceiling.Transform `json:",omitempty"`
	// Features is how a layer's features are handled before its RDM: ""
	// as extracted; FeaturesZScore: each unit z-scored across the
	// stimuli; FeaturesZScoreReliable: the same, keeping only units whose
	// mean response is reliably non-zero.
	Features string `json:",omitempty"`
	// Selection is how the reported layer is chosen: SelectionCommit (the
	// layer the model commits to Region, chosen on CommitOn) or
	// SelectionHeldOut (this benchmark's own seeded splits). "" is
	// held-out, or the partner's layer for a benchmark with a Partner.
	Selection string `json:",omitempty"`
	// Region is the region a committed benchmark scores (from the
	// metadata's region unless the manifest says otherwise).
	Region string `json:",omitempty"`
	// CommitOn are the region's commit benchmarks, by id.
	CommitOn []string `json:",omitempty"`
	// Degrees is the stimuli's size in degrees of visual angle; 0: not
	// stated (the images are used as given).
	Degrees float64 `json:",omitempty"`
}

// Feature handling and selection modes of Conventions.
const (
	FeaturesZScore         = "zscore"
	FeaturesZScoreReliable = "zscore-reliable"
	SelectionCommit        = "commit"
	SelectionHeldOut       = "held-out"
)

// IsZero reports whether c is the behaviour before conventions existed.
func (c Conventions) IsZero() bool {
	return c.Transform == "" && c.Features == "" && c.Selection == "" && c.Region == "" && len(c.CommitOn) == 0 && c.Degrees == 0
}

// Dataset is the stored form of a benchmark's data: file references by
// content hash plus what was learnt from them at import.
type Dataset struct {
	Kind Kind
	// KindRDM and KindTimeRDM
	RDMs    *Array
	Stimuli *StimulusSet
	// KindTimeRDM: the time points in seconds, (times,).
	Times *Array
	// Training is the labelled image set a remix classifier is trained
	// on (metric remix only); its images are not benchmark stimuli.
	Training *StimulusSet
	// KindResponses (one session with an empty ID) and KindSessions.
	Sessions []Session
}

// Session is one recording session: targets × stimuli responses.
type Session struct {
	ID        string
	Responses Array
	Repeats   *Array // targets × stimuli × repeats, NaN-padded
	Stimuli   StimulusSet
}

// Array is a numeric array in a .npy file or a .npz member.
type Array struct {
	File  File
	Key   string // .npz member; empty for .npy
	Shape []int
	// SessionMean is set for an RDM set subjects × sessions × n × n whose
	// sessions are averaged into one RDM per subject.
	SessionMean bool
	// Form is how an RDM set's matrices are to be read: "" symmetric
	// dissimilarities; FormSplitHalfSimilarity or FormCVDissimilarity
	// asymmetric (row: one half/fold, column: the other). Omitted from the
	// version when empty.
	Form string `json:",omitempty"`
}

// Forms of an RDM set (Array.Form).
const (
	FormSplitHalfSimilarity = "split-half-similarity"
	FormCVDissimilarity     = "cv-dissimilarity"
)

// File is a data file copied into the object store under its SHA256.
type File struct {
	Path   string // relative to the manifest's folder, slash-separated
	SHA256 string
	Size   int64
}

// StimulusSet is an ordered list of images: either files of their own or
// members of one zip archive.
type StimulusSet struct {
	Zip     *File
	Stimuli []Stimulus
	// LabelColumn names the CSV column labels came from (empty: no labels).
	LabelColumn string
}

// Stimulus is one image.
type Stimulus struct {
	Name   string // file name (zip members: base name)
	Label  string
	Member string // zip member path (zip sets)
	File   *File  // the image file (folder sets)
}

// Counts returns the number of subjects, sessions, targets and stimuli.
// For RDM sets targets is 0; for sessions stimuli is the total over them.
func (d Dataset) Counts() (subjects, sessions, targets, stimuli int) {
	switch d.Kind {
	case KindTimeRDM:
		if d.Stimuli != nil {
			stimuli = len(d.Stimuli.Stimuli)
		}
		if d.RDMs != nil && len(d.RDMs.Shape) == 4 {
			subjects = d.RDMs.Shape[0]
		}
	case KindRDM:
		if d.Stimuli != nil {
			stimuli = len(d.Stimuli.Stimuli)
		}
		if d.RDMs != nil {
			switch len(d.RDMs.Shape) {
			case 2:
				subjects = 1
			case 3:
				subjects = d.RDMs.Shape[0]
			case 4:
				subjects, sessions = d.RDMs.Shape[0], d.RDMs.Shape[1]
			}
		}
	default:
		sessions = len(d.Sessions)
		for _, s := range d.Sessions {
			if len(s.Responses.Shape) == 2 {
				targets += s.Responses.Shape[0]
			}
			stimuli += len(s.Stimuli.Stimuli)
		}
		if d.Kind == KindResponses {
			sessions = 0
		}
	}
	return
}

// files lists every data file of the dataset once.
func (d Dataset) files() []File {
	var out []File
	seen := map[string]bool{}
	add := func(f *File) {
		if f != nil && !seen[f.SHA256] {
			seen[f.SHA256] = true
			out = append(out, *f)
		}
	}
	addSet := func(s *StimulusSet) {
		if s == nil {
			return
		}
		add(s.Zip)
		for i := range s.Stimuli {
			add(s.Stimuli[i].File)
		}
	}
	if d.RDMs != nil {
		add(&d.RDMs.File)
	}
	if d.Times != nil {
		add(&d.Times.File)
	}
	addSet(d.Stimuli)
	addSet(d.Training)
	for i := range d.Sessions {
		s := &d.Sessions[i]
		add(&s.Responses.File)
		if s.Repeats != nil {
			add(&s.Repeats.File)
		}
		addSet(&s.Stimuli)
	}
	return out
}

// SelectionPolicy describes in one line how the runner chooses the layer
// it reports: on the public partner for a benchmark that has one, else on
// seeded splits of the stimuli.
func (b *Benchmark) SelectionPolicy() string {
	if mk, _ := lookupKind(b.Metric.Kind); mk.crossValidated {
		return fmt.Sprintf("cross-validated over %d stimulus folds (seed %d); nothing chosen on the data scored", b.Metric.Folds, b.Metric.Seed)
	}
	if b.Conventions.Selection == SelectionCommit {
		return fmt.Sprintf("region commitment: the layer the model commits to %s, chosen on %s", b.Conventions.Region, strings.Join(b.Conventions.CommitOn, ", "))
	}
	if b.Partner != "" && !b.Metric.Kind.Advanced() {
		return "committed on " + b.Partner
	}
	s := fmt.Sprintf("%d seeded splits (seed %d), %.0f%% of stimuli for selection", b.Splits.Count, b.Splits.Seed, 100*b.Splits.SelectionFraction)
	if b.Splits.StratifyByLabel {
		s += ", stratified by label"
	}
	return s
}
