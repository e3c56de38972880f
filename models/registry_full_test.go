package models_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cortexbench/cortexbench/internal/faulttest"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// fullOn is a BlobStore whose writes of one key fail as on a full disk.
type fullOn struct {
	models.BlobStore
	key string
}

func (s *fullOn) Put(ctx context.Context, key string, r io.Reader) error {
	if key == s.key {
		io.Copy(io.Discard, r)
		return fmt.Errorf("put %s: %w", key, &fs.PathError{Op: "write", Path: "/store/.tmp/object-1", Err: syscall.ENOSPC})
	}
	return s.BlobStore.Put(ctx, key, r)
}

// A full disk at any of Add's writes (issue 15, finding 5) registers
// nothing: Get and List do not see the entry, entries added before stay
// listed, the error is ENOSPC, and adding the entry again once there is
// space registers it, listed once.
func TestAddFullDisk(t *testing.T) {
	ctx := context.Background()
	other, file := []byte("onnx other"), []byte("onnx new")
	otherMD := models.Metadata{File: sha(other), Name: "other", Spec: models.MobileNetV1Float}
	md := models.Metadata{File: sha(file), Name: "new", Spec: models.MobileNetV1Float}
	id := models.EntryID(md.File, md.Spec)
	for name, key := range map[string]string{"file": models.FileKey(md.File), "index": "models/index.json", "metadata": models.MetadataKey(id)} {
		t.Run(name, func(t *testing.T) {
			mem := objstore.NewMemory()
			reg := &models.Registry{Store: mem}
			if _, _, err := reg.Add(ctx, otherMD, bytes.NewReader(other)); err != nil {
				t.Fatal(err)
			}
			reg.Store = &fullOn{BlobStore: mem, key: key}
			_, created, err := reg.Add(ctx, md, bytes.NewReader(file))
			if err == nil || created || !errors.Is(err, syscall.ENOSPC) || !objstore.IsInsufficientStorage(err) {
				t.Fatalf("add on a full disk: created %v, err %v", created, err)
			}
			reg.Store = mem
			checkRegistered(t, reg, id, false)
			// Space again: the same Add completes the entry.
			if _, created, err := reg.Add(ctx, md, bytes.NewReader(file)); err != nil || !created {
				t.Fatalf("add after the disk was freed: created %v, err %v", created, err)
			}
			checkRegistered(t, reg, id, true)
		})
	}
}

// checkRegistered checks that entry id is (or is not) registered, beside
// the entry "other" which always is.
func checkRegistered(t *testing.T, reg *models.Registry, id string, want bool) {
	t.Helper()
	ctx := context.Background()
	_, err := reg.Get(ctx, id)
	if want && err != nil || !want && !models.IsNotFound(err) {
		t.Errorf("Get %s: %v (want registered %v)", id, err, want)
	}
	all, err := reg.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	names := map[string]int{}
	for _, m := range all {
		names[m.Name]++
	}
	if names["other"] != 1 || want && (names["new"] != 1 || len(all) != 2) || !want && len(all) != 1 {
		t.Errorf("List: %v (want new registered %v)", names, want)
	}
}

// The same on a real full file system: the registry's folder store on a
// tmpfs too small for the file leaves no partial object behind, and works
// once space is freed.
func TestAddFullTmpfs(t *testing.T) {
	mnt := faulttest.Tmpfs(t, "1m")
	ctx := context.Background()
	reg := &models.Registry{Store: models.DirStore{Dir: filepath.Join(mnt, "reg")}}
	small := []byte("onnx small")
	if _, _, err := reg.Add(ctx, models.Metadata{File: sha(small), Name: "other", Spec: models.MobileNetV1Float}, bytes.NewReader(small)); err != nil {
		t.Fatal(err)
	}
	file := bytes.Repeat([]byte("w"), 2<<20) // larger than the file system
	md := models.Metadata{File: sha(file), Name: "new", Spec: models.MobileNetV1Float}
	id := models.EntryID(md.File, md.Spec)
	if _, _, err := reg.Add(ctx, md, bytes.NewReader(file)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("add on a full tmpfs: %v", err)
	}
	checkRegistered(t, reg, id, false)
	var left []string
	filepath.WalkDir(mnt, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 3 { // other's file and metadata, the index
		t.Errorf("files left on the full disk: %v", left)
	}
	// The failed write kept nothing, so a file of half the disk fits.
	half := file[:512<<10]
	md2 := models.Metadata{File: sha(half), Name: "new", Spec: models.MobileNetV1Float}
	if _, created, err := reg.Add(ctx, md2, bytes.NewReader(half)); err != nil || !created {
		t.Fatalf("add with room: %v %v", created, err)
	}
	checkRegistered(t, reg, models.EntryID(md2.File, md2.Spec), true)
}
