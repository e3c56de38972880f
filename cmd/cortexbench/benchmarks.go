package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/benchmarks"
)

// benchmarkCommands are the subcommands of `cortexbench benchmarks`.
var benchmarkCommands = map[string]command{
	"add":            {"validate a manifest and its data and add the benchmark", runBenchmarksAdd},
	"import-builtin": {"add the built-in benchmarks from the datasets folder (--data)", runBenchmarksImportBuiltin},
	"list":           {"list the benchmarks (current versions)", runBenchmarksList},
	"show":           {"show one benchmark: ID or ID@VERSION", runBenchmarksShow},
}

func runBenchmarks(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(env.Stderr, "usage: cortexbench benchmarks SUBCOMMAND [flags]\n\nsubcommands:")
		names := make([]string, 0, len(benchmarkCommands))
		for n := range benchmarkCommands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(env.Stderr, "  %-15s %s\n", n, benchmarkCommands[n].summary)
		}
		fmt.Fprintln(env.Stderr, "\nBuilt-in benchmarks are imported on request (import-builtin), not on first use.")
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := benchmarkCommands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "cortexbench benchmarks: unknown subcommand %q\n", args[0])
		return errUsage
	}
	return c.run(ctx, env, args[1:])
}

// withBenchRegistry opens the platform (object store and database) and
// runs f on its benchmark registry; the database's copy of the catalogue
// is brought up to date afterwards.
func withBenchRegistry(ctx context.Context, pf *platformFlags, f func(*benchmarks.Registry) error) error {
	p, err := pf.open(ctx)
	if err != nil {
		return err
	}
	defer p.close(context.WithoutCancel(ctx))
	if err := f(p.bench); err != nil {
		return err
	}
	return syncBenchmarks(ctx, p)
}

func runBenchmarksAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "benchmarks add", "benchmarks add [--store DIR] [--new-version] [--json] MANIFEST")
	pf := addPlatformFlags(env, fs)
	newVersion := fs.Bool("new-version", false, "add different data under an existing id as its new current version")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	return withBenchRegistry(ctx, pf, func(reg *benchmarks.Registry) error {
		res, err := reg.Add(ctx, pos[0], benchmarks.AddOptions{NewVersion: *newVersion})
		if err != nil {
			return benchError(err)
		}
		return benchPrintAdded(env.Stdout, []benchmarks.AddResult{res}, *asJSON, true)
	})
}

func runBenchmarksImportBuiltin(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "benchmarks import-builtin", "benchmarks import-builtin [--store DIR] [--data DIR] [--json] [ID...]")
	pf := addPlatformFlags(env, fs)
	defData := env.Getenv("CORTEXBENCH_DATA")
	if defData == "" {
		defData = filepath.Join("..", "shared", "datasets")
	}
	data := fs.String("data", defData, "datasets `folder` the built-in manifests refer to ($CORTEXBENCH_DATA)")
	asJSON := fs.Bool("json", false, "print JSON")
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	return withBenchRegistry(ctx, pf, func(reg *benchmarks.Registry) error {
		res, err := reg.ImportBuiltin(ctx, *data, ids, benchmarks.AddOptions{})
		if err != nil {
			return benchError(err)
		}
		return benchPrintAdded(env.Stdout, res, *asJSON, false)
	})
}

func runBenchmarksList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "benchmarks list", "benchmarks list [--store DIR] [--json]")
	pf := addPlatformFlags(env, fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		fs.Usage()
		return errUsage
	}
	return withBenchRegistry(ctx, pf, func(reg *benchmarks.Registry) error {
		list, err := reg.List(ctx)
		if err != nil {
			return benchError(err)
		}
		if *asJSON {
			out := make([]benchSummaryJSON, len(list))
			for i, s := range list {
				out[i] = toBenchSummaryJSON(s)
			}
			return writeJSON(env.Stdout, out)
		}
		if len(list) == 0 {
			fmt.Fprintln(env.Stdout, "no benchmarks; add one with 'cortexbench benchmarks add MANIFEST' or 'cortexbench benchmarks import-builtin'")
			return nil
		}
		benchPrintTable(env.Stdout, list)
		return nil
	})
}

func runBenchmarksShow(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "benchmarks show", "benchmarks show [--store DIR] [--json] ID[@VERSION]")
	pf := addPlatformFlags(env, fs)
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return errUsage
	}
	return withBenchRegistry(ctx, pf, func(reg *benchmarks.Registry) error {
		s, err := reg.Show(ctx, pos[0])
		if err != nil {
			return benchError(err)
		}
		if *asJSON {
			return writeJSON(env.Stdout, toBenchSummaryJSON(s))
		}
		benchPrintSummary(env.Stdout, s)
		return nil
	})
}

// benchError marks the user's mistakes as bad input; the message already
// names the file and the problem.
func benchError(err error) error {
	if errors.Is(err, benchmarks.ErrInvalid) || errors.Is(err, benchmarks.ErrExists) || errors.Is(err, benchmarks.ErrNotFound) {
		return fmt.Errorf("%w: %w", errInput, err)
	}
	return err
}

func benchPrintAdded(w io.Writer, res []benchmarks.AddResult, asJSON, detail bool) error {
	if asJSON {
		type benchAddedJSON struct {
			Status    string           `json:"status"`
			Benchmark benchSummaryJSON `json:"benchmark"`
		}
		out := make([]benchAddedJSON, len(res))
		for i, r := range res {
			out[i] = benchAddedJSON{string(r.Status), toBenchSummaryJSON(r.Summary)}
		}
		if len(out) == 1 && detail {
			return writeJSON(w, out[0])
		}
		return writeJSON(w, out)
	}
	for _, r := range res {
		if detail {
			fmt.Fprintf(w, "%s %s (version %s)\n\n", r.Status, r.Summary.ID, r.Summary.Version)
			benchPrintSummary(w, r.Summary)
			continue
		}
		fmt.Fprintf(w, "%-12s %-28s %s  ceiling %s\n", r.Status, r.Summary.ID, r.Summary.Version, benchCeilingText(r.Summary))
	}
	return nil
}

func benchCeilingText(s benchmarks.Summary) string {
	switch {
	case !s.CeilingValid:
		return "none: " + s.CeilingReason
	case s.CeilingMethod == benchmarks.CeilingSplitHalf:
		return fmt.Sprintf("split-half r %.4f (median of %d targets, session %s, %d splits)", s.CeilingUpper, s.CeilingTargets, s.CeilingSession, s.CeilingSplits)
	default:
		return fmt.Sprintf("%s upper r %.4f (R² %.4f), lower r %.4f (R² %.4f)", s.CeilingMethod, s.CeilingUpper, s.CeilingUpperR2, s.CeilingLower, s.CeilingLowerR2)
	}
}

func benchShortCeiling(s benchmarks.Summary) string {
	switch {
	case !s.CeilingValid:
		return "none"
	case s.CeilingMethod == benchmarks.CeilingSplitHalf:
		return fmt.Sprintf("r %.4f", s.CeilingUpper)
	default:
		return fmt.Sprintf("R² %.4f", s.CeilingUpperR2)
	}
}

func benchDataShape(s benchmarks.Summary) string {
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

func benchPrintTable(w io.Writer, list []benchmarks.Summary) {
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Version, parent, access, s.Kind, benchDataShape(s), metric, benchShortCeiling(s))
	}
	tw.Flush()
}

func benchPrintSummary(w io.Writer, s benchmarks.Summary) {
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
	row("data", fmt.Sprintf("%s: %s", s.Kind, benchDataShape(s)))
	row("files", fmt.Sprintf("%d (%.1f MB)", s.Files, float64(s.Bytes)/1e6))
	row("metric", s.Metric)
	row("selection", s.Selection)
	row("ceiling", benchCeilingText(s))
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

// benchSummaryJSON is the CLI's JSON form of a benchmarks.Summary: scalars only,
// like the Summary itself.
type benchSummaryJSON struct {
	ID        string           `json:"id"`
	Version   string           `json:"version"`
	Title     string           `json:"title"`
	Parent    string           `json:"parent,omitempty"`
	Private   bool             `json:"private"`
	Partner   string           `json:"partner,omitempty"`
	Kind      string           `json:"kind"`
	Species   string           `json:"species"`
	Region    string           `json:"region"`
	Method    string           `json:"method"`
	Licence   string           `json:"licence"`
	Citation  string           `json:"citation"`
	Stimuli   int              `json:"stimuli"`
	Subjects  int              `json:"subjects,omitempty"`
	Sessions  int              `json:"sessions,omitempty"`
	Targets   int              `json:"targets,omitempty"`
	Files     int              `json:"files"`
	Bytes     int64            `json:"bytes"`
	Metric    string           `json:"metric"`
	Selection string           `json:"selection"`
	Ceiling   benchCeilingJSON `json:"ceiling"`
	Created   string           `json:"created,omitempty"`
}

type benchCeilingJSON struct {
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

func toBenchSummaryJSON(s benchmarks.Summary) benchSummaryJSON {
	c := benchCeilingJSON{Method: string(s.CeilingMethod), Reason: s.CeilingReason, Targets: s.CeilingTargets, Session: s.CeilingSession, Splits: s.CeilingSplits}
	if s.CeilingValid {
		c.Upper = &s.CeilingUpper
		if s.CeilingMethod == benchmarks.CeilingRSANili {
			c.Lower, c.UpperR2, c.LowerR2 = &s.CeilingLower, &s.CeilingUpperR2, &s.CeilingLowerR2
		}
	}
	out := benchSummaryJSON{
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
