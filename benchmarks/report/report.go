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

// CeilingText describes in one line the ceiling ceiled scores divide by:
// its value, its kind (which bound, in which correlation), its R² and how
// scores are formed from it, e.g. "0.4744 (Nili upper bound, Spearman r;
// R² 0.2297; scores are raw / ceiling)".
func CeilingText(s benchmarks.Summary) string {
	switch {
	case !s.CeilingValid:
		return "none: " + s.CeilingReason
	case s.CeilingMethod == benchmarks.CeilingSplitHalf:
		return fmt.Sprintf("%.4f (split-half reliability of the repeats, Spearman–Brown corrected, Pearson r; median of %d targets, session %s, %d splits; %s)",
			s.CeilingValue, s.CeilingTargets, s.CeilingSession, s.CeilingSplits, TransformText(s.Transform))
	default:
		return fmt.Sprintf("%.4f (%s, %s r; R² %.4f; %s)", s.CeilingValue, BoundText(s.CeilingBound), comparisonName(s.Comparison), s.CeilingValueR2, TransformText(s.Transform))
	}
}

// BoundText names an rsa-nili ceiling bound for readers.
func BoundText(bound string) string {
	switch bound {
	case "", "upper":
		return "Nili upper bound"
	case "lower":
		return "Nili lower bound"
	case "leave-one-subject-out":
		return "leave-one-subject-out"
	case "halves":
		return "split-half reliability of the two triangles, Spearman–Brown corrected"
	}
	return bound
}

// TransformText says how ceiled scores are formed from raw and ceiling.
func TransformText(t string) string {
	if t == "squared-clipped" {
		return "scores are (raw / ceiling)², the ratio clipped to [0, 1] first"
	}
	return "scores are raw / ceiling"
}

func comparisonName(c string) string {
	switch c {
	case "spearman":
		return "Spearman"
	case "pearson":
		return "Pearson"
	case "kendall-tau-a":
		return "Kendall τa"
	}
	return c
}

// AlsoComputed lists the rsa-nili bounds computed beside the one scores
// divide by, one "name r (R² …)" each.
func AlsoComputed(s benchmarks.Summary) []string {
	if !s.CeilingValid || s.CeilingMethod != benchmarks.CeilingRSANili {
		return nil
	}
	var out []string
	add := func(bound string, r, r2 float64) {
		if bound != s.CeilingBound {
			out = append(out, fmt.Sprintf("%s %.4f (R² %.4f)", bound, r, r2))
		}
	}
	if s.Subjects >= 2 || s.CeilingUpper != 0 {
		add("upper", s.CeilingUpper, s.CeilingUpperR2)
		add("lower", s.CeilingLower, s.CeilingLowerR2)
	}
	if s.CeilingLOSO != 0 {
		add("leave-one-subject-out", s.CeilingLOSO, s.CeilingLOSOR2)
	}
	if s.Form != "" {
		add("halves", s.CeilingHalves, s.CeilingHalvesR2)
	}
	return out
}

// shortCeiling is the list's ceiling column: the value scores divide by,
// labelled with its bound and units.
func shortCeiling(s benchmarks.Summary) string {
	switch {
	case !s.CeilingValid:
		return "none"
	case s.CeilingMethod == benchmarks.CeilingSplitHalf:
		return fmt.Sprintf("split-half r %.4f", s.CeilingValue)
	default:
		return fmt.Sprintf("%s r %.4f (R² %.4f)", s.CeilingBound, s.CeilingValue, s.CeilingValueR2)
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
	fmt.Fprintln(tw, "ID\tVERSION\tPARENT\tACCESS\tKIND\tDATA\tMETRIC\tCEILING (BOUND r, R²; SCORES DIVIDE BY IT)")
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
	if also := AlsoComputed(s); len(also) > 0 {
		row("also computed", strings.Join(also, "; "))
	}
	if s.CeilingValid && s.CeilingMethod == benchmarks.CeilingRSANili && s.Kind == benchmarks.KindRDM {
		row("ceiling in scores", "each score divides by the same bound on its split's test stimuli, so its ceiling differs from the whole-set value above")
	}
	if s.Form != "" {
		row("form", fmt.Sprintf("%s matrices (asymmetric; symmetrised for scoring, diagonal excluded); mean diagonal %.4f (data quality)", s.Form, s.Diagonal))
	}
	row("features", s.Features)
	if s.Degrees > 0 {
		row("stimulus size", fmt.Sprintf("%g° of visual angle", s.Degrees))
	} else {
		row("stimulus size", "not stated")
	}
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
	// Scoring is the benchmark's scoring conventions, defaults filled in.
	Scoring ScoringJSON `json:"scoring"`
	Created string      `json:"created,omitempty"`
}

// ScoringJSON is a benchmark's scoring conventions in a SummaryJSON.
type ScoringJSON struct {
	Transform    string   `json:"transform"`               // ratio or squared-clipped
	Features     string   `json:"features"`                // as-is, zscore or zscore-reliable
	Selection    string   `json:"selection"`               // commit, partner or held-out
	CommitRegion string   `json:"commit_region,omitempty"` // selection commit
	CommitOn     []string `json:"commit_on,omitempty"`     // selection commit
	Degrees      float64  `json:"degrees,omitempty"`       // stimulus size; absent: not stated
	Form         string   `json:"form,omitempty"`          // asymmetric RDM input
	Diagonal     *float64 `json:"diagonal,omitempty"`      // asymmetric input's mean diagonal
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
	// Bound (rsa-nili: upper, lower, leave-one-subject-out or halves)
	// is the ceiling scores divide by; Value is it in Units (r, the
	// comparison's correlation), ValueR2 its R².
	Bound      string   `json:"bound,omitempty"`
	Comparison string   `json:"comparison,omitempty"`
	Units      string   `json:"units,omitempty"`
	Value      *float64 `json:"value,omitempty"`
	ValueR2    *float64 `json:"value_r2,omitempty"`
	LOSO       *float64 `json:"leave_one_subject_out,omitempty"`
	LOSOR2     *float64 `json:"leave_one_subject_out_r2,omitempty"`
	Halves     *float64 `json:"halves,omitempty"`
	HalvesR2   *float64 `json:"halves_r2,omitempty"`
	Transform  string   `json:"transform,omitempty"`
	// InScores says how a score's own ceiling relates to Value.
	InScores string `json:"in_scores,omitempty"`
}

// ToJSON converts a summary to its JSON form.
func ToJSON(s benchmarks.Summary) SummaryJSON {
	c := CeilingJSON{Method: string(s.CeilingMethod), Reason: s.CeilingReason, Targets: s.CeilingTargets, Session: s.CeilingSession, Splits: s.CeilingSplits}
	if s.CeilingValid {
		c.Upper = &s.CeilingUpper
		if s.CeilingMethod == benchmarks.CeilingRSANili {
			c.Lower, c.UpperR2, c.LowerR2 = &s.CeilingLower, &s.CeilingUpperR2, &s.CeilingLowerR2
		}
		c.Bound, c.Comparison, c.Units, c.Transform = s.CeilingBound, s.Comparison, "r", s.Transform
		c.Value = &s.CeilingValue
		if s.CeilingMethod == benchmarks.CeilingRSANili {
			c.ValueR2 = &s.CeilingValueR2
			if s.Kind == benchmarks.KindRDM {
				c.InScores = "each score divides by the same bound on its split's test stimuli"
			}
		}
		if s.CeilingLOSO != 0 {
			c.LOSO, c.LOSOR2 = &s.CeilingLOSO, &s.CeilingLOSOR2
		}
		if s.Form != "" {
			c.Halves, c.HalvesR2 = &s.CeilingHalves, &s.CeilingHalvesR2
		}
	}
	sc := ScoringJSON{Transform: s.Transform, Features: s.Features, Selection: s.SelectionMode, CommitRegion: s.CommitRegion, Degrees: s.Degrees, Form: s.Form}
	if s.CommitOn != "" {
		sc.CommitOn = strings.Split(s.CommitOn, ", ")
	}
	if s.Form != "" {
		sc.Diagonal = &s.Diagonal
	}
	out := SummaryJSON{
		ID: s.ID, Version: s.Version, Title: s.Title, Parent: s.Parent, Private: s.Private, Partner: s.Partner,
		Kind: string(s.Kind), Species: s.Species, Region: s.Region, Method: s.Method, Licence: s.Licence, Citation: s.Citation,
		Stimuli: s.Stimuli, Subjects: s.Subjects, Sessions: s.Sessions, Targets: s.Targets, Files: s.Files, Bytes: s.Bytes,
		Metric: s.Metric, Selection: s.Selection, Ceiling: c, Scoring: sc,
	}
	if !s.Created.IsZero() {
		out.Created = s.Created.Format(time.RFC3339)
	}
	return out
}
