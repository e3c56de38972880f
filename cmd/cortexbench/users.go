package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

// runUsers is "cortexbench users add NAME --role ROLE".
func runUsers(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(env.Stderr, "usage: cortexbench users add NAME --role submitter|maintainer [--json] [--db FILE | --postgres DSN]")
		return errUsage
	}
	fs := newFlagSet(env, "users add", "users add NAME --role submitter|maintainer [--json]")
	role := fs.String("role", string(registry.RoleSubmitter), "`role`: submitter (submits and manages own models) or maintainer (also adds benchmarks, manages every model)")
	asJSON := fs.Bool("json", false, "print the user as JSON")
	pf := addRegistryFlags(env, fs)
	name, rest := firstArg(args[1:])
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		fs.Usage()
		return errUsage
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	u, err := svc.CreateUser(ctx, name, registry.Role(*role))
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(map[string]any{"name": u.Name, "role": u.Role, "created_at": u.CreatedAt})
	}
	fmt.Fprintf(env.Stdout, "added user %s (%s); make a token with: cortexbench tokens create --user %s\n", u.Name, u.Role, u.Name)
	return nil
}

// firstArg splits a leading positional argument from the flags after it.
func firstArg(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

// registryFlags select the registry database (the same flags and defaults
// as the platform's).
type registryFlags struct{ db, postgres *string }

func addRegistryFlags(env *Env, fs interface {
	String(name, value, usage string) *string
}) *registryFlags {
	return &registryFlags{
		db:       fs.String("db", registry.DefaultSQLitePath, "SQLite registry `file` (when --postgres is not set)"),
		postgres: fs.String("postgres", env.Getenv("CORTEXBENCH_POSTGRES"), "PostgreSQL `DSN` for the registry ($CORTEXBENCH_POSTGRES)"),
	}
}

func (f *registryFlags) config() registry.Config {
	if *f.postgres != "" {
		return registry.Config{PostgresDSN: *f.postgres}
	}
	return registry.Config{SQLitePath: *f.db}
}

// openService opens the registry and a submissions service on it that can
// manage users and tokens.
func (f *registryFlags) openService(ctx context.Context) (*submissions.Service, func(), error) {
	reg, err := registry.Open(ctx, f.config())
	if err != nil {
		return nil, nil, fmt.Errorf("registry database: %w", err)
	}
	svc, err := submissions.New(submissions.Config{}, submissions.Deps{Registry: reg})
	if err != nil {
		reg.Close()
		return nil, nil, err
	}
	return svc, func() { reg.Close() }, nil
}
