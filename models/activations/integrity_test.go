package activations

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// TestCacheChecksum stores a layer and damages the stored entry in each
// way a disk or a hand can (issue 15, finding 3): every one is refused as
// untrusted with an error naming the object, an entry of the format
// without a checksum is unverified, and an intact entry reads back
// bit-identical.
func TestCacheChecksum(t *testing.T) {
	ctx := context.Background()
	store := objstore.NewMemory()
	k := Key{Model: "m", Stimuli: "s", Layer: "L001.Conv", Preprocess: "p", Reduction: "r"}
	const rows, cols = 6, 5
	data := make([]float32, rows*cols)
	for i := range data {
		data[i] = float32(math.Sin(float64(i))) * 1e3
	}
	data[7] = float32(math.Copysign(0, -1))
	blob := encode(rows, cols, data)
	put := func(b []byte) {
		t.Helper()
		if err := store.Put(ctx, k.String(), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	put(blob)
	r, c, got, err := Load(ctx, store, k)
	if err != nil || r != rows || c != cols {
		t.Fatalf("intact entry: %d×%d, %v", r, c, err)
	}
	for i := range data {
		if math.Float32bits(got[i]) != math.Float32bits(data[i]) {
			t.Fatalf("value %d read back as %v, stored %v", i, got[i], data[i])
		}
	}

	flip := func(at int) []byte { b := bytes.Clone(blob); b[at] ^= 0x10; return b }
	damaged := map[string][]byte{
		"a float's bit":      flip(headerSize + 4*13 + 2),
		"the row count":      flip(4),
		"the checksum":       flip(13),
		"the magic":          flip(1),
		"truncated":          blob[:len(blob)-4],
		"empty":              {},
		"40% of the payload": func() []byte { b := bytes.Clone(blob); copy(b[headerSize:], make([]byte, 4*rows*cols*4/10)); return b }(),
	}
	for name, b := range damaged {
		put(b)
		_, _, _, err := Load(ctx, store, k)
		if !objstore.IsCorrupt(err) || !Untrusted(err) || !strings.Contains(err.Error(), k.String()) {
			t.Errorf("%s: %v, want a corrupt-entry error naming %s", name, err, k.String())
		}
	}

	// Format 1, as stored before checksums: unverified, not corrupt.
	v1 := make([]byte, 12+4*rows*cols)
	copy(v1, magicV1)
	binary.LittleEndian.PutUint32(v1[4:], rows)
	binary.LittleEndian.PutUint32(v1[8:], cols)
	copy(v1[12:], blob[headerSize:])
	put(v1)
	if _, _, _, err := Load(ctx, store, k); !errors.Is(err, ErrUnverified) || !Untrusted(err) || objstore.IsCorrupt(err) {
		t.Errorf("format 1 entry: %v, want ErrUnverified", err)
	}
	if _, _, _, err := Load(ctx, store, Key{Model: "other", Stimuli: "s", Layer: "none"}); !models.IsNotFound(err) || Untrusted(err) {
		t.Errorf("missing entry: %v, want not found", err)
	}
}

// BenchmarkLoad is the cost of reading a cached layer back, checksum
// included: 100 MB of float32 (the size of a large cached stimulus set).
func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	store := &models.MemStore{}
	k := Key{Model: "m", Stimuli: "s", Layer: "L", Preprocess: "p", Reduction: "r"}
	const rows, cols = 1000, 25000
	blob := encode(rows, cols, make([]float32, rows*cols))
	if err := store.Put(ctx, k.String(), bytes.NewReader(blob)); err != nil {
		b.Fatal(err)
	}
	b.Run("Load", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			if _, _, _, err := Load(ctx, store, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("checksum", func(b *testing.B) {
		b.SetBytes(int64(len(blob)))
		for b.Loop() {
			checksum(blob)
		}
	})
}
