package scoring

import "testing"

func TestScorerVersionFor(t *testing.T) {
	for _, c := range []struct{ reduction, want string }{
		{"", "1"},
		{"pool:1024", "1+pool:1024"},
		{"none", "1+none"},
		{"pca:1000@3f2a9c0b17de", "1+pca:1000@3f2a9c0b17de"},
	} {
		if got := ScorerVersionFor(c.reduction); got != c.want {
			t.Errorf("ScorerVersionFor(%q) = %q, want %q", c.reduction, got, c.want)
		}
	}
}
