package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Memory is an in-memory Bucket for tests. It is safe for concurrent use and
// its PutIfAbsent is atomic.
type Memory struct {
	mu      sync.RWMutex
	objects map[string]memObject
}

type memObject struct {
	data    []byte
	modTime time.Time
	etag    string
}

var _ Bucket = (*Memory)(nil)

// NewMemory returns an empty in-memory bucket.
func NewMemory() *Memory { return &Memory{objects: map[string]memObject{}} }

func (m *Memory) lookup(ctx context.Context, key string) (memObject, error) {
	if err := ValidateKey(key); err != nil {
		return memObject{}, err
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	m.mu.RLock()
	o, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return o, nil
}

// Get implements BucketReader.
func (m *Memory) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	o, err := m.lookup(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Attributes implements BucketReader.
func (m *Memory) Attributes(ctx context.Context, key string) (ObjectInfo, error) {
	o, err := m.lookup(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("attributes of %s: %w", key, err)
	}
	return ObjectInfo{Key: key, Size: int64(len(o.data)), LastModified: o.modTime, ETag: o.etag}, nil
}

// Exists implements BucketReader.
func (m *Memory) Exists(ctx context.Context, key string) (bool, error) {
	_, err := m.lookup(ctx, key)
	if IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("exists %s: %w", key, err)
	}
	return true, nil
}

// List implements BucketReader.
func (m *Memory) List(ctx context.Context, opts ListOptions) (ListPage, error) {
	opts, err := ValidateListOptions(opts)
	if err != nil {
		return ListPage{}, fmt.Errorf("list %q: %w", opts.Prefix, err)
	}
	if err := ctx.Err(); err != nil {
		return ListPage{}, fmt.Errorf("list %q: %w", opts.Prefix, err)
	}
	m.mu.RLock()
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		if strings.HasPrefix(k, opts.Prefix) && k > opts.After {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var page ListPage
	for i, k := range keys {
		if i == opts.Limit {
			page.Next = keys[i-1]
			break
		}
		o := m.objects[k]
		page.Objects = append(page.Objects, ObjectInfo{Key: k, Size: int64(len(o.data)), LastModified: o.modTime, ETag: o.etag})
	}
	m.mu.RUnlock()
	return page, nil
}

func (m *Memory) read(ctx context.Context, key string, r io.Reader) (memObject, error) {
	if err := CheckPut(ctx, key, r); err != nil {
		return memObject{}, err
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return memObject{}, fmt.Errorf("read body: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	sum := md5.Sum(data)
	return memObject{data: data, modTime: time.Now(), etag: `"` + hex.EncodeToString(sum[:]) + `"`}, nil
}

// Put implements Bucket.
func (m *Memory) Put(ctx context.Context, key string, r io.Reader) error {
	o, err := m.read(ctx, key, r)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.mu.Lock()
	m.objects[key] = o
	m.mu.Unlock()
	return nil
}

// PutIfAbsent implements Bucket; it is atomic.
func (m *Memory) PutIfAbsent(ctx context.Context, key string, r io.Reader) error {
	o, err := m.read(ctx, key, r)
	if err != nil {
		return fmt.Errorf("put %s if absent: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objects[key]; ok {
		return fmt.Errorf("put %s if absent: %w", key, ErrExists)
	}
	m.objects[key] = o
	return nil
}

// Delete implements Bucket.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	m.mu.Lock()
	delete(m.objects, key)
	m.mu.Unlock()
	return nil
}
