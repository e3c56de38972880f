package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/cortexbench/cortexbench/models"

	"github.com/cortexbench/cortexbench/submissions/wire"
)

// clientFlags say which server to talk to, as whom.
type clientFlags struct{ server, token *string }

func addClientFlags(env *Env, fs *flag.FlagSet) *clientFlags {
	server := env.Getenv("CORTEXBENCH_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	return &clientFlags{
		server: fs.String("server", server, "server `URL` ($CORTEXBENCH_SERVER)"),
		token:  fs.String("token", env.Getenv("CORTEXBENCH_TOKEN"), "API `token` ($CORTEXBENCH_TOKEN; make one with 'cortexbench tokens create')"),
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
	file, rest := firstArg(args)
	if err := parseFlags(fs, rest); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" || form.Name == "" {
		fs.Usage()
		return errUsage
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
		return err
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
	wire.PrintAccepted(env.Stdout, file, acc)
	return nil
}
