package models_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Every objstore bucket (the S3 adapter, objstore.Memory) is a BlobStore.
var _ models.BlobStore = objstore.Bucket(nil)

// The registry runs on the storage side's in-memory bucket and on a folder.
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
			for _, m := range []models.Metadata{{ID: "bb", Name: "b", Spec: models.MobileNetV2Float}, {ID: "aa", Name: "a"}, {ID: "bb", Name: "b2"}} {
				if err := reg.Add(ctx, m, bytes.NewReader([]byte("onnx"))); err != nil {
					t.Fatal(err)
				}
			}
			all, err := reg.List(ctx)
			if err != nil || len(all) != 2 || all[0].Name != "a" || all[1].Name != "b2" {
				t.Fatalf("list %+v %v", all, err)
			}
			if _, err := reg.Get(ctx, "cc"); !models.IsNotFound(err) {
				t.Errorf("absent: %v", err)
			}
		})
	}
}
