// Package rsa compares RDM vectors (upper triangles without the diagonal):
// Spearman (average ranks for ties), Pearson and Kendall τa.
//
// Invariants: inputs are never modified. Vectors of different lengths,
// fewer than 3 entries, non-finite values, or a constant vector (for which
// a correlation is undefined) return an error wrapping a sentinel error.
package rsa

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"unsafe"
)

// Method names an RDM comparison.
type Method string

const (
	Spearman    Method = "spearman"
	Pearson     Method = "pearson"
	KendallTauA Method = "kendall-tau-a"
)

var (
	ErrUnknownMethod = errors.New("rsa: unknown method")
	ErrLength        = errors.New("rsa: vectors differ in length")
	ErrTooShort      = errors.New("rsa: fewer than 3 entries")
	ErrNonFinite     = errors.New("rsa: non-finite value")
	ErrConstant      = errors.New("rsa: constant vector (correlation undefined)")
)

// ParseMethod validates a method name.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case Spearman, Pearson, KendallTauA:
		return m, nil
	}
	return "", fmt.Errorf("%w %q (want spearman, pearson or kendall-tau-a)", ErrUnknownMethod, s)
}

// Compare returns the similarity of RDM vectors a and b under m.
func Compare(a, b []float64, m Method) (float64, error) {
	if _, err := ParseMethod(string(m)); err != nil {
		return 0, err
	}
	if len(a) != len(b) {
		return 0, fmt.Errorf("%w: %d and %d", ErrLength, len(a), len(b))
	}
	if len(a) < 3 {
		return 0, fmt.Errorf("%w: got %d", ErrTooShort, len(a))
	}
	for _, v := range [2][]float64{a, b} {
		for i, x := range v {
			if x-x != 0 {
				name := "a"
				if &v[0] == &b[0] {
					name = "b"
				}
				return 0, fmt.Errorf("%w: %s[%d] is %v", ErrNonFinite, name, i, x)
			}
		}
	}
	switch m {
	case Pearson:
		return pearson(a, b)
	case Spearman:
		return spearman(a, b)
	default:
		return kendallTauA(a, b)
	}
}

// pearson is the two-pass Pearson correlation (means first, then centred
// sums), which matches numpy/scipy to rounding.
func pearson(a, b []float64) (float64, error) {
	n := float64(len(a))
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= n
	mb /= n
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	return fromSums(sab, saa, sbb)
}

// Rank writes the 1-based ranks of x into dst, ties getting the average of
// the ranks they span (scipy.stats.rankdata's "average"). It panics if the
// lengths differ. NaNs are ordered by bit pattern; callers reject them.
func Rank(dst, x []float64) {
	if len(dst) != len(x) {
		panic("rsa: Rank: len(dst) != len(x)")
	}
	n := len(x)
	if n == 0 {
		return
	}
	if n > smallSort {
		rankEach(x, nil, func(i int32, r float64) { dst[i] = r })
		return
	}
	// A comparison sort beats the radix sort's fixed passes on short
	// vectors (the pairs of a small cross-validation fold).
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(a, b int32) int { return cmp.Compare(sortKey(x[a]), sortKey(x[b])) })
	for i := 0; i < n; {
		j := i + 1
		for j < n && x[idx[j]] == x[idx[i]] {
			j++
		}
		// Positions i..j-1 hold equal values: ranks i+1..j, average (i+1+j)/2.
		r := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			dst[idx[k]] = r
		}
		i = j
	}
}

// spearman is Pearson's r on average ranks. Beyond its inputs it holds
// only the ranks of a, as float32 (exact: half-integers below 2^23), and
// rankEach's small scratch: the ranks of b are consumed as they are
// produced. The ranks' mean is (n+1)/2 exactly, whatever the ties.
func spearman(a, b []float64) (float64, error) {
	n := len(a)
	m := float64(n+1) / 2
	var rank func(i int32) float64
	sc := new(rankScratch)
	if n < 1<<23 {
		ra := make([]float32, n)
		rankEach(a, sc, func(i int32, r float64) { ra[i] = float32(r) })
		rank = func(i int32) float64 { return float64(ra[i]) }
	} else {
		ra := make([]float64, n)
		rankEach(a, sc, func(i int32, r float64) { ra[i] = r })
		rank = func(i int32) float64 { return ra[i] }
	}
	var sab, saa, sbb float64
	rankEach(b, sc, func(i int32, r float64) {
		da, db := rank(i)-m, r-m
		sab += da * db
		saa += da * da
		sbb += db * db
	})
	return fromSums(sab, saa, sbb)
}

// fromSums is the correlation of centred sums of products (ab, aa, bb).
func fromSums(sab, saa, sbb float64) (float64, error) {
	if saa == 0 {
		return 0, fmt.Errorf("%w: a", ErrConstant)
	}
	if sbb == 0 {
		return 0, fmt.Errorf("%w: b", ErrConstant)
	}
	r := sab / math.Sqrt(saa) / math.Sqrt(sbb)
	return max(-1, min(1, r)), nil
}

// smallSort is the length up to which Rank sorts by comparison: measured
// here, a comparison sort ranks 100 values in half the radix sort's time,
// 1035 in three times it.
const smallSort = 200

// sortKey maps a float64 to a uint64 whose unsigned order is the float's
// order. −0 is mapped to +0: they compare equal, and Kendall's tie counting
// needs equal values to be adjacent with their secondary keys in order.
func sortKey(f float64) uint64 {
	// f + 0 is f, except that −0 + 0 = +0 (IEEE 754, rounding to nearest);
	// the sign bit then selects between flipping every bit (negatives)
	// and only the sign bit (positives), without a branch.
	b := math.Float64bits(f + 0)
	return b ^ (uint64(int64(b)>>63) | 1<<63)
}

// radixSort sorts keys ascending, stably, permuting idx along with them.
func radixSort(keys []uint64, idx []int32) {
	if len(keys) < 2 {
		return
	}
	sk, si := radixSortKeys(keys, make([]uint64, len(keys)), idx, make([]int32, len(idx)))
	if &sk[0] != &keys[0] {
		copy(keys, sk)
		copy(idx, si)
	}
}

// radixSortKeys sorts keys ascending, stably, permuting idx along, by
// 11-bit LSD passes (a pass on which every key has the same digit is
// skipped); k2 and i2 are scratch of the same length. It returns the
// slices holding the result (the inputs or the scratch).
func radixSortKeys[K uint32 | uint64](keys, k2 []K, idx, i2 []int32) ([]K, []int32) {
	const bits = 11
	const buckets = 1 << bits
	n := len(keys)
	if n < 2 {
		return keys, idx
	}
	var count [buckets]int
	for shift := uint(0); shift < uint(8*unsafe.Sizeof(keys[0])); shift += bits {
		clear(count[:])
		for _, k := range keys {
			count[(k>>shift)&(buckets-1)]++
		}
		if count[(keys[0]>>shift)&(buckets-1)] == n {
			continue // every key has this digit: the pass would be the identity
		}
		sum := 0
		for d := range count {
			c := count[d]
			count[d] = sum
			sum += c
		}
		for i, k := range keys {
			d := (k >> shift) & (buckets - 1)
			p := count[d]
			count[d]++
			k2[p] = k
			i2[p] = idx[i]
		}
		keys, k2 = k2, keys
		idx, i2 = i2, idx
	}
	return keys, idx
}

// Prepared is one vector a made ready to be compared with many others:
// its checks done and, for Spearman, its ranks computed once. Compare(b)
// returns exactly what Compare(a, b, m) returns, bit for bit (the same
// sums in the same order), and an error when Compare would. A Prepared is
// not safe for concurrent use (it reuses its ranking memory).
type Prepared struct {
	a   []float64
	m   Method
	err error     // Compare's error about a or m, if any
	ra  []float32 // Spearman: the ranks of a
	sc  *rankScratch
}

// Prepare readies a for comparisons under m. It never fails: an error
// about a or m is returned by every Compare.
func Prepare(a []float64, m Method) *Prepared {
	p := &Prepared{a: a, m: m}
	if _, err := ParseMethod(string(m)); err != nil {
		p.err = err
		return p
	}
	if len(a) < 3 {
		p.err = fmt.Errorf("%w: got %d", ErrTooShort, len(a))
		return p
	}
	for i, x := range a {
		if x-x != 0 {
			p.err = fmt.Errorf("%w: a[%d] is %v", ErrNonFinite, i, x)
			return p
		}
	}
	if m == Spearman && len(a) < 1<<23 {
		p.sc = new(rankScratch)
		p.ra = make([]float32, len(a))
		rankEach(a, p.sc, func(i int32, r float64) { p.ra[i] = float32(r) })
	}
	return p
}

// Compare returns Compare(a, b, m) for the prepared a.
func (p *Prepared) Compare(b []float64) (float64, error) {
	if p.ra == nil {
		return Compare(p.a, b, p.m)
	}
	if len(p.a) != len(b) {
		return 0, fmt.Errorf("%w: %d and %d", ErrLength, len(p.a), len(b))
	}
	if p.err != nil {
		return 0, p.err
	}
	for i, x := range b {
		if x-x != 0 {
			return 0, fmt.Errorf("%w: b[%d] is %v", ErrNonFinite, i, x)
		}
	}
	return p.spearman(len(b), func(visit func(int32, float64)) { rankEach(b, p.sc, visit) })
}

// spearman is Spearman's r of a and an n-long b whose ranks rankB visits:
// the sums over b's ranks in the order they are visited (which fixes their
// rounding), the ranks of a taken from p.ra.
func (p *Prepared) spearman(n int, rankB func(visit func(i int32, r float64))) (float64, error) {
	m := float64(n+1) / 2
	ra := p.ra
	var sab, saa, sbb float64
	rankB(func(i int32, r float64) {
		da, db := float64(ra[i])-m, r-m
		sab += da * db
		saa += da * da
		sbb += db * db
	})
	return fromSums(sab, saa, sbb)
}
