package stores_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// Two entries of one file are told apart by their preprocessing, whether
// the record holds the spec as text (the CLI) or as an object
// (submissions); each keeps the file's sha256.
func TestModelsShowFileAndPreprocessing(t *testing.T) {
	ctx := context.Background()
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	file := strings.Repeat("f", 64)
	asText, _ := json.Marshal(models.MobileNetV1Float.String())
	bgr, _ := models.ParseSpec("mobilenet_v1_float,order=BGR")
	asObject, _ := json.Marshal(bgr)
	for _, m := range []registry.Model{
		{Hash: models.EntryID(file, models.MobileNetV1Float), File: file, Name: "v1", Preprocessing: asText},
		{Hash: models.EntryID(file, bgr), File: file, Name: "v1-bgr", Preprocessing: asObject},
	} {
		if _, _, err := reg.CreateModel(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := stores.Board{DB: reg}.Models(ctx)
	if err != nil || len(ms) != 2 {
		t.Fatalf("models %+v %v", ms, err)
	}
	for _, m := range ms {
		want := models.MobileNetV1Float.String()
		if m.Name == "v1-bgr" {
			want = bgr.String()
		}
		if m.File != file || m.Preprocessing != want {
			t.Errorf("%s: file %q preprocessing %q, want %q", m.Name, m.File, m.Preprocessing, want)
		}
	}
}
