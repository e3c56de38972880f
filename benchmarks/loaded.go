package benchmarks

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"io"
	"sync"

	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Loaded is a benchmark ready to score: its settings, its ceiling, its
// stimuli and its data, read back from the object store.
//
//   - KindRDM: Stimuli and RDMs, one upper-triangle vector per subject
//     (pairs i<j row-major, length n(n−1)/2, the layout of
//     scoring/rdm.Upper); a group RDM is one "subject". Subject RDMs of a
//     subjects × sessions set are session means. For asymmetric input
//     (Dataset.RDMs.Form) RDMs are symmetrised dissimilarities: for
//     split-half similarities S, d_ij = 1 − (S_ij + S_ji)/2; for
//     cross-validated dissimilarities D, (D_ij + D_ji)/2. The diagonal
//     is not used: a model has no cross-validated self-distance to
//     compare it with (its own RDM's diagonal is zero by construction),
//     so only pairs i<j are compared; its mean is a data-quality number
//     (Ceiling.Diagonal). Halves then holds the two triangles.
//   - KindResponses: Sessions has one session with an empty ID, and
//     Stimuli is that session's stimuli.
//   - KindSessions: Sessions, each with its own stimuli and responses;
//     Stimuli is nil.
//   - KindTimeRDM: Stimuli, TimeRDMs[subject][time] (upper triangles as
//     RDMs) and Times (seconds).
//
// Loaded holds private data: hand it to the scoring code only.
type Loaded struct {
	Benchmark *Benchmark // ID, Version, Metric, Ceiling policy, Splits, Partner
	Ceiling   Ceiling
	Stimuli   *Stimuli
	RDMs      [][]float64
	Sessions  []LoadedSession
	TimeRDMs  [][][]float64
	Times     []float64
	// Halves is set for asymmetric input only (Dataset.RDMs.Form; nil
	// otherwise): each subject's two independent estimates of every
	// pair, in the layout of RDMs (pairs i<j, row by row). Halves[0][s]
	// holds M[i][j] (row: half/fold A, column: half/fold B), Halves[1][s]
	// holds M[j][i] for the same pairs, both as dissimilarities: 1 − S for
	// split-half similarities S, D as is for cross-validated
	// dissimilarities (session means for a subjects × sessions set).
	// RDMs[s][k] is their mean. The halves ceiling of any stimulus subset
	// is ceiling.Halves on the subset's entries of both.
	Halves [2][][]float64
	// Training is a remix benchmark's labelled training images.
	Training *Stimuli
}

// LoadedSession is one session's data.
type LoadedSession struct {
	ID        string
	Stimuli   *Stimuli
	Targets   int
	Responses []float64 // Targets × Stimuli.Len(), row-major (repeat-averaged)
}

// Stimuli gives a benchmark's images by index, in data-column order.
// Images are fetched from the store when first asked for; a zip archive is
// fetched once. Safe for concurrent use.
type Stimuli struct {
	store Store
	set   StimulusSet

	mu      sync.Mutex
	members map[string]*zip.File // the zip's members, fetched on first use; a failed fetch is retried
	first   []int                // Distinct's answer, once found
}

// Len returns the number of stimuli.
func (s *Stimuli) Len() int { return len(s.set.Stimuli) }

// Set returns the stored description of the stimuli (content hashes and
// names, no image data), e.g. to key caches by content.
func (s *Stimuli) Set() StimulusSet { return s.set }

// Name returns the file name of stimulus i.
func (s *Stimuli) Name(i int) string { return s.set.Stimuli[i].Name }

// Label returns the label of stimulus i ("" when the set has none).
func (s *Stimuli) Label(i int) string { return s.set.Stimuli[i].Label }

// HasLabels reports whether the stimuli carry labels.
func (s *Stimuli) HasLabels() bool { return s.set.LabelColumn != "" }

// Labels returns every label in order (nil when the set has none).
func (s *Stimuli) Labels() []string {
	if !s.HasLabels() {
		return nil
	}
	out := make([]string, s.Len())
	for i := range out {
		out[i] = s.set.Stimuli[i].Label
	}
	return out
}

// Open returns the encoded bytes (JPEG or PNG) of stimulus i. They are
// checked against their content hash (or the zip member's CRC-32) as they
// are read: the read reaching the end fails on a corrupt stored copy, so
// read to EOF before trusting them (Image does).
func (s *Stimuli) Open(ctx context.Context, i int) (io.ReadCloser, error) {
	st := s.set.Stimuli[i]
	if st.File != nil {
		rc, err := openBlob(ctx, s.store, *st.File)
		if err != nil {
			return nil, fmt.Errorf("open stimulus %d (%s): %w", i, st.Name, err)
		}
		return rc, nil
	}
	members, err := s.archive(ctx)
	if err != nil {
		return nil, fmt.Errorf("open stimulus %d (%s): %w", i, st.Name, err)
	}
	zf := members[st.Member]
	if zf == nil {
		return nil, fmt.Errorf("open stimulus %d (%s): member %s missing from %s", i, st.Name, st.Member, s.set.Zip.Path)
	}
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("open stimulus %d (%s): %w", i, st.Name, err)
	}
	return rc, nil
}

func (s *Stimuli) archive(ctx context.Context) (map[string]*zip.File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members != nil {
		return s.members, nil
	}
	data, err := readBlob(ctx, s.store, *s.set.Zip)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.set.Zip.Path, err)
	}
	// By name as stored, as the import read them (zip.Reader.Open would
	// refuse names that are not clean slash paths).
	s.members = make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		s.members[f.Name] = f
	}
	return s.members, nil
}

// Distinct returns, for every stimulus, the index of the first stimulus
// whose file has the same bytes (its own index when no earlier one does):
// a set that shows an image twice (Cowley V4 session 190925 shows 300 of
// its 900 images twice) need be run through a model once per distinct
// image. Files of a folder set are compared by their sha256 (known
// without reading them); zip members by their CRC-32 and size, which the
// archive's directory gives, and the members that share both are read
// and compared by sha256, so that a CRC collision never merges two
// images. The answer is computed once per Stimuli.
func (s *Stimuli) Distinct(ctx context.Context) ([]int, error) {
	s.mu.Lock()
	done := s.first
	s.mu.Unlock()
	if done != nil {
		return done, nil
	}
	n := s.Len()
	first := make([]int, n)
	for i := range first {
		first[i] = i
	}
	// Candidates: stimuli whose cheap identity (sha256 of a folder file;
	// CRC-32 and size of a zip member) is shared.
	cheap := make(map[string][]int)
	exact := map[string]bool{}
	for i := range s.Len() {
		sha, size, crc, err := s.fileID(ctx, i)
		if err != nil {
			return nil, err
		}
		k := fmt.Sprintf("member %08x %d", crc, size)
		if sha != "" {
			k = "file " + sha
		}
		cheap[k] = append(cheap[k], i)
		exact[k] = sha != ""
	}
	for k, group := range cheap {
		if len(group) < 2 {
			continue
		}
		if exact[k] { // the same content hash: the same bytes
			for _, i := range group[1:] {
				first[i] = group[0]
			}
			continue
		}
		bySum := make(map[[sha256.Size]byte]int, len(group))
		for _, i := range group { // ascending: the first index wins
			sum, err := s.sum(ctx, i)
			if err != nil {
				return nil, err
			}
			if j, ok := bySum[sum]; ok {
				first[i] = j
			} else {
				bySum[sum] = i
			}
		}
	}
	s.mu.Lock()
	s.first = first
	s.mu.Unlock()
	return first, nil
}

// fileID is what tells stimulus i's bytes apart without reading them: a
// folder file's sha256 and recorded size (0: not recorded), or a zip
// member's size and CRC-32 from the archive's directory (sha "").
func (s *Stimuli) fileID(ctx context.Context, i int) (sha string, size int64, crc uint32, err error) {
	st := s.set.Stimuli[i]
	if st.File != nil {
		return st.File.SHA256, st.File.Size, 0, nil
	}
	members, err := s.archive(ctx)
	if err != nil {
		return "", 0, 0, fmt.Errorf("compare stimuli: %w", err)
	}
	zf := members[st.Member]
	if zf == nil {
		return "", 0, 0, fmt.Errorf("compare stimuli: stimulus %d (%s): member %s missing from %s", i, st.Name, st.Member, s.set.Zip.Path)
	}
	return "", int64(zf.UncompressedSize64), zf.CRC32, nil
}

// SharedImages names the images that more than one of sets shows: ids[k][i]
// is the hex sha256 of stimulus i of sets[k] when a stimulus of another
// set has the same bytes, "" otherwise (repeats within one set are
// Distinct's). The same Stimuli listed twice counts once. Stimuli are
// grouped by size first (a folder file's recorded size, a zip member's
// from the archive's directory), zip members of a size also by CRC-32;
// only members in a group that spans sets are read and hashed, so sets
// with nothing in common cost their archives' directories. A file stored
// without its size is matched with other files only.
func SharedImages(ctx context.Context, sets []*Stimuli) ([][]string, error) {
	type entry struct {
		set, i int
		sha    string // known for folder files
		crc    uint32
	}
	setOf := map[*Stimuli]int{}
	bySize := map[string][]entry{}
	for k, s := range sets {
		if _, ok := setOf[s]; ok {
			continue
		}
		setOf[s] = k
		for i := range s.Len() {
			sha, size, crc, err := s.fileID(ctx, i)
			if err != nil {
				return nil, err
			}
			key := fmt.Sprint(size)
			if size <= 0 { // a file stored without its size
				key = "file " + sha
			}
			bySize[key] = append(bySize[key], entry{set: k, i: i, sha: sha, crc: crc})
		}
	}
	spans := func(es []entry) bool { // over more than one set
		for _, e := range es[1:] {
			if e.set != es[0].set {
				return true
			}
		}
		return false
	}
	exact := map[string][]entry{}
	hashAll := func(es []entry) error {
		for _, e := range es {
			if e.sha == "" {
				sum, err := sets[e.set].sum(ctx, e.i)
				if err != nil {
					return err
				}
				e.sha = hex.EncodeToString(sum[:])
			}
			exact[e.sha] = append(exact[e.sha], e)
		}
		return nil
	}
	for _, es := range bySize {
		if !spans(es) {
			continue
		}
		files := false
		for _, e := range es {
			files = files || e.sha != ""
		}
		if files { // a file's CRC is not known: hash the members
			if err := hashAll(es); err != nil {
				return nil, err
			}
			continue
		}
		byCRC := map[uint32][]entry{}
		for _, e := range es {
			byCRC[e.crc] = append(byCRC[e.crc], e)
		}
		for _, group := range byCRC {
			if spans(group) {
				if err := hashAll(group); err != nil {
					return nil, err
				}
			}
		}
	}
	ids := make([][]string, len(sets))
	for k, s := range sets {
		if setOf[s] == k {
			ids[k] = make([]string, s.Len())
		}
	}
	for h, es := range exact {
		if !spans(es) {
			continue
		}
		for _, e := range es {
			ids[e.set][e.i] = h
		}
	}
	for k, s := range sets {
		ids[k] = ids[setOf[s]]
	}
	return ids, nil
}

// sum is the sha256 of stimulus i's bytes, read to the end (so checked).
func (s *Stimuli) sum(ctx context.Context, i int) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	rc, err := s.Open(ctx, i)
	if err != nil {
		return sum, err
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		return sum, blobError(fmt.Sprintf("stimulus %d (%s)", i, s.Name(i)), err)
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Image decodes stimulus i. The whole file is read first, so that it is
// verified before it is decoded (a decoder stops at the image's end, and
// bytes after it would escape the check).
func (s *Stimuli) Image(ctx context.Context, i int) (image.Image, error) {
	rc, err := s.Open(ctx, i)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, blobError(fmt.Sprintf("stimulus %d (%s)", i, s.Name(i)), err)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode stimulus %d (%s): %w", i, s.Name(i), err)
	}
	return img, nil
}

// openBlob opens the stored copy of f, checked against f's sha256 (its
// key) and size while it is read.
func openBlob(ctx context.Context, store Store, f File) (io.ReadCloser, error) {
	size := f.Size
	if size <= 0 {
		size = -1 // not recorded: the hash alone decides
	}
	return objstore.VerifiedGet(ctx, store, blobKey(f.SHA256), f.SHA256, size)
}

// blobError wraps an error reading the stored copy of what; a corrupt copy
// gets the way to replace it.
func blobError(what string, err error) error {
	if objstore.IsCorrupt(err) {
		return fmt.Errorf("read %s: %w; re-add the benchmark from its files ('cortexbench benchmarks add MANIFEST', "+
			"or 'cortexbench benchmarks import-builtin ID' for a built-in one) to replace the stored copy", what, err)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// readBlob reads the stored copy of f whole, verified.
func readBlob(ctx context.Context, store Store, f File) ([]byte, error) {
	rc, err := openBlob(ctx, store, f)
	if err != nil {
		return nil, blobError(f.Path, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, blobError(f.Path, err)
	}
	return data, nil
}

// loadArray decodes a stored array as float64: a .npy streamed from the
// store (only the decoded array is held), an .npz member from the
// archive's bytes.
func loadArray(ctx context.Context, store Store, a Array) ([]float64, error) {
	if a.Key == "" {
		rc, err := openBlob(ctx, store, a.File)
		if err != nil {
			return nil, blobError(a.File.Path, err)
		}
		defer rc.Close()
		size := a.File.Size
		if size <= 0 {
			size = -1
		}
		arr, err := npy.Read(bufio.NewReaderSize(rc, 1<<16), size)
		if err == nil {
			// the rest of the blob, so that its hash is checked to the end
			_, err = io.Copy(io.Discard, rc)
		}
		if err == nil {
			if fmt.Sprint(arr.Shape) != fmt.Sprint(a.Shape) {
				return nil, fmt.Errorf("read %s: shape %v, the entry says %v", a.File.Path, arr.Shape, a.Shape)
			}
			return arr.Float64(), nil
		}
		// A damaged blob: read it whole below for the error that says
		// what is wrong and how to replace it.
	}
	data, err := readBlob(ctx, store, a.File)
	if err != nil {
		return nil, err
	}
	arr, err := decodeArray(data, a.File.Path, a.Key)
	if err != nil {
		return nil, err
	}
	if fmt.Sprint(arr.Shape) != fmt.Sprint(a.Shape) {
		return nil, fmt.Errorf("read %s: shape %v, the entry says %v", a.File.Path, arr.Shape, a.Shape)
	}
	return arr.Float64(), nil
}

// Open loads a benchmark ("ID" or "ID@VERSION") for scoring.
func (r *Registry) Open(ctx context.Context, ref string) (*Loaded, error) {
	b, err := r.Benchmark(ctx, ref)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Benchmark: b, Ceiling: b.CeilingValue}
	d := b.Dataset
	if d.Training != nil {
		l.Training = &Stimuli{store: r.store, set: *d.Training}
	}
	switch d.Kind {
	case KindRDM:
		l.Stimuli = &Stimuli{store: r.store, set: *d.Stimuli}
		data, err := loadArray(ctx, r.store, *d.RDMs)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", b.ID, err)
		}
		rs, err := rdmSubjects(*d.RDMs, data, l.Stimuli.Len())
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", b.ID, err)
		}
		l.RDMs = rs.subjects
		if d.RDMs.Form != "" {
			l.Halves = rs.halves
		}
	case KindTimeRDM:
		l.Stimuli = &Stimuli{store: r.store, set: *d.Stimuli}
		data, err := loadArray(ctx, r.store, *d.RDMs)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", b.ID, err)
		}
		if l.Times, err = loadArray(ctx, r.store, *d.Times); err != nil {
			return nil, fmt.Errorf("open %s: %w", b.ID, err)
		}
		if l.TimeRDMs, err = timeRDMSubjects(*d.RDMs, data, *d.Times, l.Times, l.Stimuli.Len()); err != nil {
			return nil, fmt.Errorf("open %s: %w", b.ID, err)
		}
	case KindResponses, KindSessions:
		for _, s := range d.Sessions {
			data, err := loadArray(ctx, r.store, s.Responses)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", b.ID, err)
			}
			l.Sessions = append(l.Sessions, LoadedSession{ID: s.ID, Stimuli: &Stimuli{store: r.store, set: s.Stimuli}, Targets: s.Responses.Shape[0], Responses: data})
		}
		if d.Kind == KindResponses {
			l.Stimuli = l.Sessions[0].Stimuli
		}
	default:
		return nil, fmt.Errorf("open %s: unknown dataset kind %q", b.ID, d.Kind)
	}
	return l, nil
}

// NewStimuli returns the stimuli set describes, their images read from
// store as the registry keeps them (PutStimulusFile): for tools and tests
// that build a Loaded benchmark in memory.
func NewStimuli(store Store, set StimulusSet) *Stimuli {
	return &Stimuli{store: store, set: set}
}

// PutStimulusFile stores an encoded image (PNG or JPEG) under its content
// hash, as an import does, and returns the File that names it.
func PutStimulusFile(ctx context.Context, store Store, name string, data []byte) (File, error) {
	sum := sha256.Sum256(data)
	f := File{Path: name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(data))}
	if err := store.Put(ctx, blobKey(f.SHA256), bytes.NewReader(data)); err != nil {
		return File{}, fmt.Errorf("store %s: %w", name, err)
	}
	return f, nil
}
