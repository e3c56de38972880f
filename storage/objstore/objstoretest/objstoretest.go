// Package objstoretest is the conformance suite every objstore.Bucket
// implementation runs, in the manner of testing/fstest: one suite, every
// backend, real servers included.
package objstoretest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cortexbench/cortexbench/storage/objstore"
)

// LargeObjectSize is the size of the object the suite uploads to exercise
// multipart uploads: a little over two parts at S3's minimum part size of
// 5 MiB, so an adapter configured with that part size sends three parts.
const LargeObjectSize = 2*5<<20 + 123_457

// Run runs the suite. newStore must return an empty bucket; it is called once
// per subtest, so each subtest starts empty.
func Run(t *testing.T, newStore func(t *testing.T) objstore.Bucket) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, b objstore.Bucket)
	}{
		{"PutGet", testPutGet},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"ListPrefixPagination", testList},
		{"PutIfAbsent", testPutIfAbsent},
		{"PutIfAbsentConcurrent", testPutIfAbsentConcurrent},
		{"LargeObject", testLargeObject},
		{"ConcurrentWriters", testConcurrentWriters},
		{"Keys", testKeys},
		{"BadInput", testBadInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func put(t *testing.T, b objstore.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.Put(t.Context(), key, bytes.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, b objstore.BucketReader, key string) []byte {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	return data
}

func testPutGet(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	want := []byte("hello, cortex")
	put(t, b, "a/hello.txt", want)
	if got := get(t, b, "a/hello.txt"); !bytes.Equal(got, want) {
		t.Fatalf("Get = %q, want %q", got, want)
	}
	attrs, err := b.Attributes(ctx, "a/hello.txt")
	if err != nil {
		t.Fatalf("Attributes: %v", err)
	}
	if attrs.Size != int64(len(want)) {
		t.Errorf("Attributes.Size = %d, want %d", attrs.Size, len(want))
	}
	if attrs.ETag == "" || attrs.LastModified.IsZero() {
		t.Errorf("Attributes = %+v, want an ETag and a modification time", attrs)
	}
	ok, err := b.Exists(ctx, "a/hello.txt")
	if err != nil || !ok {
		t.Errorf("Exists = %v, %v; want true, nil", ok, err)
	}
	// An empty object is an object.
	put(t, b, "empty", nil)
	if got := get(t, b, "empty"); len(got) != 0 {
		t.Errorf("Get(empty) = %d bytes, want 0", len(got))
	}
}

func testNotFound(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	put(t, b, "present", []byte("x"))
	if _, err := b.Get(ctx, "missing/key"); !objstore.IsNotFound(err) {
		t.Errorf("Get(missing) error = %v, want ErrNotFound", err)
	}
	if _, err := b.Attributes(ctx, "missing/key"); !objstore.IsNotFound(err) {
		t.Errorf("Attributes(missing) error = %v, want ErrNotFound", err)
	}
	if ok, err := b.Exists(ctx, "missing/key"); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v; want false, nil", ok, err)
	}
	// A prefix of an existing key is not an object.
	if _, err := b.Get(ctx, "pres"); !objstore.IsNotFound(err) {
		t.Errorf("Get(prefix of key) error = %v, want ErrNotFound", err)
	}
	page, err := b.List(ctx, objstore.ListOptions{Prefix: "nothing/"})
	if err != nil || len(page.Objects) != 0 || page.Next != "" {
		t.Errorf("List(empty prefix) = %+v, %v; want an empty last page", page, err)
	}
}

func testOverwrite(t *testing.T, b objstore.Bucket) {
	put(t, b, "o", []byte("first, longer content"))
	put(t, b, "o", []byte("second"))
	if got := get(t, b, "o"); string(got) != "second" {
		t.Fatalf("after overwrite Get = %q, want %q", got, "second")
	}
	attrs, err := b.Attributes(t.Context(), "o")
	if err != nil || attrs.Size != 6 {
		t.Fatalf("Attributes after overwrite = %+v, %v; want size 6", attrs, err)
	}
}

func testDelete(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	put(t, b, "d/x", []byte("x"))
	put(t, b, "d/y", []byte("y"))
	if err := b.Delete(ctx, "d/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(ctx, "d/x"); !objstore.IsNotFound(err) {
		t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
	}
	if got := get(t, b, "d/y"); string(got) != "y" {
		t.Errorf("sibling after Delete = %q, want %q", got, "y")
	}
	if err := b.Delete(ctx, "d/x"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
	all, err := objstore.ListAll(ctx, b, "d/")
	if err != nil || len(all) != 1 || all[0].Key != "d/y" {
		t.Errorf("ListAll after Delete = %v, %v; want [d/y]", all, err)
	}
}

func testList(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	var want []string
	for i := range 23 {
		k := fmt.Sprintf("runs/r%02d/score.json", i)
		want = append(want, k)
		put(t, b, k, []byte(k))
	}
	put(t, b, "runs-other/x", []byte("x"))
	put(t, b, "models/m.onnx", []byte("m"))

	// Walk page by page with a small limit.
	var got []string
	opts := objstore.ListOptions{Prefix: "runs/", Limit: 5}
	pages := 0
	for {
		page, err := b.List(ctx, opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		pages++
		if len(page.Objects) > 5 {
			t.Fatalf("page of %d objects, limit 5", len(page.Objects))
		}
		for _, o := range page.Objects {
			got = append(got, o.Key)
			if o.Size != int64(len(o.Key)) {
				t.Errorf("%s: size %d, want %d", o.Key, o.Size, len(o.Key))
			}
		}
		if page.Next == "" {
			break
		}
		if pages > 23 {
			t.Fatal("listing does not end")
		}
		opts.After = page.Next
	}
	if pages < 5 {
		t.Errorf("23 objects in %d pages of at most 5", pages)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged listing\n got %q\nwant %q", got, want)
	}

	all, err := objstore.ListAll(ctx, b, "")
	if err != nil || len(all) != 25 {
		t.Fatalf("ListAll(\"\") = %d objects, %v; want 25", len(all), err)
	}
	if !slices.IsSortedFunc(all, func(a, b objstore.ObjectInfo) int { return strings.Compare(a.Key, b.Key) }) {
		t.Error("ListAll is not in key order")
	}
	// A prefix need not end at a '/'.
	some, err := objstore.ListAll(ctx, b, "runs/r1")
	if err != nil || len(some) != 10 {
		t.Errorf("ListAll(runs/r1) = %d objects, %v; want 10", len(some), err)
	}
	// After in the middle of the keyspace.
	page, err := b.List(ctx, objstore.ListOptions{Prefix: "runs/", After: "runs/r20/score.json"})
	if err != nil || len(page.Objects) != 2 || page.Objects[0].Key != "runs/r21/score.json" {
		t.Errorf("List after r20 = %+v, %v; want r21 and r22", page.Objects, err)
	}
}

func testPutIfAbsent(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	if err := b.PutIfAbsent(ctx, "lock/a", strings.NewReader("first")); err != nil {
		t.Fatalf("PutIfAbsent(new): %v", err)
	}
	err := b.PutIfAbsent(ctx, "lock/a", strings.NewReader("second"))
	if !objstore.IsExists(err) {
		t.Fatalf("PutIfAbsent(existing) error = %v, want ErrExists", err)
	}
	if got := get(t, b, "lock/a"); string(got) != "first" {
		t.Errorf("after losing PutIfAbsent Get = %q, want %q", got, "first")
	}
	// After a delete the key is free again.
	if err := b.Delete(ctx, "lock/a"); err != nil {
		t.Fatal(err)
	}
	if err := b.PutIfAbsent(ctx, "lock/a", strings.NewReader("third")); err != nil {
		t.Fatalf("PutIfAbsent after Delete: %v", err)
	}
}

// testPutIfAbsentConcurrent requires the create to be atomic: of many racing
// writers exactly one wins.
func testPutIfAbsentConcurrent(t *testing.T, b objstore.Bucket) {
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			errs[i] = b.PutIfAbsent(t.Context(), "race/key", strings.NewReader(fmt.Sprintf("writer %d", i)))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both won the conditional create", winner, i)
		case err == nil:
			winner = i
		case !objstore.IsExists(err):
			t.Errorf("writer %d: %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won the conditional create")
	}
	if got := get(t, b, "race/key"); string(got) != fmt.Sprintf("writer %d", winner) {
		t.Errorf("stored %q, but writer %d won", got, winner)
	}
}

func testLargeObject(t *testing.T, b objstore.Bucket) {
	data := make([]byte, LargeObjectSize)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	// Hide the length and Seek so the adapter has to stream.
	r := struct{ io.Reader }{bytes.NewReader(data)}
	if err := b.Put(t.Context(), "big/blob.bin", r); err != nil {
		t.Fatalf("Put(large): %v", err)
	}
	got := get(t, b, "big/blob.bin")
	if len(got) != len(data) || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("large object round trip: got %d bytes, want %d identical bytes", len(got), len(data))
	}
	attrs, err := b.Attributes(t.Context(), "big/blob.bin")
	if err != nil || attrs.Size != int64(len(data)) {
		t.Errorf("Attributes(large) = %+v, %v; want size %d", attrs, err, len(data))
	}
}

func testConcurrentWriters(t *testing.T, b objstore.Bucket) {
	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			ctx := t.Context()
			own := fmt.Sprintf("conc/own/%d", i)
			if err := b.Put(ctx, own, strings.NewReader(own)); err != nil {
				t.Errorf("Put(%s): %v", own, err)
			}
			body := strings.Repeat(fmt.Sprintf("writer %d;", i), 1000)
			if err := b.Put(ctx, "conc/shared", strings.NewReader(body)); err != nil {
				t.Errorf("Put(shared) by %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range writers {
		own := fmt.Sprintf("conc/own/%d", i)
		if got := get(t, b, own); string(got) != own {
			t.Errorf("Get(%s) = %q", own, got)
		}
	}
	// The shared key holds exactly one writer's whole body, never a mix.
	shared := string(get(t, b, "conc/shared"))
	var who int
	if _, err := fmt.Sscanf(shared, "writer %d;", &who); err != nil || shared != strings.Repeat(fmt.Sprintf("writer %d;", who), 1000) {
		t.Errorf("shared key holds a torn write (%d bytes)", len(shared))
	}
}

func testKeys(t *testing.T, b objstore.Bucket) {
	keys := []string{
		"a/b/c/d/e.txt",
		"données/ümlaut ✓.bin",
		"脑/模型.onnx",
		"with space/and+plus&amp=eq?q#hash%25.txt",
		"trailing.dot.",
		strings.Repeat("k", 200) + "/" + strings.Repeat("v", 200),
	}
	for _, k := range keys {
		put(t, b, k, []byte("v:"+k))
	}
	for _, k := range keys {
		if got := get(t, b, k); string(got) != "v:"+k {
			t.Errorf("Get(%q) = %q", k, got)
		}
	}
	all, err := objstore.ListAll(t.Context(), b, "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range all {
		got = append(got, o.Key)
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ListAll\n got %q\nwant %q", got, want)
	}
}

func testBadInput(t *testing.T, b objstore.Bucket) {
	ctx := t.Context()
	bad := []string{"", strings.Repeat("x", objstore.MaxKeyLen+1), "/abs", "a//b", "dir/", "a/../b", "bad\x00nul", "\xff\xfe"}
	for _, k := range bad {
		if err := b.Put(ctx, k, strings.NewReader("x")); !errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("Put(%q) error = %v, want ErrInvalidArgument", k, err)
		}
		if _, err := b.Get(ctx, k); !errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("Get(%q) error = %v, want ErrInvalidArgument", k, err)
		}
	}
	if err := b.Put(ctx, "ok", nil); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Errorf("Put(nil reader) error = %v, want ErrInvalidArgument", err)
	}
	if err := b.PutIfAbsent(ctx, "ok", nil); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Errorf("PutIfAbsent(nil reader) error = %v, want ErrInvalidArgument", err)
	}
	if _, err := b.List(ctx, objstore.ListOptions{Limit: -1}); !errors.Is(err, objstore.ErrInvalidArgument) {
		t.Errorf("List(limit -1) error = %v, want ErrInvalidArgument", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Put(cctx, "ok", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if _, err := b.Get(cctx, "ok"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if _, err := b.List(cctx, objstore.ListOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List(cancelled ctx) error = %v, want context.Canceled", err)
	}
	if ok, _ := b.Exists(ctx, "ok"); ok {
		t.Error("a write with a cancelled context stored the object")
	}
}
