package runner

import (
	"context"
	"fmt"
	"image"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
)

// Images shown more than once are run through the model once per run
// (issue 18: remove work, not only speed it up). Three kinds of repeat:
//
//   - sessions of one benchmark that show one set of images, in one order
//     (one set shown to several subjects): they share one extraction
//     (sessionScores);
//   - within one stimulus set (Cowley V4 session 190925 shows 300 of its
//     900 images twice): the set's distinct images are extracted, and each
//     row is copied to every place its image takes;
//   - across the other sets of a run (sessions of one benchmark, or benchmarks:
//     600 of cowley2023.V4's session 210325 images are session 210322's of
//     cowley2023.V4.public): the rows of an image another set of the run
//     also shows are kept, up to a bound (imageRows), and a later
//     extraction of the same layers takes them instead of running the
//     image again.
//
// Each keeps every score bit for bit: a pass computes each image's
// values alone, whatever else is in its batch (onnxrun's
// TestDistinctImagesSameBits), and an inner layer's values are the same
// on a graph cut after it (TestPrunedLayersSameBits). Images are compared
// by their files' bytes (benchmarks.Stimuli.Distinct, SharedImages).

// imageRows keeps, for one Run, the extracted rows of the images that
// more than one of the run's stimulus sets shows, by image, layer,
// placement and reduction, up to limit bytes (what does not fit is
// extracted again). Safe for concurrent use.
//
// The rows are copied into memory mapped apart from Go's heap (rowArena):
// held on the heap, 153 MB of rows (the main job's) would also raise the
// garbage collector's target by as much, so the peak RSS by up to twice
// that. Mapped, the main job's peak grows by the rows alone (1.52 GiB
// against 1.39, stop 36).
type imageRows struct {
	shared map[*benchmarks.Stimuli][]string // benchmarks.SharedImages' ids

	mu    sync.Mutex
	rows  map[string][]float32 // views into arena
	arena rowArena
	bytes int64
	limit int64
}

// release unmaps the kept rows; r must not be used after.
func (r *imageRows) release() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = nil
	r.arena.release()
}

// reuseLimit bounds the rows kept for later sets: a quarter of the
// feature budget (256 MiB by default; cowley2023.V4's 600 repeated
// images at 20 candidate layers of MobileNetV2 take 162 MB).
func reuseLimit(cfg Config) int64 { return cfg.FeatureBudget / 4 }

// planReuse finds the images that more than one stimulus set of loaded
// shows; nil when none does.
func planReuse(ctx context.Context, loaded []*benchmarks.Loaded, limit int64) (*imageRows, error) {
	// Sets of the same images in the same order within one benchmark (its
	// sessions shown one set of images) count once: the benchmark extracts
	// them once (sessionScores). Across benchmarks they are two sets: two
	// encoding benchmarks of one recording (V4 and IT sites shown the same
	// images) share rows; the layer RDMs of two RDM benchmarks of one
	// experiment are memoised whole instead, and their extraction keeps no
	// rows (extractGroups).
	var sets []*benchmarks.Stimuli
	byKey := map[string]int{}
	type use struct {
		s   *benchmarks.Stimuli
		key string
	}
	var all []use
	for _, l := range loaded {
		for _, s := range stimulusSets(l) {
			k := l.Benchmark.ID + "\x00" + StimulusKey(s.Set())
			all = append(all, use{s, k})
			if _, ok := byKey[k]; !ok {
				byKey[k] = len(sets)
				sets = append(sets, s)
			}
		}
	}
	ids, err := benchmarks.SharedImages(ctx, sets)
	if err != nil {
		return nil, err
	}
	r := &imageRows{shared: map[*benchmarks.Stimuli][]string{}, limit: limit}
	for _, u := range all {
		s, k := u.s, byKey[u.key]
		for _, id := range ids[k] {
			if id != "" {
				r.shared[s] = ids[k]
				break
			}
		}
	}
	if len(r.shared) == 0 {
		return nil, nil
	}
	return r, nil
}

func rowKey(id string, l models.Layer, scope string) string {
	return id + "\x00" + l.ID + "\x00" + scope
}

// has reports whether every layer's row of image id is kept.
func (r *imageRows) has(id string, layers []models.Layer, scope string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range layers {
		if _, ok := r.rows[rowKey(id, l, scope)]; !ok {
			return false
		}
	}
	return true
}

func (r *imageRows) get(id string, l models.Layer, scope string) []float32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rows[rowKey(id, l, scope)]
}

// put keeps a copy of row when it fits the bound.
func (r *imageRows) put(id string, l models.Layer, scope string, row []float32) {
	k := rowKey(id, l, scope)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.rows[k]; ok {
		return
	}
	size := int64(len(row))*4 + int64(len(k)) + 64
	if r.bytes+size > r.limit {
		return
	}
	kept := r.arena.copy(row)
	if kept == nil { // no memory to map: extracted again when needed
		return
	}
	if r.rows == nil {
		r.rows = map[string][]float32{}
	}
	r.rows[k] = kept
	r.bytes += size
}

// rowArena hands out float32 slices from anonymous memory maps of
// arenaChunk bytes (a longer row gets a map of its own), all unmapped at
// once by release.
type rowArena struct {
	chunks [][]byte
	free   []float32 // what is left of the last chunk
}

const arenaChunk = 16 << 20

// copy returns a copy of row in the arena; nil when memory cannot be
// mapped.
func (a *rowArena) copy(row []float32) []float32 {
	if len(row) > len(a.free) {
		size := max(arenaChunk, len(row)*4)
		b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			return nil
		}
		a.chunks = append(a.chunks, b)
		a.free = unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), size/4)
	}
	out := a.free[:len(row):len(row)]
	copy(out, row)
	a.free = a.free[len(row):]
	return out
}

func (a *rowArena) release() {
	for _, b := range a.chunks {
		_ = syscall.Munmap(b) // nothing to do about a failure: the run is over
	}
	a.chunks, a.free = nil, nil
}

// benchmarkImages is the benchmark set behind stim, nil for other stimuli
// (which are never compared).
func benchmarkImages(stim models.Stimuli) *benchmarks.Stimuli {
	switch s := stim.(type) {
	case images:
		return s.s
	case placedImages:
		return s.s
	}
	return nil
}

// extractionPlan is what forEachGroup runs through the model for one set
// of n stimuli: the distinct images (keep, in order; copies[k] the places
// of keep[k]), and those of them another set shows (ids; nil: none), whose
// rows are taken from and given to rows.
type extractionPlan struct {
	n      int
	keep   []int
	copies [][]int
	ids    []string
	rows   *imageRows
	scope  string // placement and reduction: rows are reused within one
	memo   []int  // this pass: the slots (of keep) taken from rows
	noKeep bool   // take rows, keep none
}

// planExtraction compares src's images (nil: they are all run); keep
// false takes kept rows but keeps none.
func (e *Env) planExtraction(ctx context.Context, m Model, src *benchmarks.Stimuli, placement string, n int, keep bool) (*extractionPlan, error) {
	p := &extractionPlan{n: n, noKeep: !keep}
	if src == nil {
		return p, nil
	}
	defer e.timings.add(stageOpen, time.Now())
	first, err := src.Distinct(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrInternal, err)
	}
	slot := make([]int, n) // stimulus → its distinct image
	for i, j := range first {
		if j == i {
			slot[i] = len(p.keep)
			p.keep = append(p.keep, i)
		} else {
			slot[i] = slot[j]
		}
	}
	p.copies = make([][]int, len(p.keep))
	for i := range first {
		p.copies[slot[i]] = append(p.copies[slot[i]], i)
	}
	if !e.reuseDone {
		e.reuseDone = true
		if e.reuse, err = planReuse(ctx, e.reuseRun, reuseLimit(e.cfg)); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: compare the images of the run's benchmarks: %w", ErrInternal, err)
		}
	}
	// Rows under a PCA reduction depend on the benchmark's reference set:
	// they are not shared between sets.
	if e.reuse != nil && !strings.HasPrefix(e.reduction, "pca") {
		if ids := e.reuse.shared[src]; ids != nil {
			p.ids, p.rows = ids, e.reuse
			p.scope = placement + "\x00" + e.reduction
		}
	}
	return p, nil
}

// pass returns the stimuli to run through the model for layers, and the
// consumer of their rows: stim and f themselves when every image is
// distinct and none is kept from before or for later.
func (p *extractionPlan) pass(stim models.Stimuli, layers []models.Layer, f *features) (models.Stimuli, models.Consumer) {
	p.memo = p.memo[:0]
	if p.keep == nil {
		return stim, f
	}
	var run []int // slots to extract
	store := false
	for k, i := range p.keep {
		if p.ids != nil && p.ids[i] != "" {
			if p.rows.has(p.ids[i], layers, p.scope) {
				p.memo = append(p.memo, k)
				continue
			}
			store = !p.noKeep
		}
		run = append(run, k)
	}
	if len(run) == p.n && !store {
		return stim, f
	}
	sp := spread{next: f, places: make([][]int, len(run))}
	keep := make([]int, len(run))
	for j, k := range run {
		keep[j] = p.keep[k]
		sp.places[j] = p.copies[k]
	}
	if store {
		sp.ids, sp.rows, sp.scope = make([]string, len(run)), p.rows, p.scope
		for j, i := range keep {
			sp.ids[j] = p.ids[i]
		}
	}
	if len(run) == p.n {
		return stim, sp
	}
	sub := subset{Stimuli: stim, keep: keep}
	if k, ok := stim.(models.KeyedStimuli); ok && len(p.memo) == 0 {
		// the set's distinct images, the same in every run: cacheable
		return keyedSubset{subset: sub, key: k.Key()}, sp
	}
	return sub, sp
}

// fill gives f the rows of this pass's images kept from another set.
func (p *extractionPlan) fill(ctx context.Context, layers []models.Layer, f *features) error {
	for _, k := range p.memo {
		id := p.ids[p.keep[k]]
		for _, l := range layers {
			row := p.rows.get(id, l, p.scope)
			for _, at := range p.copies[k] {
				if err := f.Consume(ctx, l, at, [][]float32{row}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// subset is the stimuli keep of a set, in that order.
type subset struct {
	models.Stimuli
	keep []int
}

func (s subset) Len() int { return len(s.keep) }
func (s subset) Image(ctx context.Context, i int) (image.Image, error) {
	return s.Stimuli.Image(ctx, s.keep[i])
}

// keyedSubset names the distinct images of a keyed set by content, for
// activation caches: the set's key, marked so the two never share rows.
type keyedSubset struct {
	subset
	key string
}

func (s keyedSubset) Key() string { return s.key + "/distinct" }

// spread gives each row of a subset's extraction to every place its image
// takes in the whole set, and keeps the rows of images another set shows
// (ids[j] not "") for it.
type spread struct {
	next   models.Consumer
	places [][]int
	ids    []string
	rows   *imageRows
	scope  string
}

func (s spread) Consume(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
	for i, row := range rows {
		for _, at := range s.places[first+i] {
			if err := s.next.Consume(ctx, l, at, rows[i:i+1]); err != nil {
				return err
			}
		}
		if s.ids != nil && s.ids[first+i] != "" {
			s.rows.put(s.ids[first+i], l, s.scope, row)
		}
	}
	return nil
}
