package benchmarks

import (
	"strings"
	"time"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
)

// Summary is what may be served about any benchmark, private ones
// included: identifiers, settings, counts and the ceiling. It has only
// scalar and string fields, so it cannot carry data, stimulus names or
// per-subject values.
type Summary struct {
	ID, Version, Title string
	Parent             string
	Private            bool
	Partner            string
	Created            time.Time

	Kind                    Kind
	Species, Region, Method string
	Licence                 string
	Citation                string // BibTeX

	Stimuli  int // images (summed over sessions)
	Subjects int // RDM sets
	Sessions int
	Targets  int // neurons or voxels (summed over sessions)
	Files    int // data files, images included
	Bytes    int64

	Metric string // one-line description of the metric settings
	// Comparison is the correlation the ceiling and the raw scores are
	// in: spearman, pearson or kendall-tau-a for RDM metrics, pearson
	// for ridge and split-half reliabilities.
	Comparison string
	Selection  string // how the layer is chosen

	CeilingMethod  CeilingMethod
	CeilingValid   bool
	CeilingReason  string
	CeilingUpper   float64 // rsa-nili: correlation; split-half: reliability (r)
	CeilingLower   float64
	CeilingUpperR2 float64
	CeilingLowerR2 float64
	CeilingTargets int    // split-half: targets with a defined reliability
	CeilingSession string // split-half: session the repeats come from
	CeilingSplits  int    // split-half: random splits averaged

	// The ceiling ceiled scores divide by (issue 16). CeilingBound names
	// it for rsa-nili: upper, lower, leave-one-subject-out or halves
	// (empty for split-half, whose ceiling is the reliability, and for
	// none). CeilingValue is it in the comparison's units (r), with
	// CeilingValueR2 its R² (mean squared per-subject value; 0 for
	// split-half); both 0 when CeilingValid is false. Scores divide by
	// the same bound recomputed on each split's test stimuli, so their
	// ceilings differ from this whole-set value.
	CeilingBound   string
	CeilingValue   float64
	CeilingValueR2 float64
	// Also computed (0 when not): leave-one-subject-out (each subject
	// against the plain mean of the others; ≥ 2 subjects) and halves
	// (asymmetric input), each in r and R².
	CeilingLOSO, CeilingLOSOR2     float64
	CeilingHalves, CeilingHalvesR2 float64
	// Form is how the RDM matrices were given ("" symmetric
	// dissimilarities, split-half-similarity, cv-dissimilarity);
	// Diagonal the asymmetric matrices' mean diagonal (data quality).
	Form     string
	Diagonal float64

	// Scoring conventions, defaults filled in: Transform ratio or
	// squared-clipped; Features as-is, zscore or zscore-reliable;
	// SelectionMode commit, partner or held-out (Selection above says it
	// in words); CommitRegion and CommitOn (ids joined by ", ") for a
	// committed benchmark; Degrees the stimuli's size in degrees of
	// visual angle (0: not stated).
	Transform     string
	Features      string
	SelectionMode string
	CommitRegion  string
	CommitOn      string
	Degrees       float64
}

// Selection modes of Summary.SelectionMode beside SelectionCommit and
// SelectionHeldOut.
const SelectionPartner = "partner"

// Summary returns the servable description of b.
func (b *Benchmark) Summary() Summary {
	subj, sess, targ, stim := b.Dataset.Counts()
	files := b.Dataset.files()
	var bytes int64
	for _, f := range files {
		bytes += f.Size
	}
	s := Summary{
		ID: b.ID, Version: b.Version, Title: b.Title, Parent: b.Parent, Private: b.Private, Partner: b.Partner,
		Created: b.Created, Kind: b.Dataset.Kind,
		Species: b.Metadata.Species, Region: b.Metadata.Region, Method: b.Metadata.Method,
		Licence: b.Metadata.Licence, Citation: b.Metadata.Citation,
		Stimuli: stim, Subjects: subj, Sessions: sess, Targets: targ, Files: len(files), Bytes: bytes,
		Metric:        b.Metric.String(),
		Selection:     b.SelectionPolicy(),
		CeilingMethod: b.CeilingValue.Method, CeilingValid: b.CeilingValue.Valid, CeilingReason: b.CeilingValue.Reason,
		CeilingUpper: b.CeilingValue.Upper, CeilingLower: b.CeilingValue.Lower,
		CeilingUpperR2: b.CeilingValue.UpperR2, CeilingLowerR2: b.CeilingValue.LowerR2,
		CeilingTargets: b.CeilingValue.Targets,
	}
	if b.Ceiling.Method == CeilingSplitHalf {
		s.CeilingSession, s.CeilingSplits = b.Ceiling.Session, b.Ceiling.Splits
	}
	s.Comparison = b.Metric.Comparison
	if s.Comparison == "" || b.Ceiling.Method == CeilingSplitHalf {
		s.Comparison = "pearson"
	}
	c := b.CeilingValue
	if c.Method == CeilingRSANili {
		s.CeilingBound = string(ceiling.BoundUpper)
		if c.Bound != "" {
			s.CeilingBound = string(c.Bound)
		}
	}
	if c.Valid {
		s.CeilingValue = c.Value()
		switch c.Bound {
		case ceiling.BoundLower:
			s.CeilingValueR2 = c.LowerR2
		case ceiling.BoundLOSO:
			s.CeilingValueR2 = c.LOSOR2
		case ceiling.BoundHalves:
			s.CeilingValueR2 = c.HalvesR2
		default:
			s.CeilingValueR2 = c.UpperR2
		}
	}
	s.CeilingLOSO, s.CeilingLOSOR2, s.CeilingHalves, s.CeilingHalvesR2 = c.LOSO, c.LOSOR2, c.Halves, c.HalvesR2
	if b.Dataset.RDMs != nil {
		s.Form = b.Dataset.RDMs.Form
	}
	s.Diagonal = c.Diagonal
	cv := b.Conventions
	s.Transform = string(ceiling.TransformRatio)
	if cv.Transform != "" {
		s.Transform = string(cv.Transform)
	}
	s.Features = "as-is"
	if cv.Features != "" {
		s.Features = cv.Features
	}
	switch {
	case cv.Selection == SelectionCommit:
		s.SelectionMode, s.CommitRegion, s.CommitOn = SelectionCommit, cv.Region, strings.Join(cv.CommitOn, ", ")
	case b.Partner != "" && !b.Metric.Kind.Advanced():
		s.SelectionMode = SelectionPartner
	default:
		s.SelectionMode = SelectionHeldOut
	}
	s.Degrees = cv.Degrees
	return s
}
