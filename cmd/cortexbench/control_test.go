package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/storage/embedded"
)

// TestScoreControl scores a tiny CNN and its controls with one command
// (`score --control`, no `run`): each control is its own model entry
// (family "control", ControlOf the model's entry), scored on the same
// benchmarks, with the paired bootstrap of the difference on an RSA
// benchmark and the intervals only on an encoding one; a bad --control is
// refused before anything is scored.
func TestScoreControl(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	// An encoding benchmark of 16 stimuli (enough for its held-out splits).
	addRidgeBench(t, store, func(i int) float64 { return float64((i*5)%7) / 7 })
	model := filepath.Join(state, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
		"--benchmark", "lab2026.IT,lab2026.ridge", "--store", store, "--db", db, "--bootstrap", "20"}

	if _, _, err := scoreRun(t, append(base, "--control", "random")...); err == nil || !strings.Contains(err.Error(), "want shuffled") {
		t.Fatalf("--control random: %v, want a refusal naming the choices", err)
	}

	hashes := map[string]string{}
	for _, kind := range []string{"shuffled", "untrained"} {
		out, errOut, err := scoreRun(t, append(base, "--control", kind, "--json")...)
		if err != nil {
			t.Fatalf("score --control %s: %v\n%s", kind, err, errOut)
		}
		var doc struct {
			Scores   []struct{ Model, ModelHash, Benchmark string }
			Controls []struct {
				Benchmark, Model, Control, Kind, Test string
				ModelHash                             string `json:"model_hash"`
				ControlHash                           string `json:"control_hash"`
				Seed                                  uint64
				ModelRaw                              *float64 `json:"model_raw"`
				ControlRaw                            *float64 `json:"control_raw"`
				Diff, P                               *float64
				DiffCI                                [2]*float64 `json:"diff_ci"`
			} `json:"controls"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("--json: %v\n%s", err, out)
		}
		if len(doc.Scores) != 4 || len(doc.Controls) != 2 {
			t.Fatalf("--control %s: %d scores and %d comparisons, want 4 and 2:\n%s", kind, len(doc.Scores), len(doc.Controls), out)
		}
		for _, c := range doc.Controls {
			if want := "tiny (control: " + kind + ")"; c.Model != "tiny" || c.Control != want || c.Kind != kind || c.Seed != 1 || c.ControlHash == c.ModelHash {
				t.Errorf("%s: model %q control %q (%s, seed %d), want tiny and %q, hashes %s and %s", c.Benchmark, c.Model, c.Control, c.Kind, c.Seed, want, c.ModelHash, c.ControlHash)
			}
			hashes[kind] = c.ControlHash
			if c.ModelRaw == nil || c.ControlRaw == nil {
				t.Errorf("%s: scores missing: %s", c.Benchmark, out)
				continue
			}
			switch c.Benchmark {
			case "lab2026.IT":
				if c.Diff == nil || c.P == nil || c.DiffCI[0] == nil || c.DiffCI[1] == nil || *c.P <= 0 || *c.P > 1 || *c.DiffCI[0] > *c.DiffCI[1] {
					t.Errorf("RSA benchmark: no paired test (%s):\n%s", c.Test, out)
				} else if math.Abs(*c.Diff) > 2 || !strings.Contains(c.Test, "paired bootstrap") {
					t.Errorf("RSA benchmark: diff %g, test %q", *c.Diff, c.Test)
				}
			case "lab2026.ridge":
				if c.P != nil || !strings.Contains(c.Test, "RSA benchmarks only") {
					t.Errorf("encoding benchmark: p %v, test %q: want no p and a reason", c.P, c.Test)
				}
			}
		}
	}
	if hashes["shuffled"] == hashes["untrained"] || hashes["shuffled"] == "" {
		t.Errorf("the two controls share an entry: %v", hashes)
	}

	// Each control is registered as its own entry pointing at the model.
	bucket, esrv, err := embedded.Open(context.Background(), embedded.Config{Dir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer esrv.Close(context.Background())
	reg := &models.Registry{Store: bucket}
	for kind, h := range hashes {
		md, err := reg.Get(context.Background(), h)
		if err != nil {
			t.Fatalf("control entry %s: %v", h, err)
		}
		if md.Family != "control" || md.Control != kind || md.ControlOf == "" || md.ControlOf == h || md.Name != "tiny (control: "+kind+")" {
			t.Errorf("%s control entry: %+v", kind, md)
		}
		if _, err := reg.Get(context.Background(), md.ControlOf); err != nil {
			t.Errorf("ControlOf %s is not a registered entry: %v", md.ControlOf, err)
		}
	}

	// The table: both scores, the difference and p; the encoding row says
	// why it has no p.
	table, errOut, err := scoreRun(t, append(base, "--control", "shuffled")...)
	if err != nil {
		t.Fatalf("table: %v\n%s", err, errOut)
	}
	for _, want := range []string{"CONTROL RAW", "DIFF (ALL STIMULI)", "tiny (control: shuffled)", "lab2026.ridge: no paired test", "control of tiny"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}
