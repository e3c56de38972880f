package registry_test

import (
	"testing"

	"github.com/cortexbench/cortexbench/storage/registry"
)

// TestScoresVersion: the token stays put while nothing changes (a put of
// an existing score included) and moves when a score is added or a model
// withdrawn.
func TestScoresVersion(t *testing.T) {
	forEachDB(t, func(t *testing.T, open func() *registry.Registry) {
		r := open()
		ctx := t.Context()
		version := func() string {
			t.Helper()
			v, err := r.ScoresVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		v0 := version()
		if v0 != version() {
			t.Fatal("token moved with nothing changed")
		}
		if _, _, err := r.PutScore(ctx, sampleScore("alexnet", "v1")); err != nil {
			t.Fatal(err)
		}
		v1 := version()
		if v1 == v0 {
			t.Fatalf("token %q did not move when a score was added", v1)
		}
		if _, created, err := r.PutScore(ctx, sampleScore("alexnet", "v1")); err != nil || created {
			t.Fatalf("second put: created %v, %v", created, err)
		}
		if v := version(); v != v1 {
			t.Fatalf("token moved from %q to %q on a put that stored nothing", v1, v)
		}
		if _, _, err := r.PutScore(ctx, sampleScore("resnet", "v1")); err != nil {
			t.Fatal(err)
		}
		v2 := version()
		if v2 == v1 {
			t.Fatal("token did not move on a second model's score")
		}
		if err := r.WithdrawModel(ctx, hash("resnet"), "admin", "test"); err != nil {
			t.Fatal(err)
		}
		if v := version(); v == v2 {
			t.Fatal("token did not move when a model was withdrawn")
		}
	})
}
