package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/ort"
)

func modelsEnv(t *testing.T) (*Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	lib := os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join("..", "..", ort.DefaultLibraryPath)
	}
	var out, errb bytes.Buffer
	return &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "CORTEXBENCH_ONNXRUNTIME_LIB" {
			return lib
		}
		return ""
	}}, &out, &errb
}

func shared(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CORTEXBENCH_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "models")); err != nil {
		t.Skipf("shared data not found at %s (set CORTEXBENCH_SHARED)", dir)
	}
	return dir
}

func TestModelsAddListPredict(t *testing.T) {
	sh := shared(t)
	reg := t.TempDir()
	model := filepath.Join(sh, "models", "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx")
	env, out, _ := modelsEnv(t)
	ctx := context.Background()
	err := Run(ctx, env, []string{"models", "add", model, "--name", "MobileNetV2", "--family", "MobileNet",
		"--preprocess", "mobilenet_v2_float", "--registry", reg, "--json"})
	if err != nil {
		t.Fatal(err)
	}
	var md models.Metadata
	if err := json.Unmarshal(out.Bytes(), &md); err != nil || md.Layers != 245 || md.Parameters == 0 || len(md.ID) != 64 {
		t.Fatalf("add: %v %+v", err, md)
	}
	out.Reset()
	if err := Run(ctx, env, []string{"models", "list", "--registry", reg, "--json"}); err != nil {
		t.Fatal(err)
	}
	var all []models.Metadata
	if err := json.Unmarshal(out.Bytes(), &all); err != nil || len(all) != 1 || all[0].Name != "MobileNetV2" {
		t.Fatalf("list: %v %s", err, out)
	}
	// predict takes the registered spec when --preprocess is absent.
	out.Reset()
	err = Run(ctx, env, []string{"models", "predict", model, "--labels", filepath.Join(sh, "models", "imagenet_labels.txt"),
		"--registry", reg, filepath.Join(sh, "images", "coffee.png")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.SplitN(out.String(), "\n", 3)[1], "espresso") {
		t.Errorf("predict:\n%s", out)
	}
}

func TestModelsAddRefusesBadModels(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "registry")
	for _, bad := range onnxtest.BadModels() {
		p := filepath.Join(dir, bad.Name)
		if err := os.WriteFile(p, bad.Data, 0o644); err != nil {
			t.Fatal(err)
		}
		env, _, _ := modelsEnv(t)
		err := Run(context.Background(), env, []string{"models", "add", p, "--name", "x", "--registry", reg})
		if !errors.Is(err, models.ErrInvalidModel) || !errors.Is(err, bad.Kind) || !strings.Contains(err.Error(), bad.Msg) {
			t.Errorf("%s: err = %v, want %v mentioning %q", bad.Name, err, bad.Kind, bad.Msg)
		}
	}
	if _, err := os.Stat(reg); !os.IsNotExist(err) {
		t.Errorf("registry written after refusals: %v", err)
	}
}

func TestModelsInspect(t *testing.T) {
	sh := shared(t)
	env, out, _ := modelsEnv(t)
	model := filepath.Join(sh, "models", "mobilenet_v1_0.5_128", "mobilenet_v1_0.5_128_float32.onnx")
	if err := Run(context.Background(), env, []string{"models", "inspect", model, "--json"}); err != nil {
		t.Fatal(err)
	}
	var got onnxrun.Inspection
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 62 || got.Layout != "NHWC" || got.Layers[0].ID != "L000.Transpose" {
		t.Errorf("inspect: %d layers, layout %s", len(got.Layers), got.Layout)
	}
	env, _, _ = modelsEnv(t)
	err := Run(context.Background(), env, []string{"models", "--onnxruntime-lib", "/nonexistent/lib.so", "inspect", model})
	if !errors.Is(err, ort.ErrNoLibrary) || !strings.Contains(err.Error(), "./scripts/setup.sh") {
		t.Errorf("missing library: %v", err)
	}
}
