package onnxrun

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

// The main job's shuffled control is a control entry of MobileNetV2's:
// family "control", ControlOf MobileNetV2's entry (issue 16).
func TestDefaultsControlOf(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "models")
	infos, err := Defaults(dir, t.TempDir())
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("shared models not available: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(infos[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := models.EntryID(hex.EncodeToString(sum[:]), infos[0].Spec)
	c := infos[2]
	if c.Family != "control" || c.Control != "shuffled" || c.ControlOf != want {
		t.Errorf("control %+v, want family control, shuffled, of %s", c, want)
	}
	for _, i := range infos[:2] {
		if i.ControlOf != "" || i.Control != "" {
			t.Errorf("%s is not a control: %+v", i.Name, i)
		}
	}
}
