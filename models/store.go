package models

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// ErrNotFound is returned (wrapped) by a BlobStore for a missing key. It
// is the object store's sentinel, so storage/objstore buckets (in-memory,
// S3) satisfy BlobStore as they are.
var ErrNotFound = objstore.ErrNotFound

// IsNotFound reports whether err means a missing key.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// BlobStore is the storage the models side needs: whole objects by key.
// Keys are slash-separated relative paths. Every objstore.Bucket (the
// S3 adapter, objstore.Memory) satisfies it; DirStore is a plain folder for
// the CLI's registry, MemStore a minimal in-memory version.
type BlobStore interface {
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Put(ctx context.Context, key string, r io.Reader) error
}

func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.Contains(key, "\\") {
		return fmt.Errorf("bad key %q", key)
	}
	for _, p := range strings.Split(key, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("bad key %q", key)
		}
	}
	return nil
}

// DirStore keeps objects as files under Dir.
type DirStore struct{ Dir string }

// Get opens the object at key.
func (s DirStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(s.Dir, filepath.FromSlash(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return f, err
}

// Put writes the object at key atomically (temp file, then rename).
func (s DirStore) Put(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return err
	}
	path := filepath.Join(s.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".put-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// MemStore is an in-memory BlobStore for tests.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Get returns the object at key.
func (s *MemStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// Put stores the object at key.
func (s *MemStore) Put(ctx context.Context, key string, r io.Reader) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = b
	return nil
}

// Len is the number of objects.
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
