package main

import (
	"context"
	"encoding/json"
	"fmt"

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
		return wire.PrintList(env.Stdout, list)
	}
	st, err := c.Status(ctx, id)
	if err != nil {
		return fmt.Errorf("status of %s: %w", id, err)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(st)
	}
	wire.PrintStatus(env.Stdout, st)
	return nil
}
