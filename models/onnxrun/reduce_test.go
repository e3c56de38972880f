package onnxrun

import (
	"strings"
	"testing"
)

func TestParseReduction(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Reduction
	}{
		{"pool:4096", DefaultReduction()},
		{"pool:1024", Reduction{Kind: ReducePool, N: 1024}},
		{"pca:1000", Reduction{Kind: ReducePCA, K: 1000}},
		{" none ", Reduction{Kind: ReduceNone}},
	} {
		got, err := ParseReduction(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseReduction(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if again, err := ParseReduction(got.String()); err != nil || again != got {
			t.Errorf("%q does not round-trip: %q → %+v, %v", c.in, got.String(), again, err)
		}
	}
	for _, bad := range []string{"", "pool", "pool:", "pool:0", "pool:-3", "pca:x", "pca:1.5", "none:3", "max:4", "pca:99999999"} {
		if _, err := ParseReduction(bad); err == nil || !strings.Contains(err.Error(), "pool:N, pca:K or none") {
			t.Errorf("ParseReduction(%q): %v, want an error saying what is accepted", bad, err)
		}
	}
}
