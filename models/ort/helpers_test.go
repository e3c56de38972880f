package ort

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
)

// sharedDir locates ../shared beside the repository (override with
// CORTEXBENCH_SHARED); tests that need it skip when it is absent.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("CORTEXBENCH_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "models")); err != nil {
		t.Skipf("shared data not found at %s (set CORTEXBENCH_SHARED): %v", dir, err)
	}
	return dir
}

var (
	rtOnce sync.Once
	rt     *Runtime
	rtErr  error
)

// runtime opens ONNX Runtime from third_party (override with
// CORTEXBENCH_ONNXRUNTIME_LIB), or fails with the setup hint.
func runtime(t testing.TB) *Runtime {
	t.Helper()
	rtOnce.Do(func() {
		cfg := DefaultConfig()
		cfg.LibraryPath = os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
		if cfg.LibraryPath == "" {
			cfg.LibraryPath = filepath.Join("..", "..", DefaultLibraryPath)
		}
		rt, rtErr = Open(cfg)
	})
	if rtErr != nil {
		t.Fatal(rtErr)
	}
	return rt
}

func loadModel(t testing.TB, path string) *onnxmodel.Checked {
	t.Helper()
	c, err := onnxmodel.ValidateFile(path, onnxmodel.DefaultConfig(), runtime(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// mobileNetV2 loads the shared MobileNetV2 1.0/224 and enumerates its
// layers.
func mobileNetV2(t testing.TB, shared string) (*onnxmodel.Checked, []models.Layer) {
	t.Helper()
	c := loadModel(t, filepath.Join(shared, "models", "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx"))
	layers, err := runtime(t).Inspect(c.Model)
	if err != nil {
		t.Fatal(err)
	}
	return c, layers
}

func outputLayers(layers []models.Layer) []models.Layer {
	var out []models.Layer
	for _, l := range layers {
		if l.IsOutput {
			out = append(out, l)
		}
	}
	return out
}

// perStimulus keeps the layers with one value set per stimulus.
func perStimulus(layers []models.Layer) []models.Layer {
	var out []models.Layer
	for _, l := range layers {
		if l.PerStimulus {
			out = append(out, l)
		}
	}
	return out
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
func contains(s, sub string) bool     { return strings.Contains(s, sub) }
