package rsa

import (
	"cmp"
	"slices"
)

// DrawnSet is a fixed set of values that vectors are drawn from, with
// repetition: the RDM entries of a bootstrap resample of stimuli are
// entries of the full RDM. The set's order is found once; a drawn vector
// is then ranked by one counting pass over the set's distinct values
// instead of a radix sort of its own (Prepared.CompareDrawn), or once per
// distinct code of the vector (Drawn, DrawnPrepared).
type DrawnSet struct {
	vals   []float64
	dense  []int32 // 0-based rank of the value's key among the distinct keys
	nd     int     // distinct keys
	finite bool
}

// NewDrawnSet makes the set of vals (kept, not copied: do not modify).
func NewDrawnSet(vals []float64) *DrawnSet {
	s := &DrawnSet{vals: vals, dense: make([]int32, len(vals)), finite: true}
	keys := make([]uint64, len(vals)) // sortKey of each value
	order := make([]int32, len(vals))
	for i, v := range vals {
		keys[i] = sortKey(v)
		order[i] = int32(i)
		s.finite = s.finite && v-v == 0
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(keys[a], keys[b]) })
	d := int32(-1)
	for q, i := range order {
		if q == 0 || keys[i] != keys[order[q-1]] {
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
// for bit: with Spearman b's ranks are those rankEach gives (rankDrawn),
// and Spearman's sums over them are exact.
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
	b      []float64
	db     []float64
}

// rankDrawn is rankEach(x) for x[i] = set.vals[codes[i]] (finite, fewer
// than 2^16 values): the same rank for every i, visited in position order
// (rankEach visits them in sorted order). Equal values have equal sort
// keys (−0 is keyed as +0), so the ties rankEach finds are the codes of
// one dense key; a value's rank is the count of drawn values below it
// plus the mean position of its run, from one counting pass over the
// set's distinct keys (no sort).
//
// The visiting order does not change what Spearman computes from these
// ranks: they are multiples of 1/2 below 2^16, so every product and sum
// of Prepared.spearman is a multiple of 1/4 below 2^47, exact in float64
// whatever the order of the terms (TestRankDrawnIsRankEach).
func rankDrawn(set *DrawnSet, codes []int32, sc *DrawnScratch, visit func(i int32, r float64)) {
	twice := set.twiceRanks(sc, func(add func(c, w int32)) {
		for _, c := range codes {
			add(c, 1)
		}
	})
	for i, c := range codes {
		visit(int32(i), float64(twice[set.dense[c]])/2)
	}
}

// twiceRanks returns, per dense key of the set, twice the rank its value
// has among a drawn vector (ties: their mean rank), the vector given by
// each distinct code and how often it is drawn (each(add)). Entries of
// keys not drawn are meaningless. The slice is sc's.
func (s *DrawnSet) twiceRanks(sc *DrawnScratch, each func(add func(c, w int32))) []int32 {
	if cap(sc.counts) < s.nd {
		sc.counts = make([]int32, s.nd)
	}
	cnt := sc.counts[:s.nd]
	clear(cnt)
	each(func(c, w int32) { cnt[s.dense[c]] += w })
	// A run of k equal values after `below` smaller ones holds ranks
	// below+1 … below+k: mean (2·below + k + 1)/2.
	var below int32
	for d, k := range cnt {
		cnt[d] = 2*below + k + 1
		below += k
	}
	return cnt
}

// Drawn is a vector drawn from DrawnSets of one size: its codes (positions
// in the set, repeated as drawn), held also as its distinct codes and how
// often each is drawn. A bootstrap resample of stimuli draws each pair of
// distinct stimuli as often as the product of their multiplicities: about
// 1000 entries but only ~400 distinct pairs for 46 stimuli.
type Drawn struct {
	codes  []int32
	uniq   []int32
	weight []int32
	mark   []int32 // per code: its count while Set runs, else 0
}

// Set makes d the vector of codes (kept, not copied: do not modify while
// d is used), every code below size.
func (d *Drawn) Set(codes []int32, size int) {
	d.codes = codes
	if len(d.mark) < size {
		d.mark = make([]int32, size)
	}
	d.uniq = d.uniq[:0]
	for _, c := range codes {
		if d.mark[c] == 0 {
			d.uniq = append(d.uniq, c)
		}
		d.mark[c]++
	}
	d.weight = d.weight[:0]
	for _, c := range d.uniq {
		d.weight = append(d.weight, d.mark[c])
		d.mark[c] = 0
	}
}

// Len is the drawn vector's length (codes with repetition).
func (d *Drawn) Len() int { return len(d.codes) }

// DrawnPrepared is a drawn vector readied, as Prepare readies a vector,
// for comparisons with other vectors drawn with the same codes.
type DrawnPrepared struct {
	d    *Drawn
	da   []float64 // Spearman: per distinct code, its rank − (n+1)/2
	saa  float64
	slow *Prepared // other methods, non-finite sets, lengths out of range
	set  *DrawnSet
}

// PrepareDrawnVector is PrepareDrawn(set, d's codes, m) computed once per
// distinct code: with Spearman, the ranks of the drawn values by counting,
// weighted by how often each code is drawn. d must not change while the
// result is used.
func PrepareDrawnVector(set *DrawnSet, d *Drawn, m Method) *DrawnPrepared {
	n := d.Len()
	if m != Spearman || !set.finite || n < 3 || n >= 1<<16 {
		return &DrawnPrepared{d: d, slow: PrepareDrawn(set, d.codes, m), set: set}
	}
	p := &DrawnPrepared{d: d, da: make([]float64, len(d.uniq)), set: set}
	var sc DrawnScratch
	p.da = centredRanks(set, d, &sc, p.da)
	for q, w := range d.weight {
		p.saa += float64(w) * (p.da[q] * p.da[q])
	}
	return p
}

// centredRanks writes into dst, per distinct code of d, the rank of its
// value among d's drawn values minus (n+1)/2, and returns dst.
func centredRanks(set *DrawnSet, d *Drawn, sc *DrawnScratch, dst []float64) []float64 {
	twice := set.twiceRanks(sc, func(add func(c, w int32)) {
		for q, c := range d.uniq {
			add(c, d.weight[q])
		}
	})
	m2 := int32(d.Len() + 1)
	dst = dst[:0]
	for _, c := range d.uniq {
		dst = append(dst, float64(twice[set.dense[c]]-m2)/2)
	}
	return dst
}

// Compare returns p's vector compared with b[i] = set's value at d's code
// i under the prepared method: bit for bit what Prepare(a, m).Compare(b)
// gives for the drawn vectors themselves. With Spearman each sum runs
// over the distinct codes, each term times its code's count: the terms
// are multiples of 1/4 whose sums stay below 2^47 (ranks are multiples of
// 1/2 below 2^16), so they are exact, and equal to the sums over every
// drawn entry in any order.
func (p *DrawnPrepared) Compare(set *DrawnSet, sc *DrawnScratch) (float64, error) {
	if p.slow != nil || !set.finite || len(set.vals) != len(p.set.vals) {
		slow := p.slow
		if slow == nil {
			slow = PrepareDrawn(p.set, p.d.codes, Spearman)
		}
		return slow.CompareDrawn(set, p.d.codes, sc)
	}
	sc.db = centredRanks(set, p.d, sc, sc.db)
	var sab, sbb float64
	for q, w := range p.d.weight {
		x := sc.db[q]
		sab += float64(w) * (p.da[q] * x)
		sbb += float64(w) * (x * x)
	}
	return fromSums(sab, p.saa, sbb)
}
