package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/cortexbench/cortexbench/submissions/wire"
)

// The commands for what the submissions API allows on models and
// submissions already made (issue 17, finding 2): withdraw a model, edit
// its metadata, cancel a submission. Each takes the server and token as
// submit does, prints one line for people, and the server's answer with
// --json. A model is named by its id or a unique prefix of at least 8 hex
// digits (as 'cortexbench models list' prints it).

// oneArg parses args, flags anywhere on the line around exactly one
// positional argument, and returns it.
func oneArg(env *Env, fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		fmt.Fprintf(env.Stderr, "cortexbench %s: give one %s (got %d arguments)\n\n", fs.Name(), what, len(pos))
		fs.Usage()
		return "", errUsage
	}
	return pos[0], nil
}

// runWithdraw is "cortexbench withdraw MODEL_ID": the model leaves every
// listing and snapshot, and its queued and running jobs are cancelled.
func runWithdraw(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "withdraw", "withdraw --server URL [--token T] [--reason TEXT] [--json] MODEL_ID")
	reason := fs.String("reason", "", "why the model is withdrawn (shown to whoever asks for it)")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	cf := addClientFlags(env, fs)
	id, err := oneArg(env, fs, args, "MODEL_ID (the model's id or a unique prefix of at least 8 hex digits)")
	if err != nil {
		return err
	}
	w, err := cf.client().Withdraw(ctx, id, *reason)
	if err != nil {
		return fmt.Errorf("withdraw %s: %w", id, err)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(w)
	}
	fmt.Fprintf(env.Stdout, "withdrew %s (model %s) on %s: %d job(s) of %d submission(s) cancelled\n",
		w.Name, w.Hash, w.At.Format("2006-01-02"), w.CancelledJobs, len(w.Submissions))
	return nil
}

// editFields are edit's flags and the PATCH body's field of each.
var editFields = []struct{ flag, field, usage string }{
	{"name", "name", "the model's new `name`"},
	{"version", "version", "its `version`"},
	{"family", "family", "its architecture `family`, e.g. resnet"},
	{"training-data", "training_data", "its training `data`, e.g. ImageNet-1k"},
	{"paper", "paper", "the `URL` of its paper"},
	{"description", "description", "a short `description`"},
	{"license", "license", "its `licence`, e.g. MIT"},
}

// runEdit is "cortexbench edit MODEL_ID --name N ...": change a model's
// metadata; the fields not given stay as they are (a field given empty is
// cleared). The server checks every field and changes nothing when one is
// refused.
func runEdit(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "edit", "edit --server URL [--token T] [--name N] [--paper URL] [--description D] [--license L] [--version V] [--family F] [--training-data D] [--json] MODEL_ID")
	values := map[string]*string{}
	for _, f := range editFields {
		values[f.flag] = fs.String(f.flag, "", f.usage)
	}
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	cf := addClientFlags(env, fs)
	id, err := oneArg(env, fs, args, "MODEL_ID (the model's id or a unique prefix of at least 8 hex digits)")
	if err != nil {
		return err
	}
	change := map[string]string{}
	for _, f := range editFields {
		fs.Visit(func(v *flag.Flag) {
			if v.Name == f.flag {
				change[f.field] = *values[f.flag]
			}
		})
	}
	if len(change) == 0 {
		fmt.Fprintf(env.Stderr, "edit %s: nothing to change: give at least one of --name, --paper, --description, --license, --version, --family, --training-data\n", id)
		fs.Usage()
		return errUsage
	}
	m, err := cf.client().Edit(ctx, id, change)
	if err != nil {
		return fmt.Errorf("edit %s: %w", id, err)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(m)
	}
	names := make([]string, 0, len(change))
	for _, f := range editFields {
		if _, ok := change[f.field]; ok {
			names = append(names, f.flag)
		}
	}
	fmt.Fprintf(env.Stdout, "model %s (%s): changed %s\n", m.Name, m.Hash, strings.Join(names, ", "))
	return nil
}

// runCancel is "cortexbench cancel SUBMISSION_ID": cancel its queued and
// running jobs.
func runCancel(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "cancel", "cancel --server URL [--token T] [--json] SUBMISSION_ID")
	asJSON := fs.Bool("json", false, "print the submission's status as JSON")
	cf := addClientFlags(env, fs)
	id, err := oneArg(env, fs, args, "SUBMISSION_ID (as submit printed it)")
	if err != nil {
		return err
	}
	st, err := cf.client().Cancel(ctx, id)
	if err != nil {
		return fmt.Errorf("cancel %s: %w", id, err)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(st)
	}
	fmt.Fprintf(env.Stdout, "submission %s: %s (%d of %d benchmark(s) done)\n", st.ID, wire.StateLine(st), st.Done, st.Benchmarks)
	return nil
}
