package wire

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/scoring"
)

// WriteText writes the leaderboard as a text table, with its rules.
func WriteText(w io.Writer, lb *leaderboard.Leaderboard) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "RANK\tMODEL\tAVERAGE")
	for _, b := range lb.Benchmarks {
		fmt.Fprintf(tw, "\t%s", b.ID)
	}
	fmt.Fprintln(tw)
	for _, r := range lb.Rows {
		fmt.Fprintf(tw, "%d\t%s\t%.3f", r.Rank, r.Model.Name, r.Average)
		for _, c := range r.Cells {
			if !c.Present {
				fmt.Fprint(tw, "\t—")
				continue
			}
			fmt.Fprintf(tw, "\t%.3f±%.3f", c.Ceiled, c.CeiledSE)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	fmt.Fprintf(w, "\naverage: %s\nmissing: %s\nunceiled: %s\n", leaderboard.AggregationRule, leaderboard.MissingRule, leaderboard.UnceiledRule)
	// Which ceiling each column divides by, and how (issue 16).
	for _, b := range lb.Benchmarks {
		if b.CeilingKind == "" {
			continue
		}
		c := scoring.Conventions{Ceiling: b.CeilingKind, Transform: b.Transform}
		fmt.Fprintf(w, "%s: ceiled = %s, ceiling %.4f (%s)\n", b.ID, c.Formula(), b.Ceiling, b.CeilingKind)
	}
}

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
