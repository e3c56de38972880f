// Command cortexbench scores deep networks against recorded brain data and
// serves the leaderboard. main only wires flags and start-up; every
// subcommand lives in a file of its own and is listed in commands below.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"syscall"

	"github.com/cortexbench/cortexbench/models/ort/ortchild"
	"github.com/cortexbench/cortexbench/scoring/linalg"
)

// Env is what a subcommand gets from the process: its output streams and
// the environment, read only here.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands lists every subcommand. Add one line per subcommand.
var commands = map[string]command{
	"benchmarks": {"add, list and show brain benchmarks (manifests, built-in catalogue)", runBenchmarks},
	"models":     {"inspect, predict with, add and list ONNX models", modelsCmd},
	"compute":    {"run the scoring math on .npy files (rdm, compare, ceiling, reliability)", runCompute},
	"run":        {"the main job: score the default models on the built-in benchmarks, then serve the leaderboard", runScoreAndServe},
	"ceilings":   {"print the noise ceiling of every dataset in --data", runCeilings},
	"score":      {"score ONNX models on benchmarks in the store", runScore},
	"bench":      {"time scoring against the bare forward passes and the estimate; --calibrate measures this machine for time estimates", runBench},
	"serve":      {"serve the leaderboard API and web page", runServe},
	"compare":    {"compare two models over every benchmark (--models A,B), or every pair on one RSA benchmark", runCompare},
	"users":      {"add, list, disable, enable user accounts and change their role", runUsers},
	"tokens":     {"create (shown once, stored hashed, expiring), list and revoke API tokens", runTokens},
	"submit":     {"upload an ONNX model to a server for scoring", runSubmit},
	"status":     {"where a submission stands (or your submissions)", runStatus},
	"withdraw":   {"withdraw a model from the leaderboard (cancels its jobs)", runWithdraw},
	"edit":       {"change a submitted model's name and metadata", runEdit},
	"cancel":     {"cancel a submission's queued and running jobs", runCancel},
	"worker":     {"run scoring jobs from the queue (any number of processes)", runWorker},
}

// errUsage marks a bad command line; its message has already been printed.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	if err := Run(ctx, env, os.Args[1:]); err != nil {
		if !errors.Is(err, errUsage) && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "cortexbench:", err)
		}
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(exitCode(err))
	}
}

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

// Run dispatches args to a subcommand.
func Run(ctx context.Context, env *Env, args []string) error {
	linalg.UseForGonum()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] == ortchild.Subcommand {
		// Hidden: the validation child a server starts (see ortchild).
		switch ortchild.Main(args[1:], env.Stdout, env.Stderr) {
		case 0:
			return nil
		case 2:
			return errUsage
		}
		return errors.New("validation child: could not write its answer")
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "cortexbench: unknown command %q\n\n", args[0])
		usage(env.Stderr)
		return errUsage
	}
	return c.run(ctx, env, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: cortexbench COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'cortexbench COMMAND -h' for a command's flags.")
}

// dispatch runs the subcommand args[0] of "cortexbench name", or lists
// cmds (names padded to width, then note) when there is none or -h.
func dispatch(ctx context.Context, env *Env, name string, cmds map[string]command, width int, note string, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintf(env.Stderr, "usage: cortexbench %s SUBCOMMAND [flags]\n\nsubcommands:\n", name)
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(env.Stderr, "  %-*s %s\n", width, n, cmds[n].summary)
		}
		if note != "" {
			fmt.Fprintln(env.Stderr, note)
		}
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "cortexbench %s: unknown subcommand %q\n", name, args[0])
		return errUsage
	}
	return c.run(ctx, env, args[1:])
}

// newFlagSet returns a flag set that reports errors as errUsage.
func newFlagSet(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: cortexbench %s\n\nflags:\n", synopsis)
		hideSecretDefaults(env, fs)
		fs.PrintDefaults()
	}
	return fs
}

// secretEnv lists the environment variables whose values are secrets: a
// flag defaulting to one shows the variable's name in -h, never its value.
var secretEnv = []string{
	"CORTEXBENCH_TOKEN", "CORTEXBENCH_POSTGRES",
	"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID", "PGPASSWORD", "DATABASE_URL",
}

// hideSecretDefaults rewrites, before fs's defaults are printed, every
// default that holds a secret: the value of a variable of secretEnv
// becomes "$NAME", and a password in a URL or DSN ("user:pw@host",
// "password=pw") becomes "xxxxx".
func hideSecretDefaults(env *Env, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		for _, name := range secretEnv {
			if v := env.Getenv(name); v != "" && f.DefValue != "" && strings.Contains(f.DefValue, v) {
				f.DefValue = "$" + name
				return
			}
		}
		f.DefValue = redactPassword(f.DefValue)
	})
}

var (
	urlPassword = regexp.MustCompile(`(://[^/@:\s]*):[^/@\s]*@`)
	kvPassword  = regexp.MustCompile(`(?i)(password=)('[^']*'|\S+)`)
)

// redactPassword hides the password of a URL or key=value DSN in s.
func redactPassword(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}:xxxxx@")
	return kvPassword.ReplaceAllString(s, "${1}xxxxx")
}

// usageError reports a bad command line of "cortexbench cmd": what is
// wrong and how to fix it (msg), then the usage; errUsage.
func usageError(env *Env, fs *flag.FlagSet, msg string) error {
	fmt.Fprintf(env.Stderr, "cortexbench %s: %s\n\n", fs.Name(), msg)
	fs.Usage()
	return errUsage
}

// parseFlags parses args and maps a parse failure to errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments, and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// required is one thing a command line must have: missing says whether it
// is absent, what how to give it ("--name NAME (the model's name)").
type required struct {
	missing bool
	what    string
}

// checkRequired reports, as usageError does, everything of reqs a
// command line lacks and an example of a whole command (e.g. "cortexbench
// submit model.onnx --name my-model"); nil when nothing is missing.
func checkRequired(env *Env, fs *flag.FlagSet, example string, reqs ...required) error {
	var missing []string
	for _, r := range reqs {
		if r.missing {
			missing = append(missing, r.what)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	msg := "missing " + strings.Join(missing, " and ")
	if example != "" {
		msg += "; e.g. " + example
	}
	return usageError(env, fs, msg)
}
