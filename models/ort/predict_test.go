package ort

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/preprocess"
)

func readLabels(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// The expected classes are the sanity check of shared/models/README.md.
func TestPredictMobileNetV2(t *testing.T) {
	shared := sharedDir(t)
	labels := readLabels(t, filepath.Join(shared, "models", "imagenet_labels.txt"))
	want := map[string]string{
		"chelsea.png":         "Egyptian cat",
		"coffee.png":          "espresso",
		"rocket.jpg":          "missile",
		"motorcycle_left.png": "moped",
	}
	var files preprocess.Files
	var names []string
	for name := range want {
		names = append(names, name)
		files = append(files, filepath.Join(shared, "images", name))
	}
	r := runtime(t)
	for _, m := range []struct {
		file string
		spec models.Spec
	}{
		{"mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_float32.onnx", models.MobileNetV2Float},
		{"mobilenet_v2_1.0_224/mobilenet_v2_1.0_224_int8.onnx", models.MobileNetV2Uint8},
	} {
		t.Run(filepath.Base(m.file), func(t *testing.T) {
			c := loadModel(t, filepath.Join(shared, "models", m.file))
			layers, err := r.Inspect(c.Model)
			if err != nil {
				t.Fatal(err)
			}
			e, err := r.NewExtractor(c, m.spec, outputLayers(layers), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			var col models.Collector
			if err := e.Run(context.Background(), files, &col, nil); err != nil {
				t.Fatal(err)
			}
			for i, name := range names {
				top, err := models.TopK(col.Rows[i], labels, 5)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: %v", name, top)
				if top[0].Label != want[name] {
					t.Errorf("%s: top-1 %q (%.3f), want %q; top-5 %v", name, top[0].Label, top[0].Score, want[name], top)
				}
			}
		})
	}
}
