package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// torchFixture is the torch.onnx.export fixture (opset 17, dynamic batch
// and H/W, Identity initialisers; models/onnxmodel/testdata/torchexport).
const torchFixture = "../../models/onnxmodel/testdata/torchexport/torch_cnn.onnx"

// Issue 17, findings 5 and 6, through the CLI: a torch export scored
// without --preprocess gets the default the API gives (named on stderr;
// 'models add' makes the same entry); --layers takes PyTorch module paths
// and ONNX tensor names, and a typo is a usage error (exit 2) naming the
// closest layers, storing nothing; the profile carries the node names.
func TestScoreDefaultSpecAndLayerNames(t *testing.T) {
	ortAvailable(t)
	ctx := context.Background()
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(torchFixture)
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(state, "resnetish.onnx")
	if err := os.WriteFile(model, file, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(file)
	entry := models.EntryID(hex.EncodeToString(sum[:]), models.ImageNetNCHW)
	score := func(layers string) (string, string, error) {
		return scoreRun(t, "score", "--model", model, "--name", "resnetish", "--benchmark", "lab2026.IT",
			"--store", store, "--db", db, "--bootstrap", "20", "--json", "--layers", layers)
	}
	const note = "preprocessing: imagenet (default; pass --preprocess to change)"

	_, errOut, err := score("layer1.0.conv1,L7")
	if exitCode(err) != 2 || !strings.Contains(errOut, `--layers: no layer "L7" in resnetish: closest: L007.Conv`) || !strings.Contains(errOut, note) {
		t.Fatalf("--layers L7: exit %d (%v)\n%s\nwant exit 2 naming L007.Conv first, after the default note", exitCode(err), err, errOut)
	}
	if strings.Contains(errOut, "bad model") || strings.Contains(errOut, "could not be scored") {
		t.Errorf("a typo in --layers is reported as the model's fault:\n%s", errOut)
	}
	list := func() []models.Metadata {
		t.Helper()
		out, errOut, err := scoreRun(t, "models", "list", "--store", store, "--db", db, "--json")
		if err != nil {
			t.Fatalf("models list: %v\n%s", err, errOut)
		}
		var all []models.Metadata
		if err := json.Unmarshal([]byte(out), &all); err != nil {
			t.Fatalf("models list --json: %v\n%s", err, out)
		}
		return all
	}
	if got := list(); len(got) != 0 {
		t.Fatalf("a refused --layers registered %+v", got)
	}

	out, errOut, err := score("layer1.0.conv1,/layer1/layer1.1/Add_output_0")
	if err != nil {
		t.Fatalf("score --layers by module path and tensor name: %v\n%s", err, errOut)
	}
	if !strings.Contains(errOut, note) {
		t.Errorf("stderr does not name the default:\n%s", errOut)
	}
	var scores []struct {
		ModelHash string `json:"model_hash"`
		Layer     string `json:"layer"`
	}
	if err := json.Unmarshal([]byte(out), &scores); err != nil || len(scores) != 1 {
		t.Fatalf("score --json: %v\n%s", err, out)
	}
	if s := scores[0]; s.ModelHash != entry || (s.Layer != "L007.Conv" && s.Layer != "L016.Add") {
		t.Errorf("score %+v: want entry %s (file, imagenet) and layer L007.Conv or L016.Add", s, entry[:12])
	}
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: db})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: entry})
	reg.Close()
	if err != nil || len(stored) != 1 {
		t.Fatalf("stored scores %+v %v", stored, err)
	}
	nodes := map[string]string{}
	for _, l := range stored[0].Layers {
		nodes[l.Layer] = l.Name
	}
	if len(nodes) != 2 || nodes["L007.Conv"] != "/layer1/layer1.0/conv1/Conv" || nodes["L016.Add"] != "/layer1/layer1.1/Add" {
		t.Errorf("profile names %v: want the two layers with their ONNX node names", nodes)
	}

	// A spec that does not parse, and a grey model without a spec, are
	// usage errors (exit 2) that say what to write; nothing is stored.
	_, errOut, err = scoreRun(t, "score", "--model", model, "--preprocess", "imagenet,maen=0.5", "--benchmark", "lab2026.IT", "--store", store, "--db", db)
	if exitCode(err) != 2 || !strings.Contains(errOut, `--preprocess: preprocessing spec: unknown key "maen"`) || !strings.Contains(errOut, "did you mean mean?") {
		t.Errorf("--preprocess with a typo: exit %d (%v)\n%s", exitCode(err), err, errOut)
	}
	b := onnxmodel.NewBuilder(13).Input("image", onnxpb.TensorProto_FLOAT, -1, 1, 28, 28).Output("out")
	b.Node("Relu", []string{"image"}, []string{"out"})
	grey := filepath.Join(state, "grey.onnx")
	if err := os.WriteFile(grey, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, err = scoreRun(t, "models", "add", grey, "--name", "grey", "--store", store, "--db", db)
	if exitCode(err) != 2 || !strings.Contains(errOut, "size=28,crop=1,mean=0.5,std=0.5,channels=1,layout=NCHW") || strings.Contains(errOut, "want 1 or 1") {
		t.Errorf("grey model without --preprocess: exit %d (%v)\n%s", exitCode(err), err, errOut)
	}

	// 'models inspect' suggests the default, never raw 0–255 floats, and
	// names each layer's module.
	out, errOut, err = scoreRun(t, "models", "inspect", model, "--json")
	var in struct {
		Spec   string `json:"suggested_preprocess"`
		Layers []struct{ ID, Module string }
	}
	if err != nil || json.Unmarshal([]byte(out), &in) != nil {
		t.Fatalf("models inspect: %v\n%s", err, errOut)
	}
	if in.Spec != models.ImageNetNCHW.String() || len(in.Layers) < 8 || in.Layers[7].ID != "L007.Conv" || in.Layers[7].Module != "layer1.0.conv1" {
		t.Errorf("inspect: spec %q, layers %+v", in.Spec, in.Layers)
	}

	// 'models add' without --preprocess picks the same default: the same entry.
	out, errOut, err = scoreRun(t, "models", "add", model, "--name", "again", "--store", store, "--db", db)
	if err != nil || !strings.Contains(errOut, note) || !strings.Contains(out, "already registered") {
		t.Errorf("models add: %v\n%s\n%s\nwant the default named and the entry already registered", err, out, errOut)
	}
	if got := list(); len(got) != 1 || got[0].ID != entry || got[0].Spec.String() != models.ImageNetNCHW.String() {
		t.Errorf("entries %+v: want one, (file, imagenet)", got)
	}
}
