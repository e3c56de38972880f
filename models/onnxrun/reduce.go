package onnxrun

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/reference"
	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/reduce"
)

// How wide layers are reduced before scoring (issue 16): --reduce.
const (
	ReducePool = "pool" // average pooling in the graph to at most N values per image
	ReducePCA  = "pca"  // K principal components fitted on reference images
	ReduceNone = "none" // full activations
)

// PCAPoolTo caps the values per image fed to PCA: larger layers are
// average-pooled in the graph to at most this many first, so that a
// reference set of R images holds R × 16384 × 4 bytes per layer at most
// (65 MB for R = 1000) and the Gram matrix costs R² × 16384 per layer.
const PCAPoolTo = 16384

// DefaultMaxLayerBytes is the default largest activation matrix of one
// layer (stimuli × values × 4 bytes) that --reduce none accepts.
const DefaultMaxLayerBytes = 4 << 30

// DefaultPCABudget bounds the bytes of reference and benchmark
// activations held at once while fitting PCA: layers are extracted in
// groups that fit (one forward pass over both image sets per group).
const DefaultPCABudget = 1 << 30

// Reduction is a parsed --reduce value.
type Reduction struct {
	Kind string // ReducePool, ReducePCA or ReduceNone
	N    int64  // pool:N
	K    int    // pca:K
}

// DefaultReduction is pool:DefaultPoolTo, the platform's default.
func DefaultReduction() Reduction { return Reduction{Kind: ReducePool, N: DefaultPoolTo} }

// ParseReduction parses "pool:N", "pca:K" or "none".
func ParseReduction(s string) (Reduction, error) {
	kind, arg, hasArg := strings.Cut(strings.TrimSpace(s), ":")
	bad := func(why string) (Reduction, error) {
		return Reduction{}, fmt.Errorf("reduction %q: %s (want pool:N, pca:K or none, e.g. pool:4096, the default, or pca:500)", s, why)
	}
	switch kind {
	case ReduceNone:
		if hasArg {
			return bad("none takes no number")
		}
		return Reduction{Kind: ReduceNone}, nil
	case ReducePool, ReducePCA:
		v, err := strconv.ParseInt(arg, 10, 64)
		if !hasArg || err != nil || v < 1 {
			return bad(kind + " needs a positive whole number after the colon")
		}
		if kind == ReducePool {
			return Reduction{Kind: ReducePool, N: v}, nil
		}
		if v > 1<<20 {
			return bad("too many components")
		}
		return Reduction{Kind: ReducePCA, K: int(v)}, nil
	}
	return bad("unknown kind " + strconv.Quote(kind))
}

// String is the reduction as --reduce takes it.
func (r Reduction) String() string {
	switch r.Kind {
	case ReducePool:
		return fmt.Sprintf("pool:%d", r.N)
	case ReducePCA:
		return fmt.Sprintf("pca:%d", r.K)
	}
	return r.Kind
}

// PCASettings are where the reference images of pca:K come from.
type PCASettings struct {
	Pool   *reference.Pool // the candidate images
	Images int             // R, the reference set's size (reference.DefaultImages)
	Seed   uint64          // the draw's seed
	// Budget bounds the bytes of activations held while fitting
	// (DefaultPCABudget when 0).
	Budget int64
}

// SetReduction makes the model reduce wide layers by r. pca needs ps.Pool;
// K must be below the reference set's size. A model starts with
// DefaultReduction (or the pool size given to Load).
func (m *Model) SetReduction(r Reduction, ps PCASettings) error {
	switch r.Kind {
	case ReducePool:
		m.poolTo = r.N
	case ReduceNone:
		m.poolTo = 0
	case ReducePCA:
		if ps.Pool == nil {
			return errors.New("pca: no reference images (internal: PCASettings.Pool not set)")
		}
		if ps.Images <= 0 {
			ps.Images = reference.DefaultImages
		}
		if r.K > ps.Images-1 {
			return fmt.Errorf("pca:%d needs more reference images than components (K ≤ R−1 = %d): ask for pca:%d or more reference images (--reference-images %d)",
				r.K, ps.Images-1, ps.Images-1, r.K+1)
		}
		if ps.Budget <= 0 {
			ps.Budget = DefaultPCABudget
		}
		m.poolTo = PCAPoolTo
		m.pca = &ps
	default:
		return fmt.Errorf("unknown reduction kind %q", r.Kind)
	}
	if r.Kind != ReducePCA {
		m.pca = nil
	}
	m.reduction, m.ref = r, nil
	return nil
}

// Reduction is the reduction SetReduction set.
func (m *Model) Reduction() Reduction {
	if m.reduction.Kind == "" {
		if m.poolTo <= 0 { // New's poolTo 0: no pooling
			return Reduction{Kind: ReduceNone}
		}
		return Reduction{Kind: ReducePool, N: m.poolTo}
	}
	return m.reduction
}

// ReductionFor readies the model for scoring a benchmark that shows used
// and returns the reduction's name for its score key and conventions:
// "" for the default (pool:4096), "pool:N", "none" or "pca:K@REF" where
// REF names the reference set drawn without the benchmark's images. none
// refuses a benchmark on which one layer's activations would exceed
// MaxLayerBytes (layers are otherwise extracted in groups that fit the
// runner's feature budget).
func (m *Model) ReductionFor(ctx context.Context, used models.UsedImages) (string, error) {
	r := m.Reduction()
	switch r.Kind {
	case ReducePool:
		if r.N == DefaultPoolTo {
			return "", nil
		}
		return r.String(), nil
	case ReduceNone:
		limit := m.MaxLayerBytes
		if limit <= 0 {
			limit = DefaultMaxLayerBytes
		}
		for _, l := range m.layers {
			if q := l.Features(); q > 0 {
				if b := int64(used.Stimuli) * q * 4; b > limit {
					return "", fmt.Errorf("--reduce none: layer %s of %s on %s would hold %d stimuli × %d values × 4 bytes = %.1f GiB, over the %.1f GiB limit of one layer: use --reduce pool:N or pca:K for this benchmark (or raise --max-layer-bytes)",
						l.ID, m.Name(), used.Benchmark, used.Stimuli, q, float64(b)/(1<<30), float64(limit)/(1<<30))
				}
			}
		}
		return ReduceNone, nil
	}
	set, err := m.pca.Pool.Draw(ctx, used, m.pca.Images, m.pca.Seed)
	if err != nil {
		return "", fmt.Errorf("pca reference set for %s: %w", used.Benchmark, err)
	}
	m.ref = set
	return fmt.Sprintf("pca:%d@%s", r.K, set.Name()), nil
}

// pcaFeatures is the width PCA hands on for a layer of q values per
// image after pooling: K, or q when the layer has no more than K values
// (it is passed through unreduced).
func (m *Model) pcaFeatures(q int) int { return min(q, m.reduction.K) }

// cacheReduction names the reduction for activation cache keys.
func (m *Model) cacheReduction(opts ort.Options) string {
	if m.pca != nil && m.ref != nil {
		return fmt.Sprintf("%s;pca:%d@%s", opts.Reduction(), m.reduction.K, m.ref.ID)
	}
	return opts.Reduction()
}

// extractPCA extracts layers over the reference set and stim in one pass
// per group of layers that fits the budget, fits each wider-than-K layer's
// PCA on the reference rows (scoring/reduce.FitPCA, exact, as sklearn's
// PCA(svd_solver="full")) and hands c the projection of stim's rows.
func (m *Model) extractPCA(ctx context.Context, stim models.Stimuli, layers []models.Layer, opts ort.Options, c models.Consumer, p models.Progress) error {
	if m.ref == nil {
		return errors.New("pca: no reference set drawn (internal: ReductionFor was not called)")
	}
	R, n := m.ref.Len(), stim.Len()
	var groups [][]models.Layer
	var cur []models.Layer
	var bytes int64
	for _, l := range layers {
		q := m.pooled(l)
		sz := int64(R+n) * int64(q) * 4
		if len(cur) > 0 && bytes+sz > m.pca.Budget {
			groups = append(groups, cur)
			cur, bytes = nil, 0
		}
		cur = append(cur, l)
		bytes += sz
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	both := concat{m.ref, stim}
	for g, group := range groups {
		acc := map[string]linalg.Matrix[float32]{}
		collect := models.ConsumerFunc(func(_ context.Context, l models.Layer, first int, rows [][]float32) error {
			x, ok := acc[l.ID]
			if !ok {
				x = linalg.NewMatrix[float32](R+n, len(rows[0]))
				acc[l.ID] = x
			}
			for i, r := range rows {
				copy(x.Row(first+i), r)
			}
			return nil
		})
		var prog models.Progress
		if p != nil {
			// Reported as passes over stim: group g of len(groups).
			prog = func(done, total int) { p((g*total+done)*n/total/len(groups), n) }
		}
		ex, err := m.rt.NewExtractor(m.checked, m.info.Spec, group, opts)
		if err != nil {
			return err
		}
		err = ex.Run(ctx, both, collect, prog)
		ex.Close()
		if err != nil {
			return err
		}
		for _, l := range group {
			x, ok := acc[l.ID]
			if !ok {
				return fmt.Errorf("pca: layer %s gave no activations", l.ID)
			}
			delete(acc, l.ID)
			rows := x.Slice(R, R+n, 0, x.Cols)
			if x.Cols > m.reduction.K {
				pc, err := fitPCA(x.Slice(0, R, 0, x.Cols), m.reduction.K)
				if err != nil {
					return fmt.Errorf("fit pca:%d of layer %s on reference set %s: %w", m.reduction.K, l.ID, m.ref.Name(), err)
				}
				out := linalg.NewMatrix[float32](n, pc.OutDim())
				pc.Transform(out, rows)
				rows = out
			}
			batch := make([][]float32, n)
			for i := range batch {
				batch[i] = rows.Row(i)
			}
			if err := c.Consume(ctx, l, 0, batch); err != nil {
				return err
			}
		}
	}
	if f, ok := c.(models.Finisher); ok {
		return f.Finish(ctx)
	}
	return nil
}

// fitPCA fits k components on ref, or, when ref's centred rows span
// fewer than k directions (a layer with dead units), as many as they span:
// further components would be arbitrary directions of zero variance. The
// largest k that fits is searched for by bisection (a refit each step),
// which only such layers pay for.
func fitPCA(ref linalg.Matrix[float32], k int) (*reduce.PCA, error) {
	p, err := reduce.FitPCA(ref, k)
	if !errors.Is(err, reduce.ErrRank) {
		return p, err
	}
	lo, hi := 0, k // FitPCA(lo) fits (0: nothing yet), FitPCA(hi) does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if q, err := reduce.FitPCA(ref, mid); err == nil {
			lo, p = mid, q
		} else if errors.Is(err, reduce.ErrRank) {
			hi = mid
		} else {
			return nil, err
		}
	}
	if p == nil {
		return nil, err // not even one direction: constant activations
	}
	return p, nil
}

// concat is two image sets one after the other.
type concat [2]models.Stimuli

func (c concat) Len() int { return c[0].Len() + c[1].Len() }
func (c concat) Image(ctx context.Context, i int) (image.Image, error) {
	if n := c[0].Len(); i >= n {
		return c[1].Image(ctx, i-n)
	}
	return c[0].Image(ctx, i)
}
