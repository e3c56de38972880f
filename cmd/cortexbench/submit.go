package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"syscall"

	"github.com/cortexbench/cortexbench/models"

	"github.com/cortexbench/cortexbench/submissions/wire"
)

// clientFlags say which server to talk to, as whom.
type clientFlags struct {
	server, token *string
	defServer     string // the --server default
}

func addClientFlags(env *Env, fs *flag.FlagSet) *clientFlags {
	server := env.Getenv("CORTEXBENCH_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	return &clientFlags{
		defServer: server,
		server:    fs.String("server", server, "server `URL` ($CORTEXBENCH_SERVER)"),
		token:     fs.String("token", env.Getenv("CORTEXBENCH_TOKEN"), "API `token` ($CORTEXBENCH_TOKEN; make one with 'cortexbench tokens create')"),
	}
}

func (f *clientFlags) client() *wire.Client { return &wire.Client{BaseURL: *f.server, Token: *f.token} }

// runSubmit is "cortexbench submit FILE --name N ...": upload a model.
func runSubmit(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "submit", "submit FILE --name NAME [--preprocess SPEC] [--version V] [--family F] [--training-data D] [--server URL] [--token T] [--json]")
	var form wire.SubmitForm
	fs.StringVar(&form.Name, "name", "", "model `name` (required)")
	fs.StringVar(&form.Version, "version", "", "model `version`")
	fs.StringVar(&form.Family, "family", "", "architecture `family`, e.g. resnet")
	fs.StringVar(&form.TrainingData, "training-data", "", "training `data`, e.g. ImageNet-1k")
	fs.StringVar(&form.Commitments, "commit", "", "declare the model's layer per brain region, e.g. IT=L062.Conv,V4=layer4.1 (a layer id, ONNX node or tensor name, or PyTorch module path; 'cortexbench models inspect' lists them): benchmarks scored by region commitment score these layers as given; another model entry than without")
	fs.StringVar(&form.Preprocessing, "preprocess", "", "preprocessing `spec`: a preset (imagenet, keras_tf, mobilenet_v2_float, …) and/or key=value pairs, e.g. imagenet,size=160 (see 'cortexbench models -h'); default: imagenet for a 3-channel NCHW float input, said in the answer")
	asJSON := fs.Bool("json", false, "print the answer as JSON")
	cf := addClientFlags(env, fs)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) > 1 {
		return usageError(env, fs, fmt.Sprintf("one model file at a time (got %s): submit each file with a command of its own", strings.Join(files, " ")))
	}
	var file string
	if len(files) == 1 {
		file = files[0]
	}
	if err := checkRequired(env, fs, "cortexbench submit model.onnx --name my-model --preprocess imagenet_nchw",
		required{file == "", "the ONNX FILE to submit (the first argument)"},
		required{form.Name == "", "--name NAME (the model's name on the leaderboard, e.g. --name resnet18-v2)"}); err != nil {
		return err
	}
	if form.Preprocessing != "" {
		// A spec that does not parse is said before the upload.
		if _, err := models.ParseSpec(form.Preprocessing); err != nil {
			fmt.Fprintf(env.Stderr, "--preprocess: %v\n", err)
			return errUsage
		}
	}
	acc, err := cf.client().SubmitFile(ctx, file, form)
	if err != nil {
		return cf.explain(err)
	}
	for _, w := range acc.Warnings {
		if !strings.HasPrefix(w, "preprocessing: ") {
			w = "warning: " + w
		}
		fmt.Fprintln(env.Stderr, w)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(acc)
	}
	est := acc.Status.Estimate
	fmt.Fprintf(env.Stdout, "submitted %s as %s (model %s): %d benchmark(s) queued\nestimate: %s, %s peak memory\nfollow it with: %s\n",
		file, acc.ID, acc.ModelHash, acc.Status.Benchmarks, wire.FormatSeconds(est.Seconds), wire.FormatBytes(est.Bytes), cf.command("status", acc.ID))
	return nil
}

// explain adds what to do to the errors a new user meets first: no
// server at --server, no token or a refused one.
func (f *clientFlags) explain(err error) error {
	var api *wire.APIError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w\nno cortexbench server answers at %s: start one ('cortexbench serve' or 'cortexbench run'), or name yours with --server URL or $CORTEXBENCH_SERVER", err, redactPassword(*f.server))
	case errors.As(err, &api) && api.Status == http.StatusUnauthorized && *f.token == "":
		return fmt.Errorf("%w\nno API token given: pass --token TOKEN or set $CORTEXBENCH_TOKEN (a maintainer makes one with 'cortexbench tokens create --user NAME')", err)
	case errors.As(err, &api) && api.Status == http.StatusUnauthorized:
		return fmt.Errorf("%w\nthe server at %s refused the token (expired, revoked, or made for another server): ask a maintainer for a new one ('cortexbench tokens create --user NAME')", err, redactPassword(*f.server))
	}
	return err
}

// command is the command line that runs "cortexbench name args..." against
// the server these flags chose: --server when it is not the default one
// ($CORTEXBENCH_SERVER counts as the default: the same shell has it); the
// token is never written, the reader has it.
func (f *clientFlags) command(name string, args ...string) string {
	parts := []string{"cortexbench", name}
	if *f.server != f.defServer {
		parts = append(parts, "--server", shellQuote(*f.server))
	}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
