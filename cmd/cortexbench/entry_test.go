package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// Issue 17, finding 1 (issue 14, finding 2 from the CLI): a model entry is
// (file, preprocessing spec). Scoring the same file with a corrected spec
// is a new entry with its own score; the first entry and its score keep
// the spec they were computed with; --fresh stores nothing, not even
// metadata; another --name for an existing entry is said, not applied.
func TestScoreSameFileWithAnotherSpecIsANewEntry(t *testing.T) {
	ortAvailable(t)
	ctx := context.Background()
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, "manifest.yaml")); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(state, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	const wrong = "size=8,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,layout=NCHW"
	const right = "size=8,crop=1,mean=0.5:0.5:0.5,std=0.5:0.5:0.5,layout=NCHW"
	type jsonScore struct {
		Model, Benchmark string
		Raw              *float64
	}
	score := func(name, spec string, extra ...string) ([]jsonScore, string) {
		t.Helper()
		args := append([]string{"score", "--model", model, "--name", name, "--preprocess", spec, "--benchmark", "lab2026.IT",
			"--store", store, "--db", db, "--bootstrap", "20", "--json"}, extra...)
		out, errOut, err := scoreRun(t, args...)
		if err != nil {
			t.Fatalf("score %s %s: %v\n%s", name, spec, err, errOut)
		}
		var s []jsonScore
		if err := json.Unmarshal([]byte(out), &s); err != nil || len(s) != 1 {
			t.Fatalf("score --json: %v\n%s", err, out)
		}
		return s, errOut
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

	first, _ := score("resnet18", wrong)
	entries := list()
	if len(entries) != 1 || entries[0].Name != "resnet18" || !models.IsSHA256Hex(entries[0].File) || entries[0].ID == entries[0].File {
		t.Fatalf("after the first score: %+v", entries)
	}
	e1 := entries[0]

	// The corrected spec: a new entry, computed (not "cached"), under its name.
	second, errOut := score("resnet18-v2", right)
	if strings.Contains(errOut, "cached") || second[0].Model != "resnet18-v2" {
		t.Errorf("a new spec answered with the stored score or another name: %+v\n%s", second, errOut)
	}
	entries = list()
	if len(entries) != 2 || entries[0].ID != e1.ID || entries[0].Spec.String() != e1.Spec.String() || entries[0].Name != "resnet18" ||
		entries[1].Name != "resnet18-v2" || entries[1].File != e1.File || entries[1].ID == e1.ID {
		t.Fatalf("after the corrected spec: %+v", entries)
	}
	rightSpec, _ := models.ParseSpec(right)
	if entries[1].ID != models.EntryID(e1.File, rightSpec) || entries[1].Spec.String() != rightSpec.String() {
		t.Errorf("second entry %+v", entries[1])
	}
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: db})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, e := range entries {
		scores, err := reg.ListScores(ctx, registry.ScoreFilter{ModelHash: e.ID})
		if err != nil || len(scores) != 1 || scores[0].ModelName != e.Name {
			t.Errorf("entry %s (%s): scores %+v %v", e.Name, e.ID[:12], scores, err)
		}
		if m, err := reg.GetModel(ctx, e.ID); err != nil || m.File != e.File || m.Name != e.Name {
			t.Errorf("registry row of %s: %+v %v", e.Name, m, err)
		}
	}
	if *first[0].Raw == *second[0].Raw {
		t.Errorf("two specs gave the same raw score %v: was the second computed with the first spec?", *first[0].Raw)
	}

	// --fresh with a third spec stores nothing: no entry, no row, no score.
	third := "size=8,crop=1,mean=0.25,std=0.5,layout=NCHW"
	score("resnet18-v3", third, "--fresh")
	if entries := list(); len(entries) != 2 {
		t.Errorf("--fresh registered an entry: %+v", entries)
	}
	thirdSpec, _ := models.ParseSpec(third)
	if _, err := reg.GetModel(ctx, models.EntryID(e1.File, thirdSpec)); !registry.IsNotFound(err) {
		t.Errorf("--fresh recorded a model row: %v", err)
	}

	// The first entry scored again under another name: the stored score,
	// under the entry's own name, and a note saying so.
	again, errOut := score("renamed", wrong)
	if again[0].Model != "resnet18" || !strings.Contains(errOut, `already registered as "resnet18"`) {
		t.Errorf("another --name for an existing entry: %+v\n%s", again, errOut)
	}
	out, errOut, err := scoreRun(t, "models", "add", model, "--name", "renamed", "--preprocess", wrong, "--store", store, "--db", db)
	if err != nil || !strings.Contains(errOut, `already registered as "resnet18"`) || !strings.Contains(out, "already registered") {
		t.Errorf("models add of an existing entry: %v\n%s\n%s", err, out, errOut)
	}
	if entries := list(); len(entries) != 2 || entries[0].Name != "resnet18" || entries[1].Name != "resnet18-v2" {
		t.Errorf("names changed: %+v", entries)
	}
	// Without --preprocess, a file with two entries needs one said.
	if _, errOut, err := scoreRun(t, "score", "--model", model, "--benchmark", "lab2026.IT", "--store", store, "--db", db, "--bootstrap", "20"); err == nil ||
		!strings.Contains(err.Error()+errOut, "--preprocess") {
		t.Errorf("score without --preprocess of a file with two entries: %v\n%s", err, errOut)
	}
}
