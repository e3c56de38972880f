package rsa

import (
	"cmp"
	"math/bits"
	"slices"
)

// DrawnSet is a fixed set of values that vectors are drawn from, with
// repetition: the RDM entries of a bootstrap resample of stimuli are
// entries of the full RDM. The set's order is found once; a drawn vector
// is then ranked by one counting pass over the set's distinct values
// instead of a radix sort of its own (Prepared.CompareDrawn).
type DrawnSet struct {
	vals   []float64
	keys   []uint64 // sortKey of each value
	dense  []int32  // 0-based rank of the value's key among the distinct keys
	nd     int      // distinct keys
	finite bool
}

// NewDrawnSet makes the set of vals (kept, not copied: do not modify).
func NewDrawnSet(vals []float64) *DrawnSet {
	s := &DrawnSet{vals: vals, keys: make([]uint64, len(vals)), dense: make([]int32, len(vals)), finite: true}
	order := make([]int32, len(vals))
	for i, v := range vals {
		s.keys[i] = sortKey(v)
		order[i] = int32(i)
		s.finite = s.finite && v-v == 0
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(s.keys[a], s.keys[b]) })
	d := int32(-1)
	for q, i := range order {
		if q == 0 || s.keys[i] != s.keys[order[q-1]] {
			d++
		}
		s.dense[i] = d
	}
	s.nd = int(d + 1)
	return s
}

// Values writes the drawn vector vals[codes[i]] into dst and returns it.
func (s *DrawnSet) Values(dst []float64, codes []int32) []float64 {
	dst = dst[:0]
	for _, c := range codes {
		dst = append(dst, s.vals[c])
	}
	return dst
}

// PrepareDrawn is Prepare(a, m) for a[i] = set's value codes[i]: with
// Spearman its ranks come from rankDrawn (the same ranks).
func PrepareDrawn(set *DrawnSet, codes []int32, m Method) *Prepared {
	a := set.Values(nil, codes)
	if m != Spearman || !set.finite || len(a) < 3 || len(a) >= 1<<16 {
		return Prepare(a, m)
	}
	p := &Prepared{a: a, m: m, sc: new(rankScratch), ra: make([]float32, len(a))}
	rankDrawn(set, codes, &DrawnScratch{}, func(i int32, r float64) { p.ra[i] = float32(r) })
	return p
}

// CompareDrawn returns p.Compare(b) for b[i] = set's value codes[i], bit
// for bit: with Spearman the ranks of b are visited in the order, and
// with the values, that rankEach gives them.
func (p *Prepared) CompareDrawn(set *DrawnSet, codes []int32, sc *DrawnScratch) (float64, error) {
	if p.ra == nil || !set.finite || len(codes) >= 1<<16 || len(p.a) != len(codes) || p.err != nil {
		sc.b = set.Values(sc.b, codes)
		return p.Compare(sc.b)
	}
	return p.spearman(len(codes), func(visit func(int32, float64)) { rankDrawn(set, codes, sc, visit) })
}

// DrawnScratch is CompareDrawn's memory, reusable across calls (not
// concurrently).
type DrawnScratch struct {
	counts []int32
	order  []int32
	b      []float64
}

// rankDrawn is rankEach(x) for x[i] = set.vals[codes[i]] (finite, fewer
// than 2^16 values): the same ranks visited in the same order. rankEach
// sorts x by a 32-bit key, (sortKey − min) >> shift, stably, and then
// each run of equal 32-bit keys longer than one by value with
// slices.SortFunc (skipped when insertionSortsNothing); it visits runs of
// equal values in that order. Here x is ordered by (value, position) by
// counting over the set's distinct values. A run of equal 32-bit keys of
// at most 12 entries is then already in the order rankEach gives it
// (SortFunc sorts so short a run by a stable insertion sort, and a run it
// skips is in position order and sorted); a longer one is put back in
// position order and given to SortFunc as rankEach does. With shift 0 the
// 32-bit key orders as the value and no run is sorted.
func rankDrawn(set *DrawnSet, codes []int32, sc *DrawnScratch, visit func(i int32, r float64)) {
	n := len(codes)
	if n == 0 {
		return
	}
	minK, maxK := set.keys[codes[0]], set.keys[codes[0]]
	for _, c := range codes[1:] {
		k := set.keys[c]
		minK = min(minK, k)
		maxK = max(maxK, k)
	}
	shift := max(0, bits.Len64(maxK-minK)-32)
	if cap(sc.counts) < set.nd+1 {
		sc.counts = make([]int32, set.nd+1)
	}
	cnt := sc.counts[:set.nd+1]
	clear(cnt)
	for _, c := range codes {
		cnt[set.dense[c]+1]++
	}
	for d := 1; d < len(cnt); d++ {
		cnt[d] += cnt[d-1]
	}
	if cap(sc.order) < n {
		sc.order = make([]int32, n)
	}
	order := sc.order[:n]
	for i, c := range codes {
		d := set.dense[c]
		order[cnt[d]] = int32(i)
		cnt[d]++
	}
	key32 := func(i int32) uint32 { return uint32((set.keys[codes[i]] - minK) >> shift) }
	val := func(i int32) float64 { return set.vals[codes[i]] }
	for s := 0; s < n; {
		e := s + 1
		if shift > 0 {
			k := key32(order[s])
			for e < n && key32(order[e]) == k {
				e++
			}
			if e-s > 12 {
				run := order[s:e]
				slices.Sort(run) // the radix sort's order: by position
				slices.SortFunc(run, func(a, b int32) int { return cmp.Compare(val(a), val(b)) })
			}
		} else {
			k := set.keys[codes[order[s]]]
			for e < n && set.keys[codes[order[e]]] == k {
				e++
			}
		}
		// order[s:e] holds equal 32-bit keys: visit its runs of equal
		// values, ranks as rankEach gives them.
		for a := s; a < e; {
			b := a + 1
			for b < e && val(order[b]) == val(order[a]) {
				b++
			}
			r := float64(a+b+1) / 2
			for q := a; q < b; q++ {
				visit(order[q], r)
			}
			a = b
		}
		s = e
	}
}
