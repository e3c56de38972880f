package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cortexbench/cortexbench/submissions/wire"
)

// runStatus is "cortexbench status [ID]": where a submission stands, or
// the caller's submissions without an ID.
func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "status", "status [ID] [--server URL] [--token T] [--json]")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	cf := addClientFlags(env, fs)
	id, rest := firstArg(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	c := cf.client()
	if id == "" {
		list, err := c.Mine(ctx)
		if err != nil {
			return fmt.Errorf("list submissions: %w", err)
		}
		if *asJSON {
			return json.NewEncoder(env.Stdout).Encode(list)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tMODEL\tSTATE\tCREATED")
		for _, s := range list.Submissions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.ModelName, stateLine(s), s.CreatedAt.Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	}
	st, err := c.Status(ctx, id)
	if err != nil {
		return fmt.Errorf("status of %s: %w", id, err)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(st)
	}
	printStatus(env.Stdout, st)
	return nil
}

func stateLine(s wire.Status) string {
	switch s.State {
	case "validating", "extracting", "scoring":
		return fmt.Sprintf("%s (benchmark %d of %d)", s.State, s.Benchmark, s.Benchmarks)
	case "failed":
		return fmt.Sprintf("failed: %s", s.FailureClass)
	case "done":
		return fmt.Sprintf("done (%d benchmarks)", s.Benchmarks)
	}
	return s.State
}

func printStatus(w io.Writer, s wire.Status) {
	fmt.Fprintf(w, "submission %s: %s\nmodel %s (%s)\n", s.ID, stateLine(s), s.ModelName, s.ModelHash)
	if s.State == "failed" {
		fmt.Fprintf(w, "why: %s\n", s.Message)
	}
	fmt.Fprintf(w, "estimate: %s, %s peak memory\n", fmtSeconds(s.Estimate.Seconds), fmtBytes(s.Estimate.Bytes))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tBENCHMARK\tSTATE\tATTEMPT\tNOTE")
	for _, j := range s.Jobs {
		note := j.Stage
		if j.State == "failed" {
			note = j.FailureClass + ": " + j.Message
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", j.Position, j.BenchmarkID, j.State, j.Attempt, note)
	}
	tw.Flush()
}
