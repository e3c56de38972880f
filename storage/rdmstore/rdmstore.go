// Package rdmstore keeps models' RDMs (upper triangles, one .npy per model
// and benchmark) in the object store.
package rdmstore

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Store keeps model RDMs in a bucket under rdms/models/<hash>/<benchmark>.npy.
// It implements the runner's model-RDM sink.
type Store struct{ Bucket objstore.Bucket }

// Key is where model hash's RDM on benchmarkID is kept.
func Key(hash, benchmarkID string) string {
	return "rdms/models/" + hash + "/" + benchmarkID + ".npy"
}

// PutModelRDM stores the upper triangle of a model's RDM over n stimuli.
func (s Store) PutModelRDM(ctx context.Context, hash, benchmarkID string, n int, upper []float64) error {
	var buf bytes.Buffer
	if err := npy.Write(&buf, []int{len(upper)}, upper); err != nil {
		return err
	}
	return s.Bucket.Put(ctx, Key(hash, benchmarkID), &buf)
}

// ModelRDM reads a model's stored RDM, whatever the benchmark (publishing
// it is the caller's decision): n stimuli and the upper triangle. None
// stored is an error satisfying objstore.IsNotFound.
func (s Store) ModelRDM(ctx context.Context, hash, benchmarkID string) (int, []float64, error) {
	rc, err := s.Bucket.Get(ctx, Key(hash, benchmarkID))
	if err != nil {
		return 0, nil, fmt.Errorf("model RDM of %s on %s: %w", hash, benchmarkID, err)
	}
	defer rc.Close()
	a, err := npy.Read(rc, -1)
	if err != nil {
		return 0, nil, err
	}
	v := a.Float64()
	return TriangleSide(len(v)), v, nil
}

// TriangleSide is n for an upper triangle of m = n(n-1)/2 entries.
func TriangleSide(m int) int {
	return int(math.Round((1 + math.Sqrt(1+8*float64(m))) / 2))
}
