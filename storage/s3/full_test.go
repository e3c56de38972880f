package s3_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/s3"
)

// A server whose disk is full (issue 15, finding 5) answers 507: the
// embedded endpoint with InsufficientStorage, MinIO with
// XMinioStorageFull. The adapter reports objstore.ErrInsufficientStorage
// (which is also ENOSPC) and does not retry: more attempts cannot help.
// The embedded endpoint on a real full disk is tested in storage/embedded.
func TestInsufficientStorage(t *testing.T) {
	for _, code := range []string{"InsufficientStorage", "XMinioStorageFull"} {
		t.Run(code, func(t *testing.T) {
			var puts atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				if r.Method == http.MethodPut {
					puts.Add(1)
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusInsufficientStorage)
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>disk full</Message></Error>`)
			}))
			defer srv.Close()
			b, err := s3.New(t.Context(), s3.Config{Endpoint: srv.URL, Bucket: "b", PathStyle: true, AccessKey: "a", SecretKey: "secret-secret-secret"})
			if err != nil {
				t.Fatal(err)
			}
			for name, put := range map[string]func() error{
				"put":           func() error { return b.Put(t.Context(), "k", strings.NewReader("v")) },
				"put if absent": func() error { return b.PutIfAbsent(t.Context(), "k", strings.NewReader("v")) },
			} {
				puts.Store(0)
				err := put()
				if !objstore.IsInsufficientStorage(err) || !errors.Is(err, objstore.ErrInsufficientStorage) || !errors.Is(err, syscall.ENOSPC) {
					t.Errorf("%s: %v is not insufficient storage", name, err)
				}
				if objstore.IsNotFound(err) || objstore.IsExists(err) {
					t.Errorf("%s: %v also reads as another sentinel", name, err)
				}
				if n := puts.Load(); n != 1 {
					t.Errorf("%s: %d PUT attempts, want 1 (no retry on a full disk)", name, n)
				}
			}
		})
	}
}
