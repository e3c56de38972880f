package rsa

import "math"

// Standardize writes into z the values of x (their average ranks for
// Spearman), centred and scaled to unit population variance, so that the
// mean product of two standardized vectors is their Pearson (Spearman)
// correlation: the fast path for comparing one vector with many. It
// reports false, z then unspecified, for a constant or non-finite vector.
// Kendall τa has no such form: it panics for other methods. z and x must
// have the same length.
func Standardize(z, x []float64, m Method) bool {
	switch m {
	case Spearman:
		Rank(z, x)
	case Pearson:
		copy(z, x[:len(z)])
	default:
		panic("rsa: Standardize: no standard form for " + string(m))
	}
	return ZScore(z)
}

// ZScore centres z and scales it to unit population variance, in place;
// false for a constant or non-finite vector.
func ZScore(z []float64) bool {
	var mean float64
	for _, v := range z {
		mean += v
	}
	mean /= float64(len(z))
	var ss float64
	for i := range z {
		z[i] -= mean
		ss += z[i] * z[i]
	}
	if !(ss > 0) || math.IsInf(ss, 0) {
		return false
	}
	sd := math.Sqrt(ss / float64(len(z)))
	for i := range z {
		z[i] /= sd
	}
	return true
}
