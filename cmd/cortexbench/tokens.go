package main

import (
	"context"
	"encoding/json"
	"fmt"
)

// runTokens is "cortexbench tokens create --user NAME": a new API token,
// printed once (only its sha256 is stored).
func runTokens(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintln(env.Stderr, "usage: cortexbench tokens create --user NAME [--json] [--db FILE | --postgres DSN]")
		return errUsage
	}
	fs := newFlagSet(env, "tokens create", "tokens create --user NAME [--json]")
	user := fs.String("user", "", "the `user` the token acts for")
	asJSON := fs.Bool("json", false, "print the token as JSON")
	pf := addRegistryFlags(env, fs)
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *user == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	token, err := svc.CreateToken(ctx, *user)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]string{"user": *user, "token": token})
	}
	fmt.Fprintln(env.Stdout, token)
	fmt.Fprintf(env.Stderr, "token for %s: shown once, store it now (only its hash is kept); use it with --token or $CORTEXBENCH_TOKEN\n", *user)
	return nil
}
