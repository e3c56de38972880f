package main

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// secretVars are set, with values that must never appear in any help
// text, while every command's -h is run.
var secretVars = map[string]string{
	"CORTEXBENCH_TOKEN":     "cbt_SECRETtokenVALUE123",
	"CORTEXBENCH_POSTGRES":  "postgres://ada:PGSECRETpw@db.example/cortexbench?sslmode=disable",
	"CORTEXBENCH_SERVER":    "https://ada:SERVERSECRETpw@cortexbench.example",
	"AWS_SECRET_ACCESS_KEY": "AWSSECRETaccessKEY",
	"AWS_SESSION_TOKEN":     "AWSSESSIONtokenSECRET",
	"PGPASSWORD":            "PGPASSWORDsecret",
}

var secretsShown = []string{"SECRETtokenVALUE", "PGSECRETpw", "SERVERSECRETpw", "AWSSECRETaccessKEY", "AWSSESSIONtokenSECRET", "PGPASSWORDsecret"}

// helpCommands lists every command line "-h" is asked of: each command,
// and each subcommand its usage (with no arguments) names.
func helpCommands(t *testing.T) [][]string {
	t.Helper()
	var out [][]string
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	entry := regexp.MustCompile(`^\s+([a-z][a-z0-9-]*)\s`)
	for _, n := range names {
		out = append(out, []string{n})
		// -h only: a command without arguments may start its work
		// (run, serve, worker).
		_, stderr, _ := runWith(t.Context(), t, secretVars, n, "-h")
		seen := map[string]bool{}
		add := func(s string) {
			if !seen[s] {
				seen[s] = true
				out = append(out, []string{n, s})
			}
		}
		// "cortexbench tokens create ..." lines
		for _, m := range regexp.MustCompile(`cortexbench `+n+` ([a-z][a-z0-9-]*)(?:\s|$)`).FindAllStringSubmatch(stderr, -1) {
			add(m[1])
		}
		// a "subcommands:" list
		if _, list, ok := strings.Cut(stderr, "subcommands:\n"); ok {
			for _, line := range strings.Split(list, "\n") {
				m := entry.FindStringSubmatch(line)
				if m == nil {
					break
				}
				add(m[1])
			}
		}
	}
	return out
}

// Issue 17: "submit -h" printed $CORTEXBENCH_TOKEN's value as the flag's
// default. No command's help may show a secret from the environment: the
// variable's name is shown instead.
func TestHelpShowsNoSecret(t *testing.T) {
	cmds := helpCommands(t)
	if len(cmds) < len(commands)+10 {
		t.Fatalf("only %d command lines found to ask -h of: %v", len(cmds), cmds)
	}
	var submitHelp string
	for _, c := range cmds {
		ctx, cancel := context.WithCancel(t.Context())
		stdout, stderr, err := runWith(ctx, t, secretVars, append(c, "-h")...)
		cancel()
		if err != nil && !errors.Is(err, flag.ErrHelp) && !errors.Is(err, errUsage) {
			t.Errorf("%v -h: %v", c, err)
		}
		for _, s := range secretsShown {
			if strings.Contains(stdout+stderr, s) {
				t.Errorf("%v -h shows the secret %q:\n%s%s", c, s, stdout, stderr)
			}
		}
		if len(c) == 1 && c[0] == "submit" {
			submitHelp = stderr
		}
	}
	if !strings.Contains(submitHelp, `(default "$CORTEXBENCH_TOKEN")`) {
		t.Errorf("submit -h does not say the token defaults to $CORTEXBENCH_TOKEN:\n%s", submitHelp)
	}
	if !strings.Contains(submitHelp, "https://ada:xxxxx@cortexbench.example") {
		t.Errorf("submit -h does not show the server with its password hidden:\n%s", submitHelp)
	}
}

func TestRedactPassword(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://ada:pw@host:5432/db":         "postgres://ada:xxxxx@host:5432/db",
		"host=db user=ada password=pw dbname=cb": "host=db user=ada password=xxxxx dbname=cb",
		"host=db password='p w' dbname=cb":       "host=db password=xxxxx dbname=cb",
		"http://127.0.0.1:8080":                  "http://127.0.0.1:8080",
		"postgres://ada@host/db":                 "postgres://ada@host/db",
		"L010.Conv,L020.Add":                     "L010.Conv,L020.Add",
	} {
		if got := redactPassword(in); got != want {
			t.Errorf("redactPassword(%q) = %q, want %q", in, got, want)
		}
	}
}

// Issue 17: a missing --name printed only the usage. Every missing
// required argument is named, with how to give it.
func TestMissingRequiredSaysWhat(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"submit", "model.onnx"}, []string{"missing --name NAME", "e.g. cortexbench submit model.onnx --name"}},
		{[]string{"submit", "--name", "x"}, []string{"missing the ONNX FILE"}},
		{[]string{"submit"}, []string{"missing the ONNX FILE to submit (the first argument) and --name NAME"}},
		{[]string{"submit", "a.onnx", "b.onnx", "--name", "x"}, []string{"one model file at a time (got a.onnx b.onnx)"}},
		{[]string{"status", "a", "b"}, []string{"one submission ID at a time"}},
		{[]string{"tokens", "create"}, []string{"missing --user NAME"}},
		{[]string{"users", "add"}, []string{"missing the user NAME"}},
		{[]string{"users", "role", "ada"}, []string{"want 2 argument(s), got 1", "cortexbench users role ada maintainer"}},
		{[]string{"bench", "--preprocess", "imagenet"}, []string{"missing --model FILE"}},
		{[]string{"models", "add", "m.onnx"}, []string{"missing --name NAME"}},
		{[]string{"models", "predict", "m.onnx", "--labels", "l.txt"}, []string{"missing one IMAGE"}},
	} {
		_, stderr, err := runWith(t.Context(), t, nil, c.args...)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: error %v, want a usage error", c.args, err)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr does not say %q:\n%s", c.args, w, stderr)
			}
		}
		if !strings.Contains(stderr, "usage: cortexbench") {
			t.Errorf("%v: no usage after the message:\n%s", c.args, stderr)
		}
	}
}

// Issue 17: submit suggested "cortexbench status ID" without the --server
// it used. The command printed names --server unless it is the default
// (or $CORTEXBENCH_SERVER), and never the token.
func TestStatusCommandNamesServer(t *testing.T) {
	for _, c := range []struct {
		vars map[string]string
		args []string
		want string
	}{
		{nil, nil, "cortexbench status 0123abcd"},
		{nil, []string{"--server", "http://127.0.0.1:9999", "--token", "cbt_x"}, "cortexbench status --server http://127.0.0.1:9999 0123abcd"},
		{map[string]string{"CORTEXBENCH_SERVER": "https://cb.example"}, []string{"--token", "cbt_x"}, "cortexbench status 0123abcd"},
		{map[string]string{"CORTEXBENCH_SERVER": "https://cb.example"}, []string{"--server", "http://a b"}, "cortexbench status --server 'http://a b' 0123abcd"},
	} {
		env := &Env{Getenv: func(k string) string { return c.vars[k] }}
		fs := flag.NewFlagSet("submit", flag.ContinueOnError)
		cf := addClientFlags(env, fs)
		if err := fs.Parse(c.args); err != nil {
			t.Fatal(err)
		}
		if got := cf.command("status", "0123abcd"); got != c.want {
			t.Errorf("%v %v: %q, want %q", c.vars, c.args, got, c.want)
		}
	}
}

// A new user's first errors say what to do: no server at --server, no
// token, a refused token.
func TestClientErrorsSayWhatToDo(t *testing.T) {
	unauthorized := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error":{"code":"unauthorized","message":"missing or invalid token"}}`))
	}))
	defer unauthorized.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	down := closed.URL
	closed.Close()
	model := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(model, []byte("not used"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--server", down}, "no cortexbench server answers at " + down},
		{[]string{"submit", model, "--name", "m", "--server", down}, "no cortexbench server answers at " + down},
		{[]string{"status", "--server", unauthorized.URL}, "no API token given: pass --token TOKEN or set $CORTEXBENCH_TOKEN"},
		{[]string{"status", "abc", "--server", unauthorized.URL, "--token", "cbt_old"}, "refused the token"},
		{[]string{"submit", model, "--name", "m", "--server", unauthorized.URL}, "no API token given"},
	} {
		_, _, err := runWith(t.Context(), t, nil, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want it to say %q", c.args, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "cbt_old") {
			t.Errorf("%v: the token is in the error: %v", c.args, err)
		}
	}
}
