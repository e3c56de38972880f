package activations

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// fakeExtractor streams a fixed matrix per layer in batches of 3, as
// ort.Extractor does.
type fakeExtractor struct {
	layers []models.Layer
	data   map[string][][]float32
}

func (f *fakeExtractor) Run(ctx context.Context, stim models.Stimuli, c models.Consumer, _ models.Progress) error {
	n := stim.Len()
	for first := 0; first < n; first += 3 {
		k := min(3, n-first)
		for _, l := range f.layers {
			if err := c.Consume(ctx, l, first, f.data[l.ID][first:first+k]); err != nil {
				return err
			}
		}
	}
	if fin, ok := c.(models.Finisher); ok {
		return fin.Finish(ctx)
	}
	return nil
}

// countStim is n stimuli the fake extractor never looks at.
type countStim int

func (c countStim) Len() int                                        { return int(c) }
func (c countStim) Image(context.Context, int) (image.Image, error) { return nil, nil }

func fake(n int, widths map[string]int, seed uint64) (*fakeExtractor, countStim) {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := &fakeExtractor{data: map[string][][]float32{}}
	i := 0
	for id, w := range widths {
		f.layers = append(f.layers, models.Layer{ID: id, Index: i, Shape: []int64{-1, int64(w)}, PerStimulus: true})
		i++
		rows := make([][]float32, n)
		for r := range rows {
			rows[r] = make([]float32, w)
			for j := range rows[r] {
				rows[r][j] = float32(rng.NormFloat64())
			}
		}
		f.data[id] = rows
	}
	return f, countStim(n)
}

func TestReducingAndCache(t *testing.T) {
	ctx := context.Background()
	f, stim := fake(10, map[string]int{"L000.Conv": 500, "L001.Relu": 20}, 1)
	store := objstore.NewMemory() // the storage side's in-memory bucket
	key := func(l models.Layer) Key {
		return Key{Model: "m", Stimuli: StimulusSetHash([]string{"a", "b"}), Layer: l.ID, Preprocess: "size=224", Reduction: "rp64-seed3"}
	}
	missing, err := Missing(ctx, store, f.layers, key)
	if err != nil || len(missing) != 2 {
		t.Fatalf("missing %v %v", missing, err)
	}
	cache := &Caching{Store: store, Key: key, Total: stim.Len()}
	red := &Reducing{Next: cache, New: RandomProjections(64, 3)}
	if err := f.Run(ctx, stim, red, nil); err != nil {
		t.Fatal(err)
	}
	page, err := store.List(ctx, objstore.ListOptions{Prefix: "activations/"})
	if err != nil || len(page.Objects) != 2 {
		t.Fatalf("%d blobs stored (%v), want 2", len(page.Objects), err)
	}
	rows, cols, data, err := Load(ctx, store, key(f.layers[0]))
	if err != nil {
		t.Fatal(err)
	}
	if rows != 10 {
		t.Fatalf("rows %d", rows)
	}
	wide, narrow := f.layers[0], f.layers[1]
	if wide.ID != "L000.Conv" {
		wide, narrow = narrow, wide
	}
	_, cw, _, _ := Load(ctx, store, key(wide))
	_, cn, dn, _ := Load(ctx, store, key(narrow))
	if cw != 64 || cn != 20 {
		t.Errorf("widths %d, %d; want 64 (projected) and 20 (passed through)", cw, cn)
	}
	// The narrow layer is stored unchanged.
	for i := range 10 {
		for j := range 20 {
			if dn[i*20+j] != f.data[narrow.ID][i][j] {
				t.Fatalf("passed-through value (%d,%d) changed", i, j)
			}
		}
	}
	_ = data
	_ = cols
	// A random projection roughly keeps squared norms: E‖Px‖² = ‖x‖² for
	// Gaussian entries of variance 1/k (Johnson–Lindenstrauss); with k = 64
	// the ratio is within ±50% with overwhelming probability.
	_, _, dw, _ := Load(ctx, store, key(wide))
	for i := range 10 {
		var a, b float64
		for _, v := range f.data[wide.ID][i] {
			a += float64(v) * float64(v)
		}
		for _, v := range dw[i*64 : (i+1)*64] {
			b += float64(v) * float64(v)
		}
		if r := b / a; r < 0.5 || r > 1.5 {
			t.Errorf("stimulus %d: norm ratio %.2f", i, r)
		}
	}
	missing, _ = Missing(ctx, store, f.layers, key)
	if len(missing) != 0 {
		t.Errorf("still missing %v", missing)
	}
	if _, _, _, err := Load(ctx, store, Key{Model: "other", Stimuli: "s", Layer: "L000.Conv"}); !models.IsNotFound(err) {
		t.Errorf("absent key: %v", err)
	}
}

// PCA fitted on reference stimuli: data of rank 2 in 50 dimensions gives
// two components that reproduce the centred data exactly, so transformed
// rows keep the pairwise distances of the originals.
func TestFitPCA(t *testing.T) {
	ctx := context.Background()
	n, q := 12, 50
	rng := rand.New(rand.NewPCG(5, 5))
	u, v := make([]float32, q), make([]float32, q)
	for j := range q {
		u[j], v[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	rows := make([][]float32, n)
	for i := range rows {
		a, b := float32(rng.NormFloat64()), float32(rng.NormFloat64())
		rows[i] = make([]float32, q)
		for j := range q {
			rows[i][j] = a*u[j] + b*v[j] + 3
		}
	}
	l := models.Layer{ID: "L000.Conv", Shape: []int64{-1, int64(q)}, PerStimulus: true}
	f := &fakeExtractor{layers: []models.Layer{l}, data: map[string][][]float32{l.ID: rows}}
	fits, err := FitPCA(ctx, f, countStim(n), nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]float32
	red := &Reducing{Next: models.ConsumerFunc(func(_ context.Context, _ models.Layer, _ int, r [][]float32) error {
		for _, x := range r {
			got = append(got, append([]float32(nil), x...))
		}
		return nil
	}), New: Fixed(fits)}
	if err := f.Run(ctx, countStim(n), red, nil); err != nil {
		t.Fatal(err)
	}
	dist := func(a, b []float32) float64 {
		var s float64
		for j := range a {
			d := float64(a[j] - b[j])
			s += d * d
		}
		return math.Sqrt(s)
	}
	for i := 1; i < n; i++ {
		d0, d1 := dist(rows[0], rows[i]), dist(got[0], got[i])
		if math.Abs(d0-d1) > 1e-3*d0 {
			t.Errorf("distance 0–%d: %.5f raw, %.5f after PCA", i, d0, d1)
		}
	}
}

func TestCacheErrors(t *testing.T) {
	c := &Caching{Store: &models.MemStore{}, Key: func(l models.Layer) Key { return Key{Layer: l.ID} }, Total: 1}
	err := c.Consume(context.Background(), models.Layer{ID: "x"}, 1, [][]float32{{1}})
	if err == nil || errors.Is(err, models.ErrNotFound) {
		t.Errorf("out-of-range row accepted: %v", err)
	}
}

func TestSubsample(t *testing.T) {
	s := NewSubsample(1000, 50, 9)
	seen := map[int]bool{}
	for i, u := range s.Units() {
		if u < 0 || u >= 1000 || seen[u] || (i > 0 && u <= s.Units()[i-1]) {
			t.Fatalf("units not distinct, sorted and in range: %v", s.Units())
		}
		seen[u] = true
	}
	again := NewSubsample(1000, 50, 9)
	for i := range s.Units() {
		if s.Units()[i] != again.Units()[i] {
			t.Fatal("same seed, different units")
		}
	}
	row := make([]float32, 1000)
	for i := range row {
		row[i] = float32(i)
	}
	dst := linalg.NewMatrix[float32](1, 50)
	s.TransformRows(dst, [][]float32{row})
	for j, u := range s.Units() {
		if dst.At(0, j) != float32(u) {
			t.Fatalf("kept value %d = %v, want %d", j, dst.At(0, j), u)
		}
	}
}

// slowStore is a MemStore whose Puts wait for Next's Finish to begin (or
// 2 s, noted as late), count how many run at once, and fail for one key.
type slowStore struct {
	models.MemStore
	mu        sync.Mutex
	now, most int
	late      bool
	failKey   string
	entered   chan struct{} // closed when Next's Finish begins
}

func (s *slowStore) Put(ctx context.Context, key string, r io.Reader) error {
	s.mu.Lock()
	s.now++
	s.most = max(s.most, s.now)
	s.mu.Unlock()
	select {
	case <-s.entered:
	case <-time.After(2 * time.Second):
		s.mu.Lock()
		s.late = true // stored before Next's Finish, not beside it
		s.mu.Unlock()
	}
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	s.now--
	s.mu.Unlock()
	if key == s.failKey {
		return errors.New("disk full")
	}
	return s.MemStore.Put(ctx, key, r)
}

// finishSignal closes entered when its Finish begins.
type finishSignal struct {
	entered  chan struct{}
	finished bool
}

func (f *finishSignal) Consume(context.Context, models.Layer, int, [][]float32) error { return nil }
func (f *finishSignal) Finish(context.Context) error {
	close(f.entered)
	f.finished = true
	return nil
}

// Issue 18: Finish stores the layers a few at a time while Next finishes;
// every layer but a failing one is stored, the failure is returned (naming
// its layer) and Next is finished all the same.
func TestCachingStoresWhileNextFinishes(t *testing.T) {
	ctx := t.Context()
	widths := map[string]int{}
	for i := range 12 {
		widths[fmt.Sprintf("L%02d", i)] = 3 + i
	}
	ex, stim := fake(7, widths, 3)
	key := func(l models.Layer) Key { return Key{Model: "m", Stimuli: "s", Layer: l.ID} }
	entered := make(chan struct{})
	store := &slowStore{failKey: key(models.Layer{ID: "L05"}).String(), entered: entered}
	next := &finishSignal{entered: entered}
	err := ex.Run(ctx, stim, &Caching{Store: store, Key: key, Total: stim.Len(), Next: next}, nil)
	if err == nil || !strings.Contains(err.Error(), "cache L05") || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Finish returned %v, want the failed layer L05's error", err)
	}
	if !next.finished || store.late {
		t.Errorf("Next finished %v; layers stored before Next's Finish began %v: want Finish, beside the stores", next.finished, store.late)
	}
	if store.most != storeAtOnce {
		t.Errorf("%d layers stored at once, want %d", store.most, storeAtOnce)
	}
	if got := store.Len(); got != len(widths)-1 {
		t.Errorf("%d layers stored, want %d (all but the failing one)", got, len(widths)-1)
	}
	for _, l := range ex.layers {
		if l.ID == "L05" {
			continue
		}
		rows, cols, data, err := Load(ctx, store, key(l))
		if err != nil || rows != 7 || cols != widths[l.ID] || data[cols+1] != ex.data[l.ID][1][1] {
			t.Errorf("layer %s read back %d×%d, %v", l.ID, rows, cols, err)
		}
	}
}
