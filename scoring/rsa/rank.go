package rsa

import (
	"cmp"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// rankEach calls visit(i, r) once for every index i of x, r being x[i]'s
// 1-based average rank (scipy.stats.rankdata's "average"). Indices are
// visited in no particular order.
//
// It ranks in little memory, about 2 bytes per value for long vectors, so
// that Spearman on two n-long RDM vectors needs, beyond its inputs, only
// the n float32 ranks of the first: the values are split by key range into
// up to 8 classes (boundaries from a seeded sample), and each class is
// gathered by one scan of x, sorted by an LSD radix sort on a 32-bit key
// relative to the class's range, and handed out. A boundary value forms a
// class of its own, so a value repeated many times costs no sorting and no
// buffer. Values whose 32-bit keys collide (within 2^shift ulps of each
// other) are ordered by a comparison sort on the full values.
//
// sc holds the sorting buffers between calls (nil: allocate for this call).
func rankEach(x []float64, sc *rankScratch, visit func(i int32, r float64)) {
	n := len(x)
	if n == 0 {
		return
	}
	classes := 1
	if n >= 1<<16 {
		classes = 8
	}
	bounds := splitKeys(x, classes)
	m := len(bounds)
	// Class 2j: keys strictly between bounds[j-1] and bounds[j]; class
	// 2j+1: keys equal to bounds[j].
	counts := make([]int, 2*m+1)
	minK, maxK := uint64(math.MaxUint64), uint64(0)
	for _, v := range x {
		k := sortKey(v)
		minK = min(minK, k)
		maxK = max(maxK, k)
		j := 0
		for j < m && bounds[j] < k {
			j++
		}
		c := 2 * j
		if j < m && bounds[j] == k {
			c++
		}
		counts[c]++
	}
	capacity := 0
	for j := 0; j <= m; j++ {
		capacity = max(capacity, counts[2*j])
	}
	if sc == nil {
		sc = new(rankScratch)
	}
	// One slot of slack: the gathering loop writes before it knows whether
	// the value belongs to the class.
	ks, k2, is, i2 := sc.buffers(capacity + 1)

	g := 0 // values in the classes already handed out
	for j := 0; j <= m; j++ {
		cnt := counts[2*j]
		eqCnt, eqKey := 0, uint64(0)
		if j < m {
			eqCnt, eqKey = counts[2*j+1], bounds[j]
		}
		if cnt == 0 && eqCnt == 0 {
			continue
		}
		eqRank := float64(2*(g+cnt)+eqCnt+1) / 2
		// The class's keys lie in [base, top].
		base, top := minK, maxK
		if j > 0 {
			base = max(base, bounds[j-1]+1)
		}
		if j < m && bounds[j] > 0 {
			top = min(top, bounds[j]-1)
		}
		shift := max(0, bits.Len64(top-base)-32)
		span := top - base
		p := 0
		// Which values belong is unpredictable: the gathering is
		// branch-free, hence one loop per case (a combined loop with
		// both tests measured 40% slower).
		switch {
		case eqCnt == 0:
			for i, v := range x {
				k := sortKey(v)
				ks[p] = uint32((k - base) >> shift)
				is[p] = int32(i)
				if k-base <= span {
					p++
				}
			}
		case cnt == 0:
			for i, v := range x {
				if sortKey(v) == eqKey {
					visit(int32(i), eqRank)
				}
			}
		default:
			for i, v := range x {
				k := sortKey(v)
				ks[p] = uint32((k - base) >> shift)
				is[p] = int32(i)
				if k-base <= span {
					p++
				}
				if k == eqKey { // rare: predictable
					visit(int32(i), eqRank)
				}
			}
		}
		sk, si := radixSortKeys(ks[:p], k2[:p], is[:p], i2[:p])
		if shift > 0 {
			// Equal 32-bit keys need not be equal values: order such runs
			// by value.
			for s := 0; s < p; {
				e := s + 1
				for e < p && sk[e] == sk[s] {
					e++
				}
				if e-s > 1 && !insertionSortsNothing(x, si[s:e]) {
					slices.SortFunc(si[s:e], func(a, b int32) int { return cmp.Compare(x[a], x[b]) })
				}
				s = e
			}
		}
		for s := 0; s < p; {
			e := s + 1
			for e < p && sk[e] == sk[s] && x[si[e]] == x[si[s]] {
				e++
			}
			// Positions g+s … g+e−1 hold equal values: ranks g+s+1 … g+e.
			r := float64(2*g+s+e+1) / 2
			for q := s; q < e; q++ {
				visit(si[q], r)
			}
			s = e
		}
		g += cnt + eqCnt
	}
}

// rankScratch is rankEach's sorting memory, reusable across calls.
type rankScratch struct {
	keys []uint32
	idx  []int32
}

// buffers returns two key and two index buffers of length n.
func (sc *rankScratch) buffers(n int) (k1, k2 []uint32, i1, i2 []int32) {
	if len(sc.keys) < 2*n {
		sc.keys = make([]uint32, 2*n)
		sc.idx = make([]int32, 2*n)
	}
	return sc.keys[:n], sc.keys[n : 2*n], sc.idx[:n], sc.idx[n : 2*n]
}

// splitKeys returns up to classes−1 distinct sort keys cutting x into
// classes of about equal size, from a seeded sample (the seed fixes the
// boundaries, so rankEach is deterministic; the ranks never depend on it).
func splitKeys(x []float64, classes int) []uint64 {
	if classes < 2 {
		return nil
	}
	r := rand.New(rand.NewPCG(0x5eed, uint64(len(x))))
	sample := make([]uint64, 64*classes)
	for i := range sample {
		sample[i] = sortKey(x[r.IntN(len(x))])
	}
	slices.Sort(sample)
	var bounds []uint64
	for j := 1; j < classes; j++ {
		b := sample[j*len(sample)/classes]
		if len(bounds) == 0 || bounds[len(bounds)-1] != b {
			bounds = append(bounds, b)
		}
	}
	return bounds
}

// insertionSortsNothing reports whether slices.SortFunc by value would
// leave run as it is because it is short enough for its insertion sort
// (≤ 12 elements) and already in order: then the call is skipped. A run
// of equal 32-bit keys is mostly one value repeated (a resampled RDM
// repeats the pairs of a stimulus drawn twice), already in order; a
// longer run still goes to SortFunc, whose order of equal values beyond
// 12 elements is its own.
func insertionSortsNothing(x []float64, run []int32) bool {
	if len(run) > 12 {
		return false
	}
	for q := 1; q < len(run); q++ {
		if cmp.Compare(x[run[q]], x[run[q-1]]) < 0 {
			return false
		}
	}
	return true
}
