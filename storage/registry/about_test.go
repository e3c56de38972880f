package registry_test

import (
	"testing"

	"github.com/cortexbench/cortexbench/storage/registry"
)

// TestModelAbout: a model's paper, description, licence and BibTeX
// (migration 8, issue 17) survive CreateModel and PutModel, PutModel
// changes them, and a model stored before migration 8 keeps its row and
// reads them as "".
func TestModelAbout(t *testing.T) {
	forEachDB(t, func(t *testing.T, openDB func() *registry.Registry) {
		ctx := t.Context()
		restore := registry.LimitMigrationsForTest(7)
		old := openDB()
		restore()
		q := "INSERT INTO models (hash, file, name, version, family, training_data, params, preprocessing, owner, created_at) VALUES ('" +
			hash("before") + "', '" + hash("before") + "', 'before', '', '', '', 0, '', 'ann', '2026-01-02 03:04:05')"
		if err := registry.ExecForTest(old, q); err != nil {
			t.Fatal(err)
		}
		old.Close()

		r := openDB()
		if v, err := r.SchemaVersion(ctx); err != nil || v != registry.LatestSchemaVersion || v < 8 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		got, err := r.GetModel(ctx, hash("before"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "before" || got.Paper != "" || got.Description != "" || got.License != "" || got.BibTeX != "" {
			t.Errorf("a model stored before migration 8 reads %+v, want its name and no paper, description, licence or BibTeX", got)
		}

		m := registry.Model{Hash: hash("with"), File: hash("with"), Name: "with", Owner: "ann",
			Paper: "https://arxiv.org/abs/1512.03385", Description: "ResNet-18, random init\nsecond line", License: "MIT",
			BibTeX: "@article{he2016,\n  title={Deep Residual Learning},\n  author={He, Kaiming and Zhang, Xiangyu},\n  year={2016}\n}"}
		if _, created, err := r.CreateModel(ctx, m); err != nil || !created {
			t.Fatalf("CreateModel: created %v, %v", created, err)
		}
		if got, err = r.GetModel(ctx, m.Hash); err != nil {
			t.Fatal(err)
		}
		if got.Paper != m.Paper || got.Description != m.Description || got.License != m.License || got.BibTeX != m.BibTeX {
			t.Errorf("CreateModel then GetModel: %+v, want the paper, description, licence and BibTeX of %+v", got, m)
		}
		got.Paper, got.License = "https://doi.org/10.1109/CVPR.2016.90", "Apache-2.0"
		if err := r.PutModel(ctx, got); err != nil {
			t.Fatal(err)
		}
		again, err := r.GetModel(ctx, m.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if again.Paper != got.Paper || again.License != "Apache-2.0" || again.Description != m.Description || again.BibTeX != m.BibTeX {
			t.Errorf("PutModel then GetModel: %+v, want %+v", again, got)
		}
	})
}
