package benchmarks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// TestCorruptBlobsRefusedAndRepaired flips one byte of a stored RDM set
// and of a stored image (issue 15, finding 3): opening the benchmark and
// decoding the image fail with an error naming the blob and how to repair
// it, and adding the benchmark again replaces both copies.
func TestCorruptBlobsRefusedAndRepaired(t *testing.T) {
	ctx := context.Background()
	dir := tinyDir(t)
	manifest := filepath.Join(dir, "manifest.yaml")
	store := objstore.NewMemory()
	reg := NewRegistry(store)
	if _, err := reg.Add(ctx, manifest, AddOptions{}); err != nil {
		t.Fatal(err)
	}
	good, err := reg.Open(ctx, "test.valid")
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		return blobKey(hex.EncodeToString(sum[:]))
	}
	flip := func(key string, at int) {
		rc, err := store.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		data = bytes.Clone(data)
		data[at] ^= 0x40
		if err := store.Put(ctx, key, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
	}
	rdmKey, imgKey := keyOf("rdms.npy"), keyOf("stimuli/b.png")
	flip(rdmKey, 200) // inside the float data: the file still parses
	flip(imgKey, 60)

	_, err = reg.Open(ctx, "test.valid")
	if !objstore.IsCorrupt(err) {
		t.Fatalf("open with a corrupt RDM blob: %v, want a corrupt-object error", err)
	}
	for _, want := range []string{rdmKey, "rdms.npy", "corrupt", "re-add the benchmark"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	_, err = good.Stimuli.Image(ctx, 1)
	if !objstore.IsCorrupt(err) || !strings.Contains(err.Error(), imgKey) || !strings.Contains(err.Error(), "b.png") {
		t.Errorf("image from a corrupt blob: %v, want a corrupt-object error naming %s", err, imgKey)
	}
	if _, err := good.Stimuli.Image(ctx, 0); err != nil {
		t.Errorf("intact image: %v", err)
	}

	res, err := reg.Add(ctx, manifest, AddOptions{})
	if err != nil || res.Status != StatusUnchanged {
		t.Fatalf("re-add: %+v %v", res, err)
	}
	slices.Sort(res.Repaired)
	if want := []string{"rdms.npy", "stimuli/b.png"}; !reflect.DeepEqual(res.Repaired, want) {
		t.Errorf("re-add repaired %v, want %v", res.Repaired, want)
	}
	l, err := reg.Open(ctx, "test.valid")
	if err != nil {
		t.Fatalf("open after the re-add: %v", err)
	}
	if !reflect.DeepEqual(l.RDMs, good.RDMs) {
		t.Error("RDMs after the repair differ from the original")
	}
	if _, err := l.Stimuli.Image(ctx, 1); err != nil {
		t.Errorf("image after the repair: %v", err)
	}
	if res, err := reg.Add(ctx, manifest, AddOptions{}); err != nil || len(res.Repaired) != 0 {
		t.Errorf("third add of an intact store: %+v %v, want nothing repaired", res, err)
	}
}
