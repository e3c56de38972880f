package models_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Every objstore bucket (the S3 adapter, objstore.Memory) is a BlobStore.
var _ models.BlobStore = objstore.Bucket(nil)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func read(t *testing.T, s models.BlobStore, key string) []byte {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The registry runs on the storage side's in-memory bucket and on a
// folder; an entry is (file, spec), written once.
func TestRegistry(t *testing.T) {
	for name, store := range map[string]models.BlobStore{
		"objstore.Memory": objstore.NewMemory(),
		"DirStore":        models.DirStore{Dir: t.TempDir()},
		"MemStore":        &models.MemStore{},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			reg := &models.Registry{Store: store}
			if all, err := reg.List(ctx); err != nil || len(all) != 0 {
				t.Fatalf("empty list: %v %v", all, err)
			}
			fileB, fileA := []byte("onnx b"), []byte("onnx a")
			bgr, err := models.ParseSpec("mobilenet_v1_float,order=BGR,offset=0,scale=0.0001")
			if err != nil {
				t.Fatal(err)
			}
			first, created, err := reg.Add(ctx, models.Metadata{File: sha(fileB), Name: "b", Spec: models.MobileNetV1Float}, bytes.NewReader(fileB))
			if err != nil || !created || first.ID != models.EntryID(sha(fileB), models.MobileNetV1Float) {
				t.Fatalf("add b: %+v %v %v", first, created, err)
			}
			metaBefore := read(t, store, models.MetadataKey(first.ID))
			// The same entry again, under another name: nothing changes.
			again, created, err := reg.Add(ctx, models.Metadata{File: sha(fileB), Name: "b2", Spec: models.MobileNetV1Float}, bytes.NewReader(fileB))
			if err != nil || created || again.Name != "b" || again.ID != first.ID {
				t.Fatalf("add b again: %+v %v %v", again, created, err)
			}
			if got := read(t, store, models.MetadataKey(first.ID)); !bytes.Equal(got, metaBefore) {
				t.Fatalf("metadata rewritten:\n%s\n%s", metaBefore, got)
			}
			// The same file with another spec: a second entry, one file.
			other, created, err := reg.Add(ctx, models.Metadata{File: sha(fileB), Name: "b-bgr", Spec: bgr}, bytes.NewReader(fileB))
			if err != nil || !created || other.ID == first.ID || other.ID != models.EntryID(sha(fileB), bgr) {
				t.Fatalf("add b with bgr: %+v %v %v", other, created, err)
			}
			if got := read(t, store, models.MetadataKey(first.ID)); !bytes.Equal(got, metaBefore) {
				t.Fatal("first entry's metadata rewritten by the second")
			}
			if _, _, err := reg.Add(ctx, models.Metadata{File: sha(fileA), Name: "a"}, bytes.NewReader(fileA)); err != nil {
				t.Fatal(err)
			}
			all, err := reg.List(ctx)
			if err != nil || len(all) != 3 || all[0].Name != "a" || all[1].Name != "b" || all[2].Name != "b-bgr" {
				t.Fatalf("list %+v %v", all, err)
			}
			entries, err := reg.EntriesOf(ctx, sha(fileB))
			if err != nil || len(entries) != 2 {
				t.Fatalf("entries of b: %+v %v", entries, err)
			}
			if data, err := reg.File(ctx, sha(fileB)); err != nil || !bytes.Equal(data, fileB) {
				t.Fatalf("file: %q %v", data, err)
			}
			if _, err := reg.Get(ctx, strings.Repeat("c", 64)); !models.IsNotFound(err) {
				t.Errorf("absent: %v", err)
			}
			// A given ID that is not the entry's is refused.
			if _, _, err := reg.Add(ctx, models.Metadata{ID: first.ID, File: sha(fileA), Name: "x"}, bytes.NewReader(fileA)); err == nil {
				t.Error("a wrong id was accepted")
			}
			// Bytes that do not hash to File are refused.
			if _, _, err := reg.Add(ctx, models.Metadata{File: sha([]byte("other")), Name: "x"}, bytes.NewReader([]byte("not other"))); !errors.Is(err, models.ErrCorrupt) {
				t.Errorf("mismatched bytes: %v", err)
			}
		})
	}
}

// A tampered entry or file is an error naming the object; legacy metadata
// (no File, the file's sha256 as ID) is read with File = ID.
func TestRegistryVerifies(t *testing.T) {
	ctx := context.Background()
	store := &models.MemStore{}
	reg := &models.Registry{Store: store}
	file := []byte("onnx")
	m, _, err := reg.Add(ctx, models.Metadata{File: sha(file), Name: "m", Spec: models.MobileNetV2Float}, bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	// Another spec written into the entry's metadata.
	tampered := bytes.Replace(read(t, store, models.MetadataKey(m.ID)), []byte(`"ChannelOrder": "RGB"`), []byte(`"ChannelOrder": "BGR"`), 1)
	if err := store.Put(ctx, models.MetadataKey(m.ID), bytes.NewReader(tampered)); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Get(ctx, m.ID); !errors.Is(err, models.ErrCorrupt) || !strings.Contains(err.Error(), models.MetadataKey(m.ID)) {
		t.Errorf("tampered metadata: %v", err)
	}
	// Adding the entry again does not overwrite the tampered object either.
	if _, _, err := reg.Add(ctx, models.Metadata{File: sha(file), Name: "m", Spec: models.MobileNetV2Float}, bytes.NewReader(file)); !errors.Is(err, models.ErrCorrupt) {
		t.Errorf("add over a tampered entry: %v", err)
	}
	if err := store.Put(ctx, models.FileKey(sha(file)), strings.NewReader("onnY")); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.File(ctx, sha(file)); !errors.Is(err, models.ErrCorrupt) || !strings.Contains(err.Error(), models.FileKey(sha(file))) {
		t.Errorf("tampered file: %v", err)
	}
	legacy := sha([]byte("legacy"))
	if err := store.Put(ctx, models.MetadataKey(legacy), strings.NewReader(`{"ID":"`+legacy+`","Name":"old"}`)); err != nil {
		t.Fatal(err)
	}
	if got, err := reg.Get(ctx, legacy); err != nil || got.File != legacy || got.Name != "old" {
		t.Errorf("legacy: %+v %v", got, err)
	}
}
