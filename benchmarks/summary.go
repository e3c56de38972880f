package benchmarks

import "time"

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

	Metric    string // one-line description of the metric settings
	Selection string // how the layer is chosen

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
}

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
	return s
}
