package objstore_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

func TestVerifiedGet(t *testing.T) {
	ctx := context.Background()
	b := objstore.NewMemory()
	data := bytes.Repeat([]byte("cortexbench "), 10000)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	key := "blobs/sha256/" + want
	put := func(p []byte) {
		t.Helper()
		if err := b.Put(ctx, key, bytes.NewReader(p)); err != nil {
			t.Fatal(err)
		}
	}
	read := func(size int64) ([]byte, error) {
		t.Helper()
		rc, err := objstore.VerifiedGet(ctx, b, key, want, size)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		return io.ReadAll(rc)
	}

	put(data)
	for _, size := range []int64{-1, int64(len(data))} {
		got, err := read(size)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("intact object (size %d): %d bytes, %v", size, len(got), err)
		}
	}

	flipped := bytes.Clone(data)
	flipped[len(flipped)/2] ^= 0x01
	cases := []struct {
		name   string
		stored []byte
		size   int64
		says   string
	}{
		{"one bit flipped", flipped, -1, "hashes to sha256"},
		{"one bit flipped, size known", flipped, int64(len(data)), "hashes to sha256"},
		{"truncated", data[:len(data)-1], int64(len(data)), "stored with"},
		{"truncated, size unknown", data[:len(data)-1], -1, "hashes to sha256"},
		{"appended", append(bytes.Clone(data), 'x'), int64(len(data)), "more than"},
	}
	for _, c := range cases {
		put(c.stored)
		_, err := read(c.size)
		if !objstore.IsCorrupt(err) || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: got %v, want a corrupt-object error naming %s and saying %q", c.name, err, key, c.says)
		}
	}
	if _, err := objstore.VerifiedGet(ctx, b, "blobs/none", want, -1); !objstore.IsNotFound(err) {
		t.Errorf("missing object: %v, want not found", err)
	}
}

// A reader that returns the last bytes together with io.EOF is verified
// on those bytes too.
func TestVerifySHA256DataWithEOF(t *testing.T) {
	data := []byte("abcdefgh")
	sum := sha256.Sum256(data)
	for _, r := range []io.Reader{iotest.DataErrReader(bytes.NewReader(data)), iotest.OneByteReader(bytes.NewReader(data))} {
		got, err := io.ReadAll(objstore.VerifySHA256(io.NopCloser(r), "k", hex.EncodeToString(sum[:]), 8))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("got %q, %v", got, err)
		}
	}
	bad := []byte("abcdefgX")
	if _, err := io.ReadAll(objstore.VerifySHA256(io.NopCloser(iotest.DataErrReader(bytes.NewReader(bad))), "k", hex.EncodeToString(sum[:]), 8)); !objstore.IsCorrupt(err) {
		t.Errorf("altered last byte: %v, want corrupt", err)
	}
}
