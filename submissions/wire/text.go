package wire

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
)

// SubmitFile uploads the ONNX file at path with the form's metadata.
func (c *Client) SubmitFile(ctx context.Context, path string, form SubmitForm) (Accepted, error) {
	f, err := os.Open(path)
	if err != nil {
		return Accepted{}, err
	}
	defer f.Close()
	acc, err := c.Submit(ctx, filepath.Base(path), f, form)
	if err != nil {
		return Accepted{}, fmt.Errorf("submit %s: %w", path, err)
	}
	return acc, nil
}

// FormatSeconds renders an estimated duration.
func FormatSeconds(s float64) string {
	switch {
	case s < 120:
		return fmt.Sprintf("~%.0f s", s)
	case s < 7200:
		return fmt.Sprintf("~%.0f min", s/60)
	default:
		return fmt.Sprintf("~%.1f h", s/3600)
	}
}

// FormatBytes renders an estimated memory size.
func FormatBytes(b int64) string {
	switch {
	case b < 1<<20:
		return fmt.Sprintf("%d KiB", b>>10)
	case b < 1<<30:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	default:
		return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
	}
}

// StateLine says where a submission stands, in one line.
func StateLine(s Status) string {
	switch s.State {
	case "validating", "extracting", "scoring":
		return fmt.Sprintf("%s (benchmark %d of %d)", s.State, s.Benchmark, s.Benchmarks)
	case "failed":
		return fmt.Sprintf("failed: %s", s.FailureClass)
	case "done":
		return fmt.Sprintf("done (%d benchmarks)", s.Benchmarks)
	case "cancelled":
		if s.Message != "" {
			return s.Message // "cancelled (model withdrawn)", "cancelled by ada"
		}
	}
	return s.State
}

// PrintList writes the caller's submissions as a table.
func PrintList(w io.Writer, list StatusList) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMODEL\tSTATE\tCREATED")
	for _, s := range list.Submissions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.ModelName, StateLine(s), s.CreatedAt.Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}

// PrintStatus writes one submission's status and its jobs.
func PrintStatus(w io.Writer, s Status) {
	fmt.Fprintf(w, "submission %s: %s\nmodel %s (%s)\n", s.ID, StateLine(s), s.ModelName, s.ModelHash)
	if s.State == "failed" {
		fmt.Fprintf(w, "why: %s\n", s.Message)
	} else if s.Message != "" {
		// e.g. "platform problem, will retry: ..."
		fmt.Fprintf(w, "note: %s\n", s.Message)
	}
	fmt.Fprintf(w, "estimate: %s, %s peak memory\n", FormatSeconds(s.Estimate.Seconds), FormatBytes(s.Estimate.Bytes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tBENCHMARK\tSTATE\tATTEMPT\tNOTE")
	for _, j := range s.Jobs {
		note := j.Stage
		if j.State == "failed" {
			note = j.FailureClass + ": " + j.Message
		} else if (j.State == "queued" || j.State == "cancelled") && j.Message != "" {
			note = j.Message
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", j.Position, j.BenchmarkID, j.State, j.Attempt, note)
	}
	tw.Flush()
}
