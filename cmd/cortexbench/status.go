package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cortexbench/cortexbench/submissions/wire"
)

// runStatus is "cortexbench status [ID]": where a submission stands, or
// the caller's submissions without an ID.
func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "status", "status [ID] [--server URL] [--token T] [--json]")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	cf := addClientFlags(env, fs)
	ids, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(ids) > 1 {
		return usageError(env, fs, fmt.Sprintf("one submission ID at a time (got %s); without an ID, status lists your submissions", strings.Join(ids, " ")))
	}
	var id string
	if len(ids) == 1 {
		id = ids[0]
	}
	c := cf.client()
	if id == "" {
		list, err := c.Mine(ctx)
		if err != nil {
			return cf.explain(fmt.Errorf("list submissions: %w", err))
		}
		if *asJSON {
			return json.NewEncoder(env.Stdout).Encode(list)
		}
		return wire.PrintList(env.Stdout, list)
	}
	st, err := c.Status(ctx, id)
	if err != nil {
		return cf.explain(fmt.Errorf("status of %s: %w", id, err))
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(st)
	}
	wire.PrintStatus(env.Stdout, st)
	return nil
}
