package ort

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel"
)

// An untrained control made by onnxmodel.Untrained runs in ONNX Runtime:
// MobileNetV2 re-initialised, and ResNet-50 from the model zoo's "light"
// architecture (weights computed by ConstantOfShape, made initializers),
// every per-stimulus layer extracted on real images.
func TestExtractUntrained(t *testing.T) {
	shared := sharedDir(t)
	files := algonauts(t, shared)[:1]
	r := runtime(t)
	for _, c := range []struct {
		file string
		spec models.Spec
	}{
		{filepath.Join(shared, "models", "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx"), models.MobileNetV2Float},
		{filepath.Join(shared, "models", "architectures", "light_resnet50.onnx"), models.ImageNetNCHW},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			data, err := os.ReadFile(c.file)
			if err != nil {
				t.Skip(err)
			}
			out, rep, err := onnxmodel.Untrained(data, 1)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", rep)
			path := filepath.Join(t.TempDir(), "untrained.onnx")
			if err := os.WriteFile(path, out, 0o644); err != nil {
				t.Fatal(err)
			}
			extractAll(t, r, path, c.spec, files, 0)
		})
	}
}
