package rsa

import "fmt"

// kendallTauA is Knight's O(n log n) algorithm: sort pairs by (a, b),
// count ties in a (n1) and joint ties (n3), then merge-sort the b sequence
// counting exchanges (discordant pairs) and count ties in b (n2). With
// n0 = n(n−1)/2, concordant − discordant = n0 − n1 − n2 + n3 − 2·swaps, and
// τa divides that by n0 (tied pairs count as neither).
func kendallTauA(a, b []float64) (float64, error) {
	n := len(a)
	ka := make([]uint64, n)
	kb := make([]uint64, n)
	idx := make([]int32, n)
	for i := range a {
		kb[i] = sortKey(b[i])
		idx[i] = int32(i)
	}
	// Lexicographic (a, b): stable sort by b, then stable sort by a.
	radixSort(kb, idx)
	for i, j := range idx {
		ka[i] = sortKey(a[j])
	}
	radixSort(ka, idx)
	bs := make([]float64, n)
	for i, j := range idx {
		bs[i] = b[j]
	}
	var n1, n3 int64
	for i := 0; i < n; {
		j := i + 1
		for j < n && a[idx[j]] == a[idx[i]] {
			j++
		}
		t := int64(j - i)
		n1 += t * (t - 1) / 2
		for k := i; k < j; {
			l := k + 1
			for l < j && bs[l] == bs[k] {
				l++
			}
			u := int64(l - k)
			n3 += u * (u - 1) / 2
			k = l
		}
		i = j
	}
	swaps := mergeCount(bs, make([]float64, n))
	var n2 int64
	for i := 0; i < n; {
		j := i + 1
		for j < n && bs[j] == bs[i] {
			j++
		}
		t := int64(j - i)
		n2 += t * (t - 1) / 2
		i = j
	}
	n0 := int64(n) * int64(n-1) / 2
	if n1 == n0 {
		return 0, fmt.Errorf("%w: a", ErrConstant)
	}
	if n2 == n0 {
		return 0, fmt.Errorf("%w: b", ErrConstant)
	}
	s := n0 - n1 - n2 + n3 - 2*swaps
	return float64(s) / float64(n0), nil
}

// mergeCount sorts x ascending (bottom-up merge sort) and returns the
// number of strictly inverted pairs, i.e. pairs i<j with x[i] > x[j].
func mergeCount(x, tmp []float64) int64 {
	n := len(x)
	var swaps int64
	src, dst := x, tmp
	for w := 1; w < n; w *= 2 {
		for lo := 0; lo < n; lo += 2 * w {
			mid := min(lo+w, n)
			hi := min(lo+2*w, n)
			i, j, k := lo, mid, lo
			for i < mid && j < hi {
				if src[j] < src[i] {
					dst[k] = src[j]
					swaps += int64(mid - i)
					j++
				} else {
					dst[k] = src[i]
					i++
				}
				k++
			}
			k += copy(dst[k:], src[i:mid])
			copy(dst[k:], src[j:hi])
		}
		src, dst = dst, src
	}
	if &src[0] != &x[0] {
		copy(x, src)
	}
	return swaps
}
