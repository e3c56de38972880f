package benchmarks

import (
	"errors"
	"fmt"
	"time"
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
)

// MetricKind names how a model is compared with the data.
type MetricKind string

const (
	// MetricRSA compares model RDMs with each subject's RDM.
	MetricRSA MetricKind = "rsa"
	// MetricRidge predicts each target from layer features with ridge
	// regression (encoding model).
	MetricRidge MetricKind = "ridge"
)

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
type Metric struct {
	Kind MetricKind
	// RSA
	Distance   string // RDM distance for the model: correlation, euclidean, cosine
	Comparison string // spearman, pearson, kendall-tau-a
	// Ridge
	Folds  int       // outer cross-validation folds
	Alphas []float64 // ridge penalties tried per target by inner CV
	Seed   uint64    // fold assignment
}

// String describes the metric in one line.
func (m Metric) String() string {
	switch m.Kind {
	case MetricRSA:
		return fmt.Sprintf("rsa (%s RDM, %s)", m.Distance, m.Comparison)
	case MetricRidge:
		lo, hi := 0.0, 0.0
		if len(m.Alphas) > 0 {
			lo, hi = m.Alphas[0], m.Alphas[len(m.Alphas)-1]
		}
		return fmt.Sprintf("ridge (%d folds, %d alphas %g..%g, seed %d)", m.Folds, len(m.Alphas), lo, hi, m.Seed)
	}
	return string(m.Kind)
}

// CeilingPolicy says how the ceiling is computed.
type CeilingPolicy struct {
	Method CeilingMethod
	Reason string // why there is none (CeilingNone)
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
}

// Dataset is the stored form of a benchmark's data: file references by
// content hash plus what was learnt from them at import.
type Dataset struct {
	Kind Kind
	// KindRDM
	RDMs    *Array
	Stimuli *StimulusSet
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
}

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
	addSet(d.Stimuli)
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
	if b.Partner != "" {
		return "committed on " + b.Partner
	}
	s := fmt.Sprintf("%d seeded splits (seed %d), %.0f%% of stimuli for selection", b.Splits.Count, b.Splits.Seed, 100*b.Splits.SelectionFraction)
	if b.Splits.StratifyByLabel {
		s += ", stratified by label"
	}
	return s
}
