package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/benchmarks/report"
)

// benchmarkCommands are the subcommands of `cortexbench benchmarks`.
var benchmarkCommands = map[string]command{
	"add":            {"validate a manifest and its data and add the benchmark", runBenchmarksAdd},
	"import-builtin": {"add the built-in benchmarks from the datasets folder (--data)", runBenchmarksImportBuiltin},
	"list":           {"list the benchmarks (current versions)", runBenchmarksList},
	"show":           {"show one benchmark: ID or ID@VERSION", runBenchmarksShow},
}

func runBenchmarks(ctx context.Context, env *Env, args []string) error {
	return dispatch(ctx, env, "benchmarks", benchmarkCommands, 15,
		"\nBuilt-in benchmarks are imported on request (import-builtin), not on first use.", args)
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
		return report.PrintAdded(env.Stdout, []benchmarks.AddResult{res}, *asJSON, true)
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
		return report.PrintAdded(env.Stdout, res, *asJSON, false)
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
			out := make([]report.SummaryJSON, len(list))
			for i, s := range list {
				out[i] = report.ToJSON(s)
			}
			return writeJSON(env.Stdout, out)
		}
		if len(list) == 0 {
			fmt.Fprintln(env.Stdout, "no benchmarks; add one with 'cortexbench benchmarks add MANIFEST' or 'cortexbench benchmarks import-builtin'")
			return nil
		}
		report.PrintTable(env.Stdout, list)
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
			return writeJSON(env.Stdout, report.ToJSON(s))
		}
		report.PrintSummary(env.Stdout, s)
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
