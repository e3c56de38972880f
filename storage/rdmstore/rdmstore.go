// Package rdmstore keeps models' RDMs (upper triangles, one .npy per model
// and benchmark) in the object store, each with a checksum, so that a
// corrupted RDM is never served or compared.
package rdmstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
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

// An object is the .npy file followed by an 8-byte trailer: "CBR1" and the
// CRC-32C (Castagnoli, little-endian) of everything before it. A .npy
// reader stops at the end of the array, so the object still opens with
// numpy.load. CRC-32C for the reason of the activation cache: computed in
// hardware, it costs nothing next to reading the object.
const (
	trailerMagic = "CBR1"
	trailerSize  = 8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrUnverified is wrapped, with objstore.ErrNotFound, by ModelRDM's error
// for an RDM stored without a checksum (by an older version): it is
// treated as missing, and scoring the model again replaces it.
var ErrUnverified = errors.New("stored without a checksum")

// PutModelRDM stores the upper triangle of a model's RDM over n stimuli.
func (s Store) PutModelRDM(ctx context.Context, hash, benchmarkID string, n int, upper []float64) error {
	var buf bytes.Buffer
	if err := npy.Write(&buf, []int{len(upper)}, upper); err != nil {
		return err
	}
	buf.WriteString(trailerMagic)
	binary.Write(&buf, binary.LittleEndian, crc32.Checksum(buf.Bytes(), castagnoli))
	return s.Bucket.Put(ctx, Key(hash, benchmarkID), &buf)
}

// ModelRDM reads a model's stored RDM, whatever the benchmark (publishing
// it is the caller's decision): n stimuli and the upper triangle. None
// stored, or one stored without a checksum (ErrUnverified), is an error
// satisfying objstore.IsNotFound; one that fails its checksum satisfies
// objstore.IsCorrupt and names the object.
func (s Store) ModelRDM(ctx context.Context, hash, benchmarkID string) (int, []float64, error) {
	key := Key(hash, benchmarkID)
	rc, err := s.Bucket.Get(ctx, key)
	if err != nil {
		return 0, nil, fmt.Errorf("model RDM of %s on %s: %w", hash, benchmarkID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return 0, nil, fmt.Errorf("model RDM of %s on %s: %w", hash, benchmarkID, err)
	}
	v, err := decode(key, b)
	if err != nil {
		return 0, nil, fmt.Errorf("model RDM of %s on %s: %w", hash, benchmarkID, err)
	}
	return TriangleSide(len(v)), v, nil
}

// CheckModelRDM reports whether a model's stored RDM on benchmarkID must be
// computed again: it is corrupt or has no checksum. None stored is not a
// reason (not every benchmark keeps one).
func (s Store) CheckModelRDM(ctx context.Context, hash, benchmarkID string) (stale bool, err error) {
	_, _, err = s.ModelRDM(ctx, hash, benchmarkID)
	switch {
	case err == nil:
		return false, nil
	case objstore.IsCorrupt(err), errors.Is(err, ErrUnverified):
		return true, err
	case objstore.IsNotFound(err):
		return false, nil
	}
	return false, err
}

// decode checks the trailer of the stored object key and parses its array.
func decode(key string, b []byte) ([]float64, error) {
	if len(b) >= trailerSize && string(b[len(b)-trailerSize:len(b)-4]) == trailerMagic {
		body := b[:len(b)-trailerSize]
		want := binary.LittleEndian.Uint32(b[len(b)-4:])
		if got := crc32.Checksum(b[:len(b)-4], castagnoli); got != want {
			return nil, objstore.Corrupt(key, "CRC-32C %08x, stored with %08x", got, want)
		}
		a, rest, err := parse(body)
		switch {
		case err != nil:
			return nil, objstore.Corrupt(key, "checksum matches but the array does not parse: %v", err)
		case rest != 0:
			return nil, objstore.Corrupt(key, "%d bytes after the array", rest)
		}
		return a.Float64(), nil
	}
	// No trailer: an RDM stored before checksums exactly fills the object;
	// anything else is a damaged one.
	if _, rest, err := parse(b); err == nil && rest == 0 {
		return nil, fmt.Errorf("object %s: %w (by an older version, or not by cortexbench), so it counts as %w", key, ErrUnverified, objstore.ErrNotFound)
	}
	return nil, objstore.Corrupt(key, "no checksum trailer, and not an RDM stored before checksums")
}

// parse reads one .npy array from b and says how many bytes follow it.
func parse(b []byte) (*npy.Array, int, error) {
	r := bytes.NewReader(b)
	a, err := npy.Read(r, int64(len(b)))
	if err != nil {
		return nil, 0, err
	}
	if len(a.Shape) != 1 {
		return nil, 0, fmt.Errorf("shape %v, want one dimension", a.Shape)
	}
	return a, r.Len(), nil
}

// TriangleSide is n for an upper triangle of m = n(n-1)/2 entries.
func TriangleSide(m int) int {
	return int(math.Round((1 + math.Sqrt(1+8*float64(m))) / 2))
}
