package registry_test

import (
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/registry"
)

// A database made before migration 5 keeps its models: their hash was the
// file's sha256, so their file is their hash.
func TestMigrationModelFile(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		ctx := t.Context()
		restore := registry.LimitMigrationsForTest(4)
		old := open()
		restore()
		q := "INSERT INTO models (hash, name, version, family, training_data, params, preprocessing, owner, created_at) " +
			"VALUES ('" + hash("old.onnx") + "', 'old', '', '', '', 7, '\"size=8\"', 'alice', '2026-01-02 03:04:05')"
		if err := registry.ExecForTest(old, q); err != nil {
			t.Fatal(err)
		}
		old.Close()
		r := open()
		if v, err := r.SchemaVersion(ctx); err != nil || v != registry.LatestSchemaVersion || v < 5 {
			t.Fatalf("SchemaVersion = %d, %v", v, err)
		}
		m, err := r.GetModel(ctx, hash("old.onnx"))
		if err != nil || m.File != m.Hash || m.Name != "old" || m.Owner != "alice" || m.Params != 7 {
			t.Fatalf("migrated model = %+v, %v", m, err)
		}
		// A new entry of the same file under another id.
		if _, created, err := r.CreateModel(ctx, registry.Model{Hash: hash("entry"), File: m.File, Name: "new", Owner: "bob"}); err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
	})
}

// CreateModel never changes an existing model; PendingJobs finds the
// queued and running jobs of a model whoever submitted it.
func TestCreateModelAndPendingJobs(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		ctx := t.Context()
		r := open()
		alice := registry.Model{Hash: hash("entry"), File: hash("file"), Name: "alice-net", Version: "1", Owner: "alice",
			Preprocessing: []byte(`"size=8"`)}
		got, created, err := r.CreateModel(ctx, alice)
		if err != nil || !created || got.Name != "alice-net" || got.File != alice.File {
			t.Fatalf("create: %+v %v %v", got, created, err)
		}
		bob := alice
		bob.Name, bob.Owner, bob.Preprocessing = "bob-net", "bob", []byte(`"size=9"`)
		got2, created, err := r.CreateModel(ctx, bob)
		if err != nil || created || got2.Name != "alice-net" || got2.Owner != "alice" || string(got2.Preprocessing) != `"size=8"` ||
			!got2.CreatedAt.Equal(got.CreatedAt) {
			t.Fatalf("second create changed the model: %+v %v %v", got2, created, err)
		}
		if _, _, err := r.CreateModel(ctx, registry.Model{Hash: hash("x"), File: "nothex", Name: "x"}); err == nil {
			t.Error("a bad file hash was accepted")
		}
		for _, u := range []string{"alice", "bob"} {
			if err := r.CreateUser(ctx, registry.User{Name: u, Role: registry.RoleSubmitter}); err != nil {
				t.Fatal(err)
			}
		}
		now := time.Now().UTC()
		sub := registry.Submission{ID: "sub_a", Owner: "alice", ModelHash: alice.Hash, ModelName: "alice-net", CreatedAt: now,
			Jobs: []registry.SubmissionJob{{BenchmarkID: "b1", BenchmarkVersion: "v1"}, {BenchmarkID: "b2", BenchmarkVersion: "v2"}}}
		if err := r.CreateSubmission(ctx, sub, alice, 0); err != nil {
			t.Fatal(err)
		}
		if err := r.FailJob(ctx, "sub_a", "b2", "bad model", "x"); err != nil {
			t.Fatal(err)
		}
		other := registry.Model{Hash: hash("other"), File: hash("file"), Name: "other", Owner: "bob"}
		if err := r.CreateSubmission(ctx, registry.Submission{ID: "sub_b", Owner: "bob", ModelHash: other.Hash, CreatedAt: now,
			Jobs: []registry.SubmissionJob{{BenchmarkID: "b3", BenchmarkVersion: "v3"}}}, other, 0); err != nil {
			t.Fatal(err)
		}
		jobs, err := r.PendingJobs(ctx, alice.Hash)
		if err != nil || len(jobs) != 1 || jobs[0].BenchmarkID != "b1" || jobs[0].BenchmarkVersion != "v1" {
			t.Fatalf("pending jobs = %+v, %v", jobs, err)
		}
		if m, err := r.GetModel(ctx, alice.Hash); err != nil || m.Name != "alice-net" {
			t.Fatalf("model after submissions: %+v %v", m, err)
		}
	})
}
