package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/submissions"
)

const usersUsage = `usage:
  cortexbench users add NAME --role submitter|maintainer [--json]
  cortexbench users list [--json]
  cortexbench users disable NAME [--json]          its tokens stop working at once
  cortexbench users enable NAME [--json]
  cortexbench users role NAME submitter|maintainer [--json]
every command takes [--db FILE | --postgres DSN]`

// runUsers is "cortexbench users add|list|disable|enable|role".
func runUsers(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, usersUsage)
		return errUsage
	}
	switch args[0] {
	case "add":
		return runUsersAdd(ctx, env, args[1:])
	case "list":
		return runUsersList(ctx, env, args[1:])
	case "disable", "enable":
		return runUsersChange(ctx, env, args[0], args[1:])
	case "role":
		return runUsersChange(ctx, env, "role", args[1:])
	}
	fmt.Fprintln(env.Stderr, usersUsage)
	return errUsage
}

// userJSON is a user as the users commands print it with --json.
type userJSON struct {
	Name      string        `json:"name"`
	Role      registry.Role `json:"role"`
	Disabled  bool          `json:"disabled"`
	CreatedAt time.Time     `json:"created_at"`
}

func toUserJSON(u submissions.User) userJSON {
	return userJSON{Name: u.Name, Role: u.Role, Disabled: u.Disabled, CreatedAt: u.CreatedAt}
}

func runUsersAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "users add", "users add NAME --role submitter|maintainer [--json]")
	role := fs.String("role", string(registry.RoleSubmitter), "`role`: submitter (submits and manages own models) or maintainer (also adds benchmarks, manages every model)")
	asJSON := fs.Bool("json", false, "print the user as JSON")
	pf := addRegistryFlags(env, fs)
	name, rest := firstArg(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if err := checkRequired(env, fs, "cortexbench users add ada --role submitter",
		required{name == "", "the user NAME (the first argument)"}); err != nil {
		return err
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
		return json.NewEncoder(env.Stdout).Encode(toUserJSON(u))
	}
	fmt.Fprintf(env.Stdout, "added user %s (%s); make a token with: cortexbench tokens create --user %s\n", u.Name, u.Role, u.Name)
	return nil
}

func runUsersList(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "users list", "users list [--json]")
	asJSON := fs.Bool("json", false, "print the users as JSON")
	pf := addRegistryFlags(env, fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	us, err := svc.ListUsers(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := make([]userJSON, len(us))
		for i, u := range us {
			out[i] = toUserJSON(u)
		}
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tSTATE\tCREATED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, userState(u), fmtTime(u.CreatedAt))
	}
	return tw.Flush()
}

func userState(u submissions.User) string {
	if u.Disabled {
		return "disabled"
	}
	return "enabled"
}

// runUsersChange is "users disable NAME", "users enable NAME" and
// "users role NAME ROLE".
func runUsersChange(ctx context.Context, env *Env, what string, args []string) error {
	synopsis := "users " + what + " NAME [--json]"
	if what == "role" {
		synopsis = "users role NAME submitter|maintainer [--json]"
	}
	fs := newFlagSet(env, "users "+what, synopsis)
	asJSON := fs.Bool("json", false, "print the user as JSON")
	pf := addRegistryFlags(env, fs)
	// Positional arguments may come before or after the flags.
	var pos []string
	for len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		pos, args = append(pos, args[0]), args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	pos = append(pos, fs.Args()...)
	want := 1
	if what == "role" {
		want = 2
	}
	if len(pos) != want {
		ex := "cortexbench users " + what + " ada"
		if what == "role" {
			ex += " maintainer"
		}
		return usageError(env, fs, fmt.Sprintf("want %d argument(s), got %d (%s); e.g. %s", want, len(pos), strings.Join(pos, " "), ex))
	}
	svc, closeReg, err := pf.openService(ctx)
	if err != nil {
		return err
	}
	defer closeReg()
	var u submissions.User
	switch what {
	case "disable", "enable":
		u, err = svc.SetUserDisabled(ctx, pos[0], what == "disable")
	case "role":
		u, err = svc.SetUserRole(ctx, pos[0], registry.Role(pos[1]))
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(toUserJSON(u))
	}
	fmt.Fprintf(env.Stdout, "user %s: %s, %s\n", u.Name, u.Role, userState(u))
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
