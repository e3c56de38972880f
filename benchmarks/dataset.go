package benchmarks

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/cortexbench/cortexbench/scoring/ceiling"
	"github.com/cortexbench/cortexbench/scoring/rsa"
	"github.com/cortexbench/cortexbench/scoring/timersa"
)

// Tolerances for RDM checks, relative to the largest magnitude (at least
// 1), as scoring/rdm.Check: files saved from float64 code are symmetric and
// zero on the diagonal to a few ulps (Algonauts' differ by 2e-16).
const (
	rdmSymTol  = 1e-8
	rdmDiagTol = 1e-8
)

// imported is a validated dataset with the arrays its ceiling needs.
type imported struct {
	dataset  Dataset
	subjects [][]float64        // RDM kind: upper triangles per subject
	halves   [2][][]float64     // RDM kind with a form: the two triangles per subject (see Loaded.Halves)
	diagonal float64            // RDM kind with a form: the mean diagonal
	timeRDMs [][][]float64      // time-RDM kind: [subject][time] upper triangles
	times    []float64          // time-RDM kind: the time points
	repeats  map[string]repeats // session ID → repeats, for split-half
}

type repeats struct {
	shape []int
	data  []float64
}

// readDataset reads and validates everything the manifest names. Error
// messages name positions, never values: the data may be private.
func (s *source) readDataset(m *Manifest) (*imported, error) {
	out := &imported{repeats: map[string]repeats{}}
	switch {
	case m.RDMs != nil && m.RDMs.Times != "":
		out.dataset.Kind = KindTimeRDM
		set, err := s.readStimuli(m.Stimuli)
		if err != nil {
			return nil, err
		}
		out.dataset.Stimuli = &set
		arr, data, err := s.readArray(ArraySpec{File: m.RDMs.File, Key: m.RDMs.Key})
		if err != nil {
			return nil, err
		}
		tarr, times, err := s.readArray(ArraySpec{File: m.RDMs.Times})
		if err != nil {
			return nil, err
		}
		if out.timeRDMs, err = timeRDMSubjects(arr, data, tarr, times, len(set.Stimuli)); err != nil {
			return nil, err
		}
		out.times = times
		out.dataset.RDMs, out.dataset.Times = &arr, &tarr
	case m.RDMs != nil:
		out.dataset.Kind = KindRDM
		set, err := s.readStimuli(m.Stimuli)
		if err != nil {
			return nil, err
		}
		out.dataset.Stimuli = &set
		arr, data, err := s.readArray(*m.RDMs)
		if err != nil {
			return nil, err
		}
		rs, err := rdmSubjects(arr, data, len(set.Stimuli))
		if err != nil {
			return nil, err
		}
		out.dataset.RDMs = &arr
		out.subjects, out.halves, out.diagonal = rs.subjects, rs.halves, rs.diagonal
	case m.Responses != nil:
		out.dataset.Kind = KindResponses
		spec := SessionSpec{Responses: ArraySpec{File: m.Responses.File, Key: m.Responses.Key}, Repeats: m.Responses.Repeats, Stimuli: *m.Stimuli}
		if err := s.readSession(spec, out); err != nil {
			return nil, err
		}
	default:
		out.dataset.Kind = KindSessions
		for _, spec := range m.Sessions {
			if err := s.readSession(spec, out); err != nil {
				return nil, err
			}
		}
	}
	if rx := m.Metric.Remix; rx != nil {
		set, err := s.readStimuli(&rx.Training)
		if err != nil {
			return nil, err
		}
		if err := checkTraining(set, out.dataset.Stimuli, stimuliPlace(&rx.Training)); err != nil {
			return nil, err
		}
		out.dataset.Training = &set
	}
	return out, nil
}

func (s *source) readSession(spec SessionSpec, out *imported) error {
	set, err := s.readStimuli(&spec.Stimuli)
	if err != nil {
		return err
	}
	arr, data, err := s.readArray(spec.Responses)
	if err != nil {
		return err
	}
	f := arr.File.Path
	if len(arr.Shape) != 2 {
		return invalid(f, "responses have shape %v, want (targets, stimuli)", arr.Shape)
	}
	if t, n := arr.Shape[0], arr.Shape[1]; t < 1 || n != len(set.Stimuli) {
		return invalid(f, "responses have %d stimulus columns but %s has %d images (image count must equal data columns)", n, stimuliPlace(&spec.Stimuli), len(set.Stimuli))
	}
	if i := slices.IndexFunc(data, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }); i >= 0 {
		return invalid(f, "target %d, stimulus %d is not finite (NaN or Inf); responses must be finite", i/arr.Shape[1], i%arr.Shape[1])
	}
	sess := Session{ID: spec.ID, Responses: arr, Stimuli: set}
	if spec.Repeats != nil {
		rarr, rdata, err := s.readArray(*spec.Repeats)
		if err != nil {
			return err
		}
		rf := rarr.File.Path
		if len(rarr.Shape) != 3 || rarr.Shape[0] != arr.Shape[0] || rarr.Shape[1] != arr.Shape[1] || rarr.Shape[2] < 2 {
			return invalid(rf, "repeats have shape %v, want (%d targets, %d stimuli, repeats ≥ 2) to match %s", rarr.Shape, arr.Shape[0], arr.Shape[1], f)
		}
		r := rarr.Shape[2]
		for i := 0; i < len(rdata); i += r {
			finite := 0
			for _, v := range rdata[i : i+r] {
				if math.IsInf(v, 0) {
					return invalid(rf, "target %d, stimulus %d has an infinite value; use NaN only to pad missing repeats", i/r/arr.Shape[1], i/r%arr.Shape[1])
				}
				if !math.IsNaN(v) {
					finite++
				}
			}
			if finite == 0 {
				return invalid(rf, "target %d, stimulus %d has no repeat (all NaN)", i/r/arr.Shape[1], i/r%arr.Shape[1])
			}
		}
		sess.Repeats = &rarr
		out.repeats[spec.ID] = repeats{shape: rarr.Shape, data: rdata}
	}
	out.dataset.Sessions = append(out.dataset.Sessions, sess)
	return nil
}

// checkTraining refuses a remix training set with fewer than two classes
// or sharing an image (by content) with the benchmark's stimuli: the
// classifier must not have seen the images it is scored on. Zip members
// have no hash of their own and are compared by name only.
func checkTraining(train StimulusSet, bench *StimulusSet, place string) error {
	classes := map[string]bool{}
	for _, st := range train.Stimuli {
		classes[st.Label] = true
	}
	if len(classes) < 2 {
		return invalid(place, "remix training images carry %d distinct label(s); the classifier needs at least 2", len(classes))
	}
	if bench == nil {
		return nil
	}
	seen := map[string]string{}
	for _, st := range bench.Stimuli {
		if st.File != nil {
			seen[st.File.SHA256] = st.Name
		}
	}
	for _, st := range train.Stimuli {
		if st.File != nil {
			if name, ok := seen[st.File.SHA256]; ok {
				return invalid(place, "training image %s is the benchmark stimulus %s: remixing must train on other images", st.Name, name)
			}
		}
	}
	return nil
}

func stimuliPlace(s *StimuliSpec) string {
	if s.Dir != "" {
		return s.Dir
	}
	return s.Zip
}

// rdmSet is an RDM set read for scoring: one symmetric dissimilarity
// upper triangle per subject and, for asymmetric input (Array.Form), the
// two triangles and the mean diagonal.
type rdmSet struct {
	subjects [][]float64
	halves   [2][][]float64
	diagonal float64
}

// rdmSubjects checks an RDM set against the stimulus count and returns one
// upper triangle per subject (sessions averaged when asked). An RDM set
// with a Form is asymmetric: split-half similarities S become d_ij = 1 −
// (S_ij + S_ji)/2, cross-validated dissimilarities D become (D_ij +
// D_ji)/2; the halves are S's or D's two triangles (1 − S for
// similarities) and the diagonal is left out of both (see Loaded.Halves).
func rdmSubjects(arr Array, data []float64, nStim int) (rdmSet, error) {
	f, sh := arr.File.Path, arr.Shape
	var subjects, sessions int
	switch len(sh) {
	case 2:
		subjects, sessions = 1, 1
	case 3:
		subjects, sessions = sh[0], 1
	case 4:
		if !arr.SessionMean {
			return rdmSet{}, invalid(f, "shape %v is subjects × sessions × n × n; add \"sessions: mean\" under rdms to average the sessions", sh)
		}
		subjects, sessions = sh[0], sh[1]
	default:
		return rdmSet{}, invalid(f, "shape %v is not an RDM set: want (n, n), (subjects, n, n) or (subjects, sessions, n, n)", sh)
	}
	if arr.SessionMean && len(sh) != 4 {
		return rdmSet{}, invalid(f, "\"sessions: mean\" needs a 4-D array (subjects, sessions, n, n); this one has shape %v", sh)
	}
	n := sh[len(sh)-1]
	if sh[len(sh)-2] != n {
		return rdmSet{}, invalid(f, "shape %v: RDMs must be square (the last two dimensions equal)", sh)
	}
	if n != nStim {
		return rdmSet{}, invalid(f, "RDMs are %d×%d but there are %d images (image count must equal data columns)", n, n, nStim)
	}
	if n < 3 || subjects < 1 || sessions < 1 {
		return rdmSet{}, invalid(f, "shape %v: need at least 3 stimuli and 1 subject", sh)
	}
	where := func(i, j int) string {
		w := fmt.Sprintf("subject %d", i)
		if len(sh) == 2 {
			w = "group RDM"
		} else if len(sh) == 4 {
			w += fmt.Sprintf(", session %d", j)
		}
		return w
	}
	var out rdmSet
	out.subjects = make([][]float64, subjects)
	if arr.Form != "" {
		return asymmetricSubjects(arr, data, n, subjects, sessions, where)
	}
	for i := 0; i < subjects; i++ {
		mean := make([]float64, n*(n-1)/2)
		for j := 0; j < sessions; j++ {
			full := data[(i*sessions+j)*n*n:][:n*n]
			if err := checkRDM(n, full); err != "" {
				if !strings.HasPrefix(err, "entry") {
					err += "; if the matrices are split-half similarities or cross-validated dissimilarities (asymmetric: row from one half, column from the other), " +
						"say so under rdms with form: split-half-similarity or form: cv-dissimilarity"
				}
				return rdmSet{}, invalid(f, "%s: %s", where(i, j), err)
			}
			k := 0
			for r := 0; r < n; r++ {
				for c := r + 1; c < n; c++ {
					mean[k] += full[r*n+c] / float64(sessions)
					k++
				}
			}
		}
		out.subjects[i] = mean
	}
	return out, nil
}

// asymmetricSubjects reads an RDM set with a Form (see rdmSubjects).
func asymmetricSubjects(arr Array, data []float64, n, subjects, sessions int, where func(i, j int) string) (rdmSet, error) {
	f := arr.File.Path
	m := n * (n - 1) / 2
	out := rdmSet{subjects: make([][]float64, subjects)}
	out.halves[0], out.halves[1] = make([][]float64, subjects), make([][]float64, subjects)
	var diag float64
	for i := 0; i < subjects; i++ {
		up, lo := make([]float64, m), make([]float64, m)
		for j := 0; j < sessions; j++ {
			full := data[(i*sessions+j)*n*n:][:n*n]
			scale, sym := 1.0, true
			for k, v := range full {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return rdmSet{}, invalid(f, "%s: entry (%d, %d) is not finite (NaN or Inf)", where(i, j), k/n, k%n)
				}
				scale = max(scale, math.Abs(v))
			}
			for r := 0; r < n; r++ {
				diag += full[r*n+r] / float64(sessions)
			}
			k := 0
			for r := 0; r < n; r++ {
				for c := r + 1; c < n; c++ {
					if math.Abs(full[r*n+c]-full[c*n+r]) > rdmSymTol*scale {
						sym = false
					}
					up[k] += full[r*n+c] / float64(sessions)
					lo[k] += full[c*n+r] / float64(sessions)
					k++
				}
			}
			if sym {
				return rdmSet{}, invalid(f, "%s: the matrix is symmetric, but form %s says its two triangles are independent estimates from two halves (row: one half, column: the other); "+
					"give the unsymmetrised matrices, or omit form for symmetric dissimilarities", where(i, j), arr.Form)
			}
		}
		d := make([]float64, m)
		for k := range d {
			if arr.Form == FormSplitHalfSimilarity {
				d[k] = 1 - (up[k]+lo[k])/2
				up[k], lo[k] = 1-up[k], 1-lo[k]
			} else {
				d[k] = (up[k] + lo[k]) / 2
			}
		}
		out.subjects[i], out.halves[0][i], out.halves[1][i] = d, up, lo
	}
	out.diagonal = diag / float64(subjects*n)
	return out, nil
}

// timeRDMSubjects checks a time-resolved RDM set (subjects × times × n × n)
// and its time points and returns [subject][time] upper triangles.
func timeRDMSubjects(arr Array, data []float64, tarr Array, times []float64, nStim int) ([][][]float64, error) {
	f, sh := arr.File.Path, arr.Shape
	if len(sh) != 4 || sh[2] != sh[3] {
		return nil, invalid(f, "shape %v: a time-resolved RDM set must be (subjects, times, n, n)", sh)
	}
	subjects, nt, n := sh[0], sh[1], sh[2]
	if n != nStim {
		return nil, invalid(f, "RDMs are %d×%d but there are %d images (image count must equal data columns)", n, n, nStim)
	}
	if n < 3 || subjects < 1 || nt < 1 {
		return nil, invalid(f, "shape %v: need at least 3 stimuli, 1 subject and 1 time point", sh)
	}
	if len(tarr.Shape) != 1 || tarr.Shape[0] != nt {
		return nil, invalid(tarr.File.Path, "times have shape %v, want (%d,): one time per slice of axis 1 of %s", tarr.Shape, nt, f)
	}
	for t, v := range times {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, invalid(tarr.File.Path, "time %d is not finite", t)
		}
		if t > 0 && !(v > times[t-1]) {
			return nil, invalid(tarr.File.Path, "times must increase: time %d is not after time %d", t, t-1)
		}
	}
	out := make([][][]float64, subjects)
	for i := range out {
		out[i] = make([][]float64, nt)
		for t := range out[i] {
			full := data[(i*nt+t)*n*n:][:n*n]
			if err := checkRDM(n, full); err != "" {
				return nil, invalid(f, "subject %d, time %d: %s", i, t, err)
			}
			v := make([]float64, 0, n*(n-1)/2)
			for r := 0; r < n; r++ {
				v = append(v, full[r*n+r+1:(r+1)*n]...)
			}
			out[i][t] = v
		}
	}
	return out, nil
}

// checkRDM returns what is wrong with an n×n RDM, naming the entry but
// not its value.
func checkRDM(n int, full []float64) string {
	scale := 1.0
	for k, v := range full {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("entry (%d, %d) is not finite (NaN or Inf)", k/n, k%n)
		}
		scale = max(scale, math.Abs(v))
	}
	for i := 0; i < n; i++ {
		if math.Abs(full[i*n+i]) > rdmDiagTol*scale {
			return fmt.Sprintf("diagonal entry (%d, %d) is not zero (an RDM has zero self-dissimilarity)", i, i)
		}
		for j := i + 1; j < n; j++ {
			if math.Abs(full[i*n+j]-full[j*n+i]) > rdmSymTol*scale {
				return fmt.Sprintf("not symmetric: entry (%d, %d) differs from (%d, %d)", i, j, j, i)
			}
		}
	}
	return ""
}

// computeCeiling computes the ceiling the policy asks for.
func computeCeiling(p CeilingPolicy, met Metric, in *imported) (Ceiling, error) {
	c := Ceiling{Method: p.Method}
	var file string
	if in.dataset.RDMs != nil {
		file = in.dataset.RDMs.File.Path
	}
	for _, s := range in.dataset.Sessions {
		if s.ID == p.Session && s.Repeats != nil {
			file = s.Repeats.File.Path
		}
	}
	switch p.Method {
	case CeilingNone:
		c.Reason = p.Reason
		return c, nil
	case CeilingRSANili:
		if in.dataset.Kind == KindTimeRDM {
			return timeCeiling(c, file, met, in)
		}
		return nili(c, p, file, rsa.Method(met.Comparison), in)
	case CeilingSplitHalf:
		rep, ok := in.repeats[p.Session]
		if !ok {
			return c, invalid(file, "split-half ceiling: no repeats for session %q", p.Session)
		}
		rel, err := ceiling.SplitHalf(ceiling.Responses{Targets: rep.shape[0], Stimuli: rep.shape[1], Repeats: rep.shape[2], Data: rep.data}, p.Splits, p.Seed)
		if err != nil {
			return c, invalid(file, "cannot compute the split-half ceiling: %v", err)
		}
		var ok2 []float64
		for _, v := range rel {
			if !math.IsNaN(v) {
				ok2 = append(ok2, v)
			}
		}
		if len(ok2) == 0 {
			return c, invalid(file, "split-half ceiling: no target has a defined reliability (need ≥ 3 stimuli with ≥ 2 repeats)")
		}
		c.Valid = true
		c.Reliability = median(ok2)
		c.Upper = c.Reliability
		c.Targets = len(ok2)
		return c, nil
	}
	return c, fmt.Errorf("unknown ceiling method %q", p.Method)
}

// nili computes the rsa-nili bounds of an RDM set: upper and lower
// (pooled as the policy says) and leave-one-subject-out with at least 2
// subjects, halves for asymmetric input; Bound says which ceiled scores
// divide by (Ceiling.Value).
func nili(c Ceiling, p CeilingPolicy, file string, m rsa.Method, in *imported) (Ceiling, error) {
	c.Bound = p.Bound
	if len(in.subjects) >= 2 {
		r, err := ceiling.RSACeilingPool(in.subjects, m, ceiling.Pool(p.Pool))
		if err != nil {
			return c, invalid(file, "cannot compute the rsa-nili ceiling: %v", err)
		}
		c.Upper, c.Lower, c.UpperR2, c.LowerR2 = r.Upper, r.Lower, r.UpperR2, r.LowerR2
		loso, per, err := ceiling.LeaveOneSubjectOut(in.subjects, m)
		if err != nil {
			return c, invalid(file, "cannot compute the leave-one-subject-out ceiling: %v", err)
		}
		c.LOSO, c.LOSOR2 = loso, meanSquare(per)
	} else if p.Bound != ceiling.BoundHalves {
		return c, invalid(file, "ceiling rsa-nili needs at least 2 subjects, the RDM set has %d; use ceiling method none with a reason", len(in.subjects))
	}
	if in.halves[0] != nil {
		h, per, err := ceiling.Halves(in.halves[0], in.halves[1], m)
		if err != nil {
			return c, invalid(file, "cannot compute the halves ceiling (each subject's upper triangle against its lower): %v", err)
		}
		c.Halves, c.HalvesR2, c.Diagonal = h, meanSquare(per), in.diagonal
	}
	c.Valid = true
	return c, nil
}

// checkBound refuses a ceiling bound the data cannot give, before
// anything is stored: lower and leave-one-subject-out need at least 2
// subjects.
func checkBound(m *Manifest, p CeilingPolicy, in *imported) error {
	if (p.Bound == ceiling.BoundLower || p.Bound == ceiling.BoundLOSO) && len(in.subjects) < 2 {
		return invalid(m.name(), "ceiling.bound %s compares each subject with the others and needs at least 2 subjects; the RDM set has %d", p.Bound, len(in.subjects))
	}
	return nil
}

func meanSquare(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return s / float64(len(x))
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// timeCeiling stores the Nili ceiling curve's peak (upper bound) and the
// lower bound at that time; the runner uses the curve at the time it
// reports.
func timeCeiling(c Ceiling, file string, met Metric, in *imported) (Ceiling, error) {
	if len(in.timeRDMs) < 2 {
		return c, invalid(file, "ceiling rsa-nili needs at least 2 subjects, the RDM set has %d; use ceiling method none with a reason", len(in.timeRDMs))
	}
	d := timersa.Data{N: len(in.dataset.Stimuli.Stimuli), Times: in.times, RDMs: in.timeRDMs}
	curve, err := timersa.NoiseCeiling(d, rsa.Method(met.Comparison))
	if err != nil {
		return c, invalid(file, "cannot compute the rsa-nili ceiling curve: %v", err)
	}
	best := 0
	for t, v := range curve.Upper {
		if v > curve.Upper[best] {
			best = t
		}
	}
	c.Valid = true
	c.Upper, c.Lower = curve.Upper[best], curve.Lower[best]
	c.UpperR2, c.LowerR2 = c.Upper*c.Upper, c.Lower*c.Lower
	return c, nil
}
