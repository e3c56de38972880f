package reduce

import (
	"math"
	"math/rand/v2"

	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// projBlock is the number of input features per generated block of the
// projection matrix; block b is drawn from PCG(seed, b), so any block can
// be regenerated on its own.
const projBlock = 256

// maxCached is the largest projection matrix (elements) kept in memory;
// larger ones are regenerated block by block on every Transform.
const maxCached = 1 << 24 // 64 MiB of float32

// RandomProjection is a Gaussian random projection from InDim to OutDim
// features: x ↦ x·R with R_ij ~ N(0, 1/OutDim), so squared norms are
// preserved in expectation (the scaling of sklearn's
// GaussianRandomProjection; the values differ). R is determined by the
// seed alone and is never stored whole when InDim·OutDim exceeds 2^24
// elements: each Transform then regenerates it block by block, at a cost of
// InDim·OutDim normal draws per call (batch images together).
type RandomProjection struct {
	in, out int
	seed    uint64
	cached  linalg.Matrix[float32] // in×out, or empty
}

// NewRandomProjection returns the projection from inDim to outDim features
// for seed. It panics if either dimension is not positive.
func NewRandomProjection(inDim, outDim int, seed uint64) *RandomProjection {
	if inDim < 1 || outDim < 1 {
		panic("reduce: NewRandomProjection needs positive dimensions")
	}
	rp := &RandomProjection{in: inDim, out: outDim, seed: seed}
	if inDim*outDim <= maxCached {
		rp.cached = linalg.NewMatrix[float32](inDim, outDim)
		for r0 := 0; r0 < inDim; r0 += projBlock {
			rp.block(rp.cached.Slice(r0, min(r0+projBlock, inDim), 0, outDim), r0/projBlock)
		}
	}
	return rp
}

// InDim returns the number of input features.
func (rp *RandomProjection) InDim() int { return rp.in }

// OutDim returns the number of output features.
func (rp *RandomProjection) OutDim() int { return rp.out }

func (rp *RandomProjection) block(dst linalg.Matrix[float32], b int) {
	r := rand.New(rand.NewPCG(rp.seed, uint64(b)))
	s := 1 / math.Sqrt(float64(rp.out))
	for i := range dst.Rows {
		row := dst.Row(i)
		for j := range row {
			row[j] = float32(r.NormFloat64() * s)
		}
	}
}

// Transform writes x·R into dst.
func (rp *RandomProjection) Transform(dst, x linalg.Matrix[float32]) {
	if x.Cols != rp.in || dst.Rows != x.Rows || dst.Cols != rp.out {
		panic("reduce: RandomProjection.Transform shape mismatch")
	}
	if rp.cached.Rows > 0 {
		linalg.Gemm(false, false, 1, x, rp.cached, 0, dst)
		return
	}
	buf := linalg.NewMatrix[float32](projBlock, rp.out)
	for r0 := 0; r0 < rp.in; r0 += projBlock {
		r1 := min(r0+projBlock, rp.in)
		blk := buf.Slice(0, r1-r0, 0, rp.out)
		rp.block(blk, r0/projBlock)
		beta := float32(1)
		if r0 == 0 {
			beta = 0
		}
		linalg.Gemm(false, false, 1, x.Slice(0, x.Rows, r0, r1), blk, beta, dst)
	}
}

var (
	_ Reducer = (*PCA)(nil)
	_ Reducer = (*RandomProjection)(nil)
)
