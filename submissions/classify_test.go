package submissions_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/registry"
	"github.com/cortexbench/cortexbench/storage/s3"
	"github.com/cortexbench/cortexbench/submissions"
)

// Platform failures are never the model's (issue 15, finding 2): each
// error here is a real value as the platform meets it, wrapped the way
// the scorer wraps it (some even inside scoring's bad-model sentinel, as
// the runner wraps anything that happens while extracting), and must be
// classified as a platform problem that is retried, while the model's own
// errors stay bad model.
func TestClassifyPlatformErrors(t *testing.T) {
	ctx := t.Context()
	// A full disk: /dev/full answers every write with ENOSPC.
	_, enospc := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if enospc == nil {
		f, _ := os.OpenFile("/dev/full", os.O_WRONLY, 0)
		_, enospc = f.Write(make([]byte, 4096))
		f.Close()
	}
	if !errors.Is(enospc, syscall.ENOSPC) {
		t.Fatalf("writing /dev/full gave %v, want ENOSPC", enospc)
	}
	// A PostgreSQL server that is down: nothing listens on the port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	_, pgDown := pgconn.Connect(ctx, fmt.Sprintf("postgres://u:p@%s:%s/db?sslmode=disable&connect_timeout=2", host, port))
	if pgDown == nil {
		t.Fatal("connected to a closed port")
	}
	// The database's own deadline inside a live job: a statement on a
	// context that expired while the job's context is alive.
	reg, err := registry.Open(ctx, registry.Config{SQLitePath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dbctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-dbctx.Done()
	_, dbDeadline := reg.GetSubmission(dbctx, "s1")
	if !errors.Is(dbDeadline, context.DeadlineExceeded) {
		t.Fatalf("statement on an expired context: %v", dbDeadline)
	}
	// A stored object that fails its checksum, and one that is missing.
	store := objstore.NewMemory()
	_, missing := store.Get(ctx, "activations/absent")

	// The activation cache in an S3 store whose disk is full: the
	// endpoint answers 507, as a real S3 client sees it.
	full := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusInsufficientStorage)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InsufficientStorage</Code><Message>no space left on device</Message></Error>`)
	}))
	defer full.Close()
	s3b, err := s3.New(ctx, s3.Config{Endpoint: full.URL, Bucket: "cortexbench", PathStyle: true, AccessKey: "k", SecretKey: "s", MaxRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	s3Full := s3b.Put(ctx, "activations/x", strings.NewReader("layer"))
	if s3Full == nil {
		t.Fatal("put to a full store succeeded")
	}

	at := submissions.Attempt{Number: 1, Max: 5, Timeout: time.Hour}
	for _, tc := range []struct {
		name  string
		err   error
		cause string
	}{
		{"disk full while caching activations", fmt.Errorf("%w: extract 3 layers, pass 1 of 1: cache layer conv1: %w", submissions.ErrBadModel, enospc), "disk"},
		{"PostgreSQL down at the commit", fmt.Errorf("begin: %w", pgDown), "unreachable"},
		{"PostgreSQL shut down by its administrator", fmt.Errorf("put score: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}), "database"},
		{"the database's deadline", fmt.Errorf("start attempt: %w", dbDeadline), "timed out"},
		{"a corrupt stored object", fmt.Errorf("%w: extract: read stimuli: %w", submissions.ErrBadModel, fmt.Errorf("stimuli/x: %w", objstore.ErrCorrupt)), "checksum"},
		{"a missing stored object", fmt.Errorf("open model: %w", missing), "missing"},
		{"the S3 store's disk full while caching activations", fmt.Errorf("%w: extract 3 layers, pass 1 of 1: cache conv1: %w", submissions.ErrBadModel, s3Full), "disk"},
	} {
		class, msg, permanent := submissions.Classify(ctx, tc.err, at)
		if class != submissions.ClassInternal || permanent || !submissions.Transient(tc.err) {
			t.Errorf("%s (%v): class %q, permanent %v; want a platform problem that is retried", tc.name, tc.err, class, permanent)
		}
		if cause := submissions.PlatformCause(tc.err); !strings.Contains(cause, tc.cause) {
			t.Errorf("%s: cause %q, want it to mention %q", tc.name, cause, tc.cause)
		}
		if !strings.Contains(msg, "not a problem with your model") {
			t.Errorf("%s: message %q", tc.name, msg)
		}
	}
	// The model's own errors stay the model's.
	for _, err := range []error{
		fmt.Errorf("%w: layer conv1, stimulus 3: activation 7 is NaN", submissions.ErrBadModel),
		fmt.Errorf("load: %w: node 3 has no weights", submissions.ErrBadModel),
	} {
		if class, _, permanent := submissions.Classify(ctx, err, at); class != submissions.ClassBadModel || !permanent {
			t.Errorf("%v: class %q, permanent %v; want bad model", err, class, permanent)
		}
	}
	// The job's own deadline is a timeout; the same error while the job's
	// context is alive is the platform's.
	jctx, jcancel := context.WithTimeout(ctx, time.Nanosecond)
	defer jcancel()
	<-jctx.Done()
	if class, _, _ := submissions.Classify(jctx, fmt.Errorf("extract: %w", jctx.Err()), at); class != submissions.ClassTimeout {
		t.Errorf("job deadline: class %q, want timeout", class)
	}
}
