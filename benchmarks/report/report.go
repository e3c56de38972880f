// Package report renders benchmark summaries as the CLI prints them: text
// tables and the CLI's JSON form.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
)

// PrintAdded writes what adding benchmarks did: as JSON (one object when
// detail and a single result, else a list), in detail, or one line each.
func PrintAdded(w io.Writer, res []benchmarks.AddResult, asJSON, detail bool) error {
	if asJSON {
		type addedJSON struct {
			Status    string      `json:"status"`
			Benchmark SummaryJSON `json:"benchmark"`
			Repaired  []string    `json:"repaired,omitempty"` // files whose corrupt stored copy was replaced
		}
		out := make([]addedJSON, len(res))
		for i, r := range res {
			out[i] = addedJSON{string(r.Status), ToJSON(r.Summary), r.Repaired}
		}
		if len(out) == 1 && detail {
			return json.NewEncoder(w).Encode(out[0])
		}
		return json.NewEncoder(w).Encode(out)
	}
	for _, r := range res {
		for _, f := range r.Repaired {
			fmt.Fprintf(w, "%s: the stored copy of %s was corrupt and has been replaced\n", r.Summary.ID, f)
		}
		if detail {
			fmt.Fprintf(w, "%s %s (version %s)\n\n", r.Status, r.Summary.ID, r.Summary.Version)
			PrintSummary(w, r.Summary)
			continue
		}
		fmt.Fprintf(w, "%-12s %-28s %s  ceiling %s\n", r.Status, r.Summary.ID, r.Summary.Version, CeilingText(r.Summary))
	}
	return nil
}

// CeilingText describes a benchmark's noise ceiling in one line.
func CeilingText(s benchmarks.Summary) string {
	switch {
	case !s.CeilingValid:
		return "none: " + s.CeilingReason
	case s.CeilingMethod == benchmarks.CeilingSplitHalf:
		return fmt.Sprintf("split-half r %.4f (median of %d targets, session %s, %d splits)", s.CeilingUpper, s.CeilingTargets, s.CeilingSession, s.CeilingSplits)
	default:
		return fmt.Sprintf("%s upper r %.4f (R² %.4f), lower r %.4f (R² %.4f)", s.CeilingMethod, s.CeilingUpper, s.CeilingUpperR2, s.CeilingLower, s.CeilingLowerR2)
	}
}

func shortCeiling(s benchmarks.Summary) string {
	switch {
	case !s.CeilingValid:
		return "none"
	case s.CeilingMethod == benchmarks.CeilingSplitHalf:
		return fmt.Sprintf("r %.4f", s.CeilingUpper)
	default:
		return fmt.Sprintf("R² %.4f", s.CeilingUpperR2)
	}
}

// DataShape describes a benchmark's data in one line.
func DataShape(s benchmarks.Summary) string {
	switch s.Kind {
	case benchmarks.KindRDM:
		if s.Sessions > 0 {
			return fmt.Sprintf("%d subjects × %d sessions (averaged), %d stimuli", s.Subjects, s.Sessions, s.Stimuli)
		}
		if s.Subjects == 1 {
			return fmt.Sprintf("group RDM, %d stimuli", s.Stimuli)
		}
		return fmt.Sprintf("%d subjects, %d stimuli", s.Subjects, s.Stimuli)
	case benchmarks.KindSessions:
		return fmt.Sprintf("%d sessions, %d targets, %d stimuli", s.Sessions, s.Targets, s.Stimuli)
	}
	return fmt.Sprintf("%d targets, %d stimuli", s.Targets, s.Stimuli)
}

// PrintTable writes benchmarks as a table.
func PrintTable(w io.Writer, list []benchmarks.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVERSION\tPARENT\tACCESS\tKIND\tDATA\tMETRIC\tCEILING")
	for _, s := range list {
		access := "public"
		if s.Private {
			access = "private"
		}
		parent := s.Parent
		if parent == "" {
			parent = "-"
		}
		metric, _, _ := strings.Cut(s.Metric, " ")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Version, parent, access, s.Kind, DataShape(s), metric, shortCeiling(s))
	}
	tw.Flush()
}

// PrintSummary writes one benchmark's summary, a field a line.
func PrintSummary(w io.Writer, s benchmarks.Summary) {
	tw := tabwriter.NewWriter(w, 0, 4, 1, ' ', 0)
	row := func(k, v string) {
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s:\t%s\n", k, v)
	}
	access := "public"
	if s.Private {
		access = "private (scored only; data never served)"
	}
	row("id", s.ID)
	row("version", s.Version)
	row("title", s.Title)
	row("parent", s.Parent)
	row("access", access)
	row("partner", s.Partner)
	row("species", s.Species)
	row("region", s.Region)
	row("method", s.Method)
	row("data", fmt.Sprintf("%s: %s", s.Kind, DataShape(s)))
	row("files", fmt.Sprintf("%d (%.1f MB)", s.Files, float64(s.Bytes)/1e6))
	row("metric", s.Metric)
	row("selection", s.Selection)
	row("ceiling", CeilingText(s))
	row("licence", s.Licence)
	if !s.Created.IsZero() {
		row("added", s.Created.Format(time.RFC3339))
	}
	tw.Flush()
	if s.Citation != "" {
		fmt.Fprintln(w, "citation:")
		for _, l := range strings.Split(s.Citation, "\n") {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

// SummaryJSON is the CLI's JSON form of a benchmarks.Summary: scalars only,
// like the Summary itself.
type SummaryJSON struct {
	ID        string      `json:"id"`
	Version   string      `json:"version"`
	Title     string      `json:"title"`
	Parent    string      `json:"parent,omitempty"`
	Private   bool        `json:"private"`
	Partner   string      `json:"partner,omitempty"`
	Kind      string      `json:"kind"`
	Species   string      `json:"species"`
	Region    string      `json:"region"`
	Method    string      `json:"method"`
	Licence   string      `json:"licence"`
	Citation  string      `json:"citation"`
	Stimuli   int         `json:"stimuli"`
	Subjects  int         `json:"subjects,omitempty"`
	Sessions  int         `json:"sessions,omitempty"`
	Targets   int         `json:"targets,omitempty"`
	Files     int         `json:"files"`
	Bytes     int64       `json:"bytes"`
	Metric    string      `json:"metric"`
	Selection string      `json:"selection"`
	Ceiling   CeilingJSON `json:"ceiling"`
	Created   string      `json:"created,omitempty"`
}

// CeilingJSON is the noise ceiling in a SummaryJSON.
type CeilingJSON struct {
	Method  string   `json:"method"`
	Reason  string   `json:"reason,omitempty"`
	Upper   *float64 `json:"upper,omitempty"`
	Lower   *float64 `json:"lower,omitempty"`
	UpperR2 *float64 `json:"upper_r2,omitempty"`
	LowerR2 *float64 `json:"lower_r2,omitempty"`
	Targets int      `json:"targets,omitempty"`
	Session string   `json:"session,omitempty"`
	Splits  int      `json:"splits,omitempty"`
}

// ToJSON converts a summary to its JSON form.
func ToJSON(s benchmarks.Summary) SummaryJSON {
	c := CeilingJSON{Method: string(s.CeilingMethod), Reason: s.CeilingReason, Targets: s.CeilingTargets, Session: s.CeilingSession, Splits: s.CeilingSplits}
	if s.CeilingValid {
		c.Upper = &s.CeilingUpper
		if s.CeilingMethod == benchmarks.CeilingRSANili {
			c.Lower, c.UpperR2, c.LowerR2 = &s.CeilingLower, &s.CeilingUpperR2, &s.CeilingLowerR2
		}
	}
	out := SummaryJSON{
		ID: s.ID, Version: s.Version, Title: s.Title, Parent: s.Parent, Private: s.Private, Partner: s.Partner,
		Kind: string(s.Kind), Species: s.Species, Region: s.Region, Method: s.Method, Licence: s.Licence, Citation: s.Citation,
		Stimuli: s.Stimuli, Subjects: s.Subjects, Sessions: s.Sessions, Targets: s.Targets, Files: s.Files, Bytes: s.Bytes,
		Metric: s.Metric, Selection: s.Selection, Ceiling: c,
	}
	if !s.Created.IsZero() {
		out.Created = s.Created.Format(time.RFC3339)
	}
	return out
}
