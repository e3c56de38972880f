package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring/runner"
)

// checkLayerFlags resolves --layers and --ridge-layers, when they list
// layers, against the model's layers before anything is scored (issue 17):
// a layer that is not there is a usage error (exit 2) naming the closest
// ids and names, never a failure of the model.
func checkLayerFlags(env *Env, name string, layers []models.Layer, sf *scoreFlags) error {
	for _, f := range []struct {
		flag   string
		policy string
	}{{"--layers", *sf.candidates}, {"--ridge-layers", *sf.ridgeLayers}} {
		if !runner.Candidates(f.policy).IsLayerList() {
			continue
		}
		if _, err := models.ResolveLayerList(layers, f.policy, name); err != nil {
			return layerUsage(env, f.flag, err)
		}
	}
	return nil
}

// layerUsage prints a bad layer reference and returns errUsage (exit 2).
func layerUsage(env *Env, flag string, err error) error {
	hint := ""
	if errors.Is(err, models.ErrNoLayer) && flag != "--commit" {
		hint = " (" + flag + " also takes all-but-output, all, blocks or spaced:K)"
	}
	fmt.Fprintf(env.Stderr, "%s: %v%s\n", flag, err, hint)
	return errUsage
}

// specFor is the preprocessing of a --model file (onnxrun.SpecFor): the
// --preprocess text, else the file's registered entry's, else the
// default; which one, and the spec's warnings, go to stderr. A spec that
// does not parse is the user's input error.
func specFor(ctx context.Context, env *Env, rt *ort.Runtime, p *platform, file, text string) (models.Spec, error) {
	var c *onnxmodel.Checked
	var store models.BlobStore
	if text == "" { // the file's input decides (a given spec is checked against it when the model loads)
		var err error
		if c, err = onnxmodel.ValidateFile(file, onnxmodel.DefaultConfig(), rt); err != nil {
			return models.Spec{}, err
		}
		if p != nil {
			store = p.bucket
		}
	}
	spec, notes, err := onnxrun.SpecFor(ctx, text, store, c)
	if err != nil {
		return spec, specUsage(env, file, err)
	}
	printNotes(env, notes)
	return spec, nil
}

// specUsage turns a --preprocess the user must fix (it does not parse,
// or the model has no default and none was given) into a usage error
// (exit 2) printed on stderr; other errors pass.
func specUsage(env *Env, file string, err error) error {
	if errors.Is(err, models.ErrBadSpec) || errors.Is(err, onnxmodel.ErrNoDefaultSpec) {
		fmt.Fprintf(env.Stderr, "%s: %v\n", file, err)
		return errUsage
	}
	return err
}

// printNotes writes what the user should know about the spec used.
func printNotes(env *Env, notes []string) {
	for _, n := range notes {
		if !strings.HasPrefix(n, "preprocessing: ") {
			n = "warning: " + n
		}
		fmt.Fprintln(env.Stderr, n)
	}
}
