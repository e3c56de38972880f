package scoring

// ScorerVersionFor is the scorer version a score computed with the given
// reduction of wide layers is keyed by: ScorerVersion for the platform's
// default ("", average pooling in the graph to at most 4096 values per
// image), else ScorerVersion+"+"+reduction, e.g. "1+pool:1024", "1+none"
// or "1+pca:1000@3f2a9c0b17de". A score under another reduction is thus
// never stored under, nor read as, the default's key, and the leaderboard,
// which lists only ScorerVersion, leaves it off (issue 16).
func ScorerVersionFor(reduction string) string {
	if reduction == "" {
		return ScorerVersion
	}
	return ScorerVersion + "+" + reduction
}
