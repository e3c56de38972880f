package wire

import (
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteComparisonText writes a comparison as text tables: the models'
// scores, then every pair with its interval, p and q.
func WriteComparisonText(w io.Writer, c Comparison) {
	fmt.Fprintf(w, "%s: %s; %d resamples (%d failed), seed %d\n\n", c.BenchmarkID, c.Method, c.Resamples, c.FailedResamples, c.Seed)
	name := make(map[string]string)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSCORE (all stimuli)")
	for _, m := range c.Models {
		name[m.Model.Hash] = m.Model.Name
		fmt.Fprintf(tw, "%s\t%.4f\n", m.Model.Name, float64(m.Score))
	}
	tw.Flush()
	for _, s := range c.Skipped {
		fmt.Fprintf(w, "skipped %s: %s\n", s.Model.Name, s.Reason)
	}
	if len(c.Pairs) == 0 {
		fmt.Fprintln(w, "\nno pairs: fewer than two models could be compared")
		return
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "A\tB\tDIFF A−B\t95% CI\tP\tQ (BH)\t")
	for _, p := range c.Pairs {
		mark := ""
		if p.Significant {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%+.4f\t[%+.4f, %+.4f]\t%.4f\t%.4f\t%s\n", name[p.A], name[p.B], float64(p.Diff),
			float64(p.CI[0]), float64(p.CI[1]), float64(p.P), float64(p.Q), mark)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n* significant: q < %g\n%s\n", float64(c.Level), c.Rule)
}
