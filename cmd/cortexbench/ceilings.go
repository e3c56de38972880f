package main

import (
	"context"
	"fmt"
	"os"

	"github.com/cortexbench/cortexbench/benchmarks/arrays"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// runCeilings prints the noise ceiling of every dataset in the shared
// datasets folder, straight from the files (no store needed).
func runCeilings(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "ceilings", "ceilings [--data DIR] [--json]")
	data := fs.String("data", defaultDataDir, "datasets `folder`")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	splits := fs.Int("splits", 100, "split halves for response reliability")
	seed := fs.Uint64("seed", 1, "seed of the split halves")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("%w: datasets folder: %w (pass --data DIR)", errInput, err)
	}
	rows, err := arrays.DatasetCeilings(ctx, *data, *splits, *seed)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(env.Stdout, map[string]any{"method": string(rsa.Spearman), "ceilings": rows})
	}
	arrays.PrintCeilings(env.Stdout, rows)
	return nil
}
