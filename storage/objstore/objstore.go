// Package objstore defines the small object-storage contract the rest of
// cortexbench programs against (models, benchmark data, cached activations,
// score records, published snapshots), its sentinel errors, key rules, and an
// in-memory implementation for tests.
//
// The read side (BucketReader) is split from the read-write side (Bucket) so
// that code which only serves or scores can be handed a reader. Every method
// takes a context first. Adapters live in packages named after their
// technology (storage/s3); the conformance suite every adapter must pass is
// storage/objstore/objstoretest.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Sentinel errors. Adapters wrap them with %w; test with errors.Is or the
// Is* helpers.
var (
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrExists: a conditional create found the object already there.
	ErrExists = errors.New("object already exists")
	// ErrInvalidArgument: the caller passed a bad key, a nil reader or bad
	// list options. The wrapping message says what was wrong.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInsufficientStorage: the server ran out of space (or quota)
	// storing the object, and kept nothing of it. It wraps syscall.ENOSPC,
	// so errors.Is(err, syscall.ENOSPC) holds on either side of an S3
	// connection; IsInsufficientStorage also accepts EDQUOT.
	ErrInsufficientStorage = fmt.Errorf("insufficient storage: %w", syscall.ENOSPC)
)

// IsInsufficientStorage reports whether err means the store (a local disk
// or an S3 server) is out of space or quota.
func IsInsufficientStorage(err error) bool {
	return errors.Is(err, ErrInsufficientStorage) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// IsNotFound reports whether err means the object does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsExists reports whether err means a conditional create lost to an
// existing object.
func IsExists(err error) bool { return errors.Is(err, ErrExists) }

// MaxKeyLen is the longest key accepted, in bytes (S3's limit).
const MaxKeyLen = 1024

// MaxPageSize is the largest page List returns (S3's limit).
const MaxPageSize = 1000

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key          string
	Size         int64
	LastModified time.Time
	// ETag is opaque: an MD5 of the content for single-part uploads on most
	// servers, something else for multipart uploads. Compare it only for
	// equality.
	ETag string
}

// ListOptions selects one page of a listing.
type ListOptions struct {
	// Prefix restricts the listing to keys that start with it (a plain
	// string prefix: "runs/" and "runs" differ).
	Prefix string
	// After is the exclusive lower bound: the listing starts with the first
	// key greater than After. Pass the previous page's Next to continue.
	After string
	// Limit is the largest page returned; 0 means MaxPageSize. Servers may
	// return fewer objects than Limit even when more remain: keep going while
	// Next is not empty.
	Limit int
}

// ListPage is one page of a listing, keys in ascending byte order.
type ListPage struct {
	Objects []ObjectInfo
	// Next is the After of the following page; empty when this was the last.
	Next string
}

// BucketReader is the read side of a bucket.
type BucketReader interface {
	// Get opens the object for reading; the caller closes it. A missing
	// object gives an error satisfying IsNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Attributes returns the object's size, modification time and ETag.
	Attributes(ctx context.Context, key string) (ObjectInfo, error)
	// Exists reports whether the object exists; a missing object is not an
	// error.
	Exists(ctx context.Context, key string) (bool, error)
	// List returns one page of the objects whose keys start with
	// opts.Prefix. Use ListAll to walk every page.
	List(ctx context.Context, opts ListOptions) (ListPage, error)
}

// Bucket is a bucket that can be written.
type Bucket interface {
	BucketReader
	// Put stores the object, replacing any previous content. r is read to
	// EOF; large bodies are uploaded in parts.
	Put(ctx context.Context, key string, r io.Reader) error
	// PutIfAbsent stores the object only when no object has the key, and
	// otherwise returns an error satisfying IsExists and leaves the existing
	// object untouched. Whether this is atomic against concurrent writers
	// depends on the server; see the adapter's documentation.
	PutIfAbsent(ctx context.Context, key string, r io.Reader) error
	// Delete removes the object. Deleting a missing object is not an error
	// (S3 cannot tell the two apart without a second request).
	Delete(ctx context.Context, key string) error
}

// ValidateKey checks a key against the rules every backend accepts: not
// empty, at most MaxKeyLen bytes of valid UTF-8 without control characters,
// and '/'-separated segments that are neither empty nor "." or ".." (so the
// key maps onto a folder on file-system-backed servers). The error wraps
// ErrInvalidArgument and says how to fix the key.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: key is empty", ErrInvalidArgument)
	case len(key) > MaxKeyLen:
		return fmt.Errorf("%w: key is %d bytes long, the limit is %d", ErrInvalidArgument, len(key), MaxKeyLen)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: key %q is not valid UTF-8", ErrInvalidArgument, key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: key %q contains control character %U", ErrInvalidArgument, key, r)
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: key %q has an empty segment (leading, trailing or double '/')", ErrInvalidArgument, key)
		case ".", "..":
			return fmt.Errorf("%w: key %q has a %q segment", ErrInvalidArgument, key, seg)
		}
	}
	return nil
}

// ValidateListOptions checks list options and returns them with the
// default limit filled in.
func ValidateListOptions(opts ListOptions) (ListOptions, error) {
	if opts.Limit < 0 || opts.Limit > MaxPageSize {
		return opts, fmt.Errorf("%w: list limit %d is outside [0, %d]", ErrInvalidArgument, opts.Limit, MaxPageSize)
	}
	if opts.Limit == 0 {
		opts.Limit = MaxPageSize
	}
	if len(opts.Prefix) > MaxKeyLen || !utf8.ValidString(opts.Prefix) {
		return opts, fmt.Errorf("%w: list prefix must be valid UTF-8 of at most %d bytes", ErrInvalidArgument, MaxKeyLen)
	}
	return opts, nil
}

// ListAll walks every page under prefix and returns all objects in key
// order.
func ListAll(ctx context.Context, b BucketReader, prefix string) ([]ObjectInfo, error) {
	var all []ObjectInfo
	opts := ListOptions{Prefix: prefix}
	for {
		page, err := b.List(ctx, opts)
		if err != nil {
			return all, err
		}
		all = append(all, page.Objects...)
		if page.Next == "" {
			return all, nil
		}
		if page.Next <= opts.After {
			return all, fmt.Errorf("list %q: page token did not advance past %q", prefix, opts.After)
		}
		opts.After = page.Next
	}
}

// CheckPut validates a key and a reader and checks the context: the
// argument checks every adapter runs before touching the network.
func CheckPut(ctx context.Context, key string, r io.Reader) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: nil reader for key %q", ErrInvalidArgument, key)
	}
	return ctx.Err()
}
