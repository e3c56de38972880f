package main

import (
	"errors"
	"fmt"

	"github.com/cortexbench/cortexbench/models"
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
