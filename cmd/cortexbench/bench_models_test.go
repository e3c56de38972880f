package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/ort"
)

// The main job's models (MobileNetV2 and its control share a geometry,
// MobileNetV1 not) get a pixel cache under the store for the run, unset
// and removed afterwards; models that share no geometry get none; a run
// killed before removing its folder has it removed by the next run.
func TestSharedPixelsLifecycle(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	rt := &ort.Runtime{}
	stale := filepath.Join(pixelCacheDir(store), "run-1-killed")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	done, err := sharedPixels(env, store, rt, []models.Spec{models.MobileNetV2Float, models.MobileNetV1Float})
	if err != nil {
		t.Fatal(err)
	}
	if rt.PixelCache() != nil {
		t.Error("a pixel cache for models that share no geometry")
	}
	done()
	done, err = sharedPixels(env, store, rt, []models.Spec{models.MobileNetV2Float, models.MobileNetV1Float, models.MobileNetV2Float})
	if err != nil {
		t.Fatal(err)
	}
	pc := rt.PixelCache()
	if pc == nil {
		t.Fatal("no pixel cache for MobileNetV2 and its control")
	}
	if filepath.Dir(pc.Dir()) != pixelCacheDir(store) {
		t.Errorf("pixel cache in %s, want under %s", pc.Dir(), pixelCacheDir(store))
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("a killed run's folder is still there (%v)", err)
	}
	done()
	if rt.PixelCache() != nil {
		t.Error("the pixel cache is still set after the run")
	}
	if entries, err := os.ReadDir(pixelCacheDir(store)); err != nil || len(entries) != 0 {
		t.Errorf("%d entries left under %s (%v)", len(entries), pixelCacheDir(store), err)
	}
}
