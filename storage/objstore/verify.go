package objstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrCorrupt: a stored object's bytes do not match the checksum it was
// stored with (its content hash, or a checksum kept beside the data). The
// wrapping message names the object. Callers add what to do about it.
var ErrCorrupt = errors.New("stored copy is corrupt")

// IsCorrupt reports whether err means a stored object failed its check.
func IsCorrupt(err error) bool { return errors.Is(err, ErrCorrupt) }

// Corrupt returns an error satisfying IsCorrupt that names the object key
// and says why its bytes cannot be trusted.
func Corrupt(key, format string, args ...any) error {
	return fmt.Errorf("object %s: %w: %s", key, ErrCorrupt, fmt.Sprintf(format, args...))
}

// Getter is the one method VerifiedGet needs (every BucketReader has it).
type Getter interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
}

// VerifiedGet opens the content-addressed object key, whose content must
// hash to wantSHA256 (lowercase hex), and checks it while it is read: the
// read that reaches the end returns an error satisfying IsCorrupt instead
// of io.EOF when the bytes differ. size, when not negative, is the length
// the object must have; a longer object fails as soon as it passes it.
//
// Only a reader that reads to EOF is protected: read the whole object
// (io.ReadAll) before trusting any of it.
func VerifiedGet(ctx context.Context, b Getter, key, wantSHA256 string, size int64) (io.ReadCloser, error) {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return VerifySHA256(rc, key, wantSHA256, size), nil
}

// VerifySHA256 wraps rc, the content of object key, as VerifiedGet does.
func VerifySHA256(rc io.ReadCloser, key, wantSHA256 string, size int64) io.ReadCloser {
	return &verifyingReader{rc: rc, key: key, want: wantSHA256, size: size, h: sha256.New()}
}

type verifyingReader struct {
	rc   io.ReadCloser
	key  string
	want string
	size int64 // < 0: unknown
	h    hash.Hash
	n    int64
	err  error // sticky verdict once the end is reached or passed
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		v.err = Corrupt(v.key, "it holds more than the %d bytes it was stored with; its content hash cannot match", v.size)
		return 0, v.err
	}
	if errors.Is(err, io.EOF) {
		got := hex.EncodeToString(v.h.Sum(nil))
		switch {
		case v.size >= 0 && v.n != v.size:
			v.err = Corrupt(v.key, "%d bytes, stored with %d", v.n, v.size)
		case got != v.want:
			v.err = Corrupt(v.key, "its content hashes to sha256 %s, the key says %s", got, v.want)
		default:
			v.err = io.EOF
		}
		if v.err != io.EOF {
			return 0, v.err
		}
	}
	return n, err
}

func (v *verifyingReader) Close() error { return v.rc.Close() }
