package embedded_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cortexbench/cortexbench/internal/faulttest"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/s3"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// leaveFree shrinks the filler at path so that about free bytes of the
// file system at dir stay available.
func leaveFree(t *testing.T, dir, path string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * st.Bsize
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, max(fi.Size()+avail-free, 0)); err != nil {
		t.Fatal(err)
	}
}

// A full disk under the embedded store (issue 15, finding 5), on a real
// tmpfs: single and multipart puts, conditional creates and overwrites
// are answered 507 InsufficientStorage, which the S3 adapter reports as
// objstore.ErrInsufficientStorage (and ENOSPC); nothing partial becomes
// visible, an overwritten object keeps its old bytes, the log names the
// object and the file, and the store works again once space is freed.
func TestFullDisk(t *testing.T) {
	mnt := faulttest.Tmpfs(t, "32m")
	var logs lockedBuffer
	cfg := embedded.Config{Dir: filepath.Join(mnt, "store"), PartSize: s3.MinPartSize,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	b, srv, err := embedded.Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(t.Context()) })
	ctx := t.Context()
	if err := b.Put(ctx, "keep/a", strings.NewReader("old bytes")); err != nil {
		t.Fatal(err)
	}
	filler := faulttest.Fill(t, filepath.Join(mnt, "filler"))

	small := bytes.Repeat([]byte("m"), 1<<20)
	big := bytes.Repeat([]byte("M"), 11<<20) // three parts of 5 MiB at most
	full := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s on a full disk: no error", what)
		}
		if !objstore.IsInsufficientStorage(err) || !errors.Is(err, objstore.ErrInsufficientStorage) || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s: %v is not insufficient storage", what, err)
		}
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusInsufficientStorage || !strings.Contains(err.Error(), "InsufficientStorage") {
			t.Errorf("%s: want HTTP 507 InsufficientStorage, got %v", what, err)
		}
	}
	full("put", b.Put(ctx, "new/small", bytes.NewReader(small)))
	full("put if absent", b.PutIfAbsent(ctx, "new/cond", bytes.NewReader(small)))
	full("overwrite", b.Put(ctx, "keep/a", bytes.NewReader(small)))
	full("multipart put", b.Put(ctx, "new/big", bytes.NewReader(big)))
	// Room for the parts but not for the assembled object: completion fails.
	leaveFree(t, mnt, filler, 13<<20)
	full("multipart completion", b.Put(ctx, "new/big", bytes.NewReader(big)))

	all, err := objstore.ListAll(ctx, b, "")
	if err != nil || len(all) != 1 || all[0].Key != "keep/a" {
		t.Errorf("after the failed writes the bucket lists %+v (%v), want only keep/a", all, err)
	}
	if got := get(t, b, "keep/a"); got != "old bytes" {
		t.Errorf("overwritten object reads %q, want its old bytes", got)
	}
	// The server's own temporary folder stays (until Close); nothing in it.
	var left []string
	filepath.WalkDir(filepath.Join(cfg.Dir, ".tmp"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	log := logs.String()
	for _, want := range []string{"out of disk space", "object=cortexbench/new/small", "object=cortexbench/new/big", filepath.Join(cfg.Dir, ".tmp"), "no space left on device"} {
		if !strings.Contains(log, want) {
			t.Errorf("log does not name %q:\n%s", want, log)
		}
	}

	// Space freed: everything works again, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "new/big", bytes.NewReader(big)); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "keep/a", strings.NewReader("new bytes")); err != nil {
		t.Fatal(err)
	}
	if got := get(t, b, "new/big"); got != string(big) {
		t.Errorf("new/big reads %d bytes, want %d", len(got), len(big))
	}
	if got := get(t, b, "keep/a"); got != "new bytes" {
		t.Errorf("keep/a reads %q", got)
	}
}

func get(t *testing.T, b objstore.BucketReader, key string) string {
	t.Helper()
	rc, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
