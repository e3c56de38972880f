// Package activations holds the consumers that sit between extraction and
// scoring: Reducing reduces each layer's activations as they stream in
// (random projection, PCA fitted on reference images, from scoring/reduce),
// and Caching stores the reduced activations in a models.BlobStore under
// a key naming everything they depend on, so nothing is computed twice.
//
// Reducing every layer of a network costs time in proportion to what the
// reduction reads. MobileNetV2's 245 layers are ~33 M values per image;
// merely reading them once in Go costs about as much as the forward pass,
// and a dense projection of them (33 M × k multiply-adds) many times more.
// The affordable all-layer pipeline is therefore Subsampled: a fixed,
// seeded random subset of units per wide layer (it reads only what it
// keeps), then a random projection or a PCA fitted on reference images
// (FitPCA with Subsampled as its pre-reduction), on a few hundred to a few
// thousand values per layer. OpenBLAS should run single-threaded
// (OPENBLAS_NUM_THREADS=1) while ONNX Runtime has the cores: its spinning
// threads otherwise double the CPU time of the small projections.
package activations

import (
	"context"
	"fmt"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
)

// Chain applies reducers one after the other (e.g. a random projection to
// a few thousand dimensions, then PCA).
type Chain []reduce.Reducer

// OutDim is the last reducer's output width.
func (c Chain) OutDim() int { return c[len(c)-1].OutDim() }

// TransformRows applies the chain to rows without copying them first when
// the first reducer is a RowTransformer (Subsample), else copies them.
func (c Chain) TransformRows(dst linalg.Matrix[float32], rows [][]float32) {
	first, ok := c[0].(RowTransformer)
	if !ok {
		x := linalg.NewMatrix[float32](len(rows), len(rows[0]))
		for i, r := range rows {
			copy(x.Row(i), r)
		}
		c.Transform(dst, x)
		return
	}
	if len(c) == 1 {
		first.TransformRows(dst, rows)
		return
	}
	y := linalg.NewMatrix[float32](len(rows), c[0].OutDim())
	first.TransformRows(y, rows)
	c[1:].Transform(dst, y)
}

// Transform applies each reducer in turn.
func (c Chain) Transform(dst, x linalg.Matrix[float32]) {
	for i, r := range c {
		if i == len(c)-1 {
			r.Transform(dst, x)
			return
		}
		y := linalg.NewMatrix[float32](x.Rows, r.OutDim())
		r.Transform(y, x)
		x = y
	}
}

// Factory returns the reducer of a layer with the given number of
// features per stimulus; nil means pass the layer through unreduced.
type Factory func(layer models.Layer, features int) (reduce.Reducer, error)

// RandomProjections reduces every layer wider than k features with a
// Gaussian random projection to k, seeded by seed and the layer index so
// that each layer's projection is fixed.
func RandomProjections(k int, seed uint64) Factory {
	return func(l models.Layer, features int) (reduce.Reducer, error) {
		if features <= k {
			return nil, nil
		}
		return reduce.NewRandomProjection(features, k, seed^uint64(l.Index)*0x9e3779b97f4a7c15), nil
	}
}

// Fixed uses the given reducers by layer ID (from FitPCA), passing other
// layers through.
func Fixed(byLayer map[string]reduce.Reducer) Factory {
	return func(l models.Layer, _ int) (reduce.Reducer, error) { return byLayer[l.ID], nil }
}

// Reducing is a Consumer that reduces each layer's rows before handing
// them to Next. A reducer's cheap per-row first stage (a RowTransformer
// such as Subsample, the head of a Chain) runs on every batch as it
// arrives; the matrix stage (projection, PCA) is applied to Rows stimuli
// at a time (default 32), because one GEMM over many rows is several times
// faster than many small ones. Next therefore receives batches of up to
// Rows stimuli, the last ones at Finish. Buffers are reused.
type Reducing struct {
	Next models.Consumer
	New  Factory
	Rows int

	layers map[string]*reducingLayer
	order  []string
}

type reducingLayer struct {
	layer    models.Layer
	features int
	r        reduce.Reducer // the whole reducer, as the factory made it
	row      RowTransformer // nil: rows are copied
	rowOut   int            // width after row
	rest     reduce.Reducer // nil: nothing after row
	pass     bool           // no reducer at all

	pending  linalg.Matrix[float32] // staged rows, width rowOut
	n, first int
	out      linalg.Matrix[float32]
	rows     [][]float32
}

func (c *Reducing) state(l models.Layer, features int) (*reducingLayer, error) {
	if st, ok := c.layers[l.ID]; ok {
		return st, nil
	}
	if c.layers == nil {
		c.layers = map[string]*reducingLayer{}
	}
	r, err := c.New(l, features)
	if err != nil {
		return nil, fmt.Errorf("reducer for %s: %w", l.ID, err)
	}
	st := &reducingLayer{layer: l, features: features, r: r, rowOut: features, pass: r == nil}
	switch v := r.(type) {
	case nil:
	case Chain:
		if rt, ok := v[0].(RowTransformer); ok {
			st.row, st.rowOut = rt, v[0].OutDim()
			switch len(v) {
			case 1:
			case 2:
				st.rest = v[1]
			default:
				st.rest = v[1:]
			}
		} else {
			st.rest = v
		}
	case RowTransformer:
		st.row, st.rowOut = v, r.OutDim()
	default:
		st.rest = r
	}
	c.layers[l.ID] = st
	c.order = append(c.order, l.ID)
	return st, nil
}

// Consume reduces rows, passing them on now or when Rows have gathered.
func (c *Reducing) Consume(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
	st, err := c.state(l, len(rows[0]))
	if err != nil {
		return err
	}
	if st.pass {
		return c.Next.Consume(ctx, l, first, rows)
	}
	n := len(rows)
	for _, r := range rows {
		if len(r) != st.features {
			return fmt.Errorf("reduce %s: row of %d features, want %d", l.ID, len(r), st.features)
		}
	}
	capRows := c.Rows
	if capRows <= 0 {
		capRows = 32
	}
	capRows = max(capRows, n)
	if st.pending.Rows < capRows {
		st.pending = linalg.NewMatrix[float32](capRows, st.rowOut)
		outW := st.rowOut
		if st.rest != nil {
			outW = st.rest.OutDim()
		}
		st.out = linalg.NewMatrix[float32](capRows, outW)
		st.rows = make([][]float32, capRows)
	}
	if st.n > 0 && (st.first+st.n != first || st.n+n > st.pending.Rows) {
		if err := c.flush(ctx, st); err != nil {
			return err
		}
	}
	if st.n == 0 {
		st.first = first
	}
	dst := st.pending.Slice(st.n, st.n+n, 0, st.rowOut)
	if st.row != nil {
		st.row.TransformRows(dst, rows)
	} else {
		for i, r := range rows {
			copy(dst.Row(i), r)
		}
	}
	st.n += n
	if st.rest == nil || st.n >= st.pending.Rows {
		return c.flush(ctx, st)
	}
	return nil
}

func (c *Reducing) flush(ctx context.Context, st *reducingLayer) error {
	if st.n == 0 {
		return nil
	}
	src := st.pending.Slice(0, st.n, 0, st.rowOut)
	out := src
	if st.rest != nil {
		out = st.out.Slice(0, st.n, 0, st.rest.OutDim())
		st.rest.Transform(out, src)
	}
	for i := range st.n {
		st.rows[i] = out.Row(i)
	}
	n := st.n
	st.n = 0
	return c.Next.Consume(ctx, st.layer, st.first, st.rows[:n])
}

// Finish hands on what is still staged, then finishes Next.
func (c *Reducing) Finish(ctx context.Context) error {
	for _, id := range c.order {
		if err := c.flush(ctx, c.layers[id]); err != nil {
			return err
		}
	}
	if f, ok := c.Next.(models.Finisher); ok {
		return f.Finish(ctx)
	}
	return nil
}

// Extractor is what FitPCA needs from an extractor (ort.Extractor).
type Extractor interface {
	Run(ctx context.Context, stim models.Stimuli, c models.Consumer, progress models.Progress) error
}

// FitPCA fits, for every layer, PCA with k components on the reference
// images (the images of other benchmarks: ImageNet is not available),
// after the pre factory's reduction (e.g. RandomProjections(2048, seed)
// for very wide layers; nil for none). It holds the reference activations
// of all layers (after pre) in memory: n × min(features, pre width) per
// layer. The returned map feeds Fixed; layers no wider than k are left out
// (passed through).
func FitPCA(ctx context.Context, e Extractor, reference models.Stimuli, pre Factory, k int) (map[string]reduce.Reducer, error) {
	n := reference.Len()
	acc := &accumulate{n: n, data: map[string]linalg.Matrix[float32]{}}
	var c models.Consumer = acc
	var red *Reducing
	if pre != nil {
		red = &Reducing{Next: acc, New: pre}
		c = red
	}
	if err := e.Run(ctx, reference, c, nil); err != nil {
		return nil, fmt.Errorf("fit PCA: extract reference images: %w", err)
	}
	out := map[string]reduce.Reducer{}
	for id, x := range acc.data {
		if x.Cols <= k {
			continue
		}
		p, err := reduce.FitPCA(x, min(k, n-1))
		if err != nil {
			return nil, fmt.Errorf("fit PCA of %s: %w", id, err)
		}
		if red != nil {
			if st := red.layers[id]; st != nil && st.r != nil {
				out[id] = Chain{st.r, p}
				continue
			}
		}
		out[id] = p
	}
	return out, nil
}

type accumulate struct {
	n    int
	data map[string]linalg.Matrix[float32]
}

func (a *accumulate) Consume(ctx context.Context, l models.Layer, first int, rows [][]float32) error {
	m, ok := a.data[l.ID]
	if !ok {
		m = linalg.NewMatrix[float32](a.n, len(rows[0]))
		a.data[l.ID] = m
	}
	for i, r := range rows {
		copy(m.Row(first+i), r)
	}
	return nil
}
