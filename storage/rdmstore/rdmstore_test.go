package rdmstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// TestModelRDMChecksum stores an RDM, reads it back bit-identical, then
// flips each byte of the stored object in turn (issue 15, finding 3):
// every flip is refused as corrupt with an error naming the object. An
// RDM stored before checksums reads as missing (ErrUnverified).
func TestModelRDMChecksum(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	s := Store{Bucket: b}
	const n = 6
	upper := make([]float64, n*(n-1)/2)
	for i := range upper {
		upper[i] = 1 - math.Cos(float64(i)*0.7)
	}
	if err := s.PutModelRDM(ctx, "h", "bench.IT", n, upper); err != nil {
		t.Fatal(err)
	}
	gn, got, err := s.ModelRDM(ctx, "h", "bench.IT")
	if err != nil || gn != n || len(got) != len(upper) {
		t.Fatalf("read back: n %d, %d values, %v", gn, len(got), err)
	}
	for i := range upper {
		if math.Float64bits(got[i]) != math.Float64bits(upper[i]) {
			t.Fatalf("value %d read back as %v, stored %v", i, got[i], upper[i])
		}
	}
	if stale, err := s.CheckModelRDM(ctx, "h", "bench.IT"); stale || err != nil {
		t.Errorf("check of an intact RDM: %v %v", stale, err)
	}

	key := Key("h", "bench.IT")
	rc, _ := b.Get(ctx, key)
	stored, _ := io.ReadAll(rc)
	stored = bytes.Clone(stored)
	for i := range stored {
		bad := bytes.Clone(stored)
		bad[i] ^= 0x04
		if err := b.Put(ctx, key, bytes.NewReader(bad)); err != nil {
			t.Fatal(err)
		}
		_, _, err := s.ModelRDM(ctx, "h", "bench.IT")
		if !objstore.IsCorrupt(err) || !strings.Contains(err.Error(), key) {
			t.Fatalf("byte %d of %d flipped: %v, want a corrupt-object error naming %s", i, len(stored), err, key)
		}
		if stale, _ := s.CheckModelRDM(ctx, "h", "bench.IT"); !stale {
			t.Fatalf("byte %d flipped: CheckModelRDM does not ask for a new RDM", i)
		}
	}

	// As stored before checksums: the bare .npy.
	var legacy bytes.Buffer
	if err := npy.Write(&legacy, []int{len(upper)}, upper); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, key, &legacy); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.ModelRDM(ctx, "h", "bench.IT")
	if !objstore.IsNotFound(err) || !errors.Is(err, ErrUnverified) || objstore.IsCorrupt(err) {
		t.Errorf("RDM without a checksum: %v, want not found (unverified)", err)
	}
	if stale, _ := s.CheckModelRDM(ctx, "h", "bench.IT"); !stale {
		t.Error("CheckModelRDM does not ask to replace an RDM without a checksum")
	}
	if _, _, err := s.ModelRDM(ctx, "h", "other"); !objstore.IsNotFound(err) || errors.Is(err, ErrUnverified) {
		t.Errorf("no RDM: %v, want not found", err)
	}
	if stale, err := s.CheckModelRDM(ctx, "h", "other"); stale || err != nil {
		t.Errorf("check of a missing RDM: %v %v, want nothing to do", stale, err)
	}
}
