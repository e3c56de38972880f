package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
)

// Issue 16: 'score --commit REGION=LAYER' declares the model's layers per
// region. The declared entry is another entry (models.EntryIDFor) whose
// metadata carries the map by layer id (a tensor name is resolved); a
// layer the model does not have, or a malformed --commit, is refused
// before anything is stored, naming what to write instead.
func TestScoreCommitFlag(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	file := onnxtest.TinyCNN().Bytes()
	model := filepath.Join(state, "tiny.onnx")
	if err := os.WriteFile(model, file, 0o644); err != nil {
		t.Fatal(err)
	}
	pm, err := onnxmodel.Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := onnxmodel.Layers(pm)
	if err != nil {
		t.Fatal(err)
	}
	var last models.Layer
	for _, l := range layers {
		if l.PerStimulus && !l.IsOutput {
			last = l
		}
	}
	const spec = "size=8,crop=1,mean=0.5:0.5:0.5,std=0.5:0.5:0.5,layout=NCHW"
	score := func(commit string) (string, string, error) {
		return scoreRun(t, "score", "--model", model, "--name", "tiny", "--preprocess", spec, "--benchmark", "lab2026.IT",
			"--store", store, "--db", db, "--bootstrap", "20", "--json", "--commit", commit)
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
	for commit, says := range map[string]string{
		"IT":                  "not REGION=LAYER",
		"I T=" + last.ID:      "must be 1 to 64",
		"IT=" + last.ID + "x": "closest: " + last.ID,
		"IT=L1,IT=" + last.ID: "given twice",
	} {
		_, errOut, err := score(commit)
		if err == nil || !strings.Contains(err.Error()+errOut, says) || !strings.Contains(err.Error()+errOut, "--commit") {
			t.Errorf("--commit %q: %v\n%s\nwant an error saying %q", commit, err, errOut, says)
		}
	}
	if entries := list(); len(entries) != 0 {
		t.Fatalf("refused --commit registered entries: %+v", entries)
	}
	if _, errOut, err := score("IT=" + last.Tensor); err != nil {
		t.Fatalf("score --commit IT=%s: %v\n%s", last.Tensor, err, errOut)
	}
	entries := list()
	if len(entries) != 1 || models.CommitmentsString(entries[0].Commitments) != "IT="+last.ID {
		t.Fatalf("declared entry: %+v", entries)
	}
	s, _ := models.ParseSpec(spec)
	if e := entries[0]; e.ID != models.EntryIDFor(e.File, s, map[string]string{"IT": last.ID}) || e.ID == models.EntryID(e.File, s) {
		t.Errorf("declared entry id %s is not EntryIDFor(file, spec, IT=%s)", e.ID, last.ID)
	}
}
