package s3_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/objstore/objstoretest"
	"github.com/cortexbench/cortexbench/storage/s3"
)

func TestConfigValidate(t *testing.T) {
	ok := s3.Config{Bucket: "b"}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(defaults) = %v", err)
	}
	if ok.Region != s3.DefaultRegion || ok.MaxRetries != s3.DefaultMaxRetries || ok.PartSize != s3.DefaultPartSize {
		t.Errorf("WithDefaults = %+v", ok)
	}
	bad := map[string]s3.Config{
		"no bucket":        {},
		"bad endpoint":     {Bucket: "b", Endpoint: "127.0.0.1:9000"},
		"half creds":       {Bucket: "b", AccessKey: "a"},
		"small parts":      {Bucket: "b", PartSize: 1 << 20},
		"negative retries": {Bucket: "b", MaxRetries: -2},
	}
	for name, cfg := range bad {
		if err := cfg.WithDefaults().Validate(); err == nil {
			t.Errorf("%s: Validate accepted %+v", name, cfg)
		}
	}
}

// versitygw finds the versitygw binary that scripts/setup.sh installs into
// third_party/bin, or one on PATH.
func versitygw(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "third_party", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	t.Skip("versitygw not installed: run scripts/setup.sh (installs it into third_party/bin) to test against a real S3 server")
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startVersitygw runs versitygw in posix mode over a temporary folder on a
// free loopback port and returns its endpoint. It checks request signatures,
// so the adapter's signing is exercised.
func startVersitygw(t *testing.T, accessKey, secretKey string) string {
	t.Helper()
	bin := versitygw(t)
	root, sidecar := t.TempDir(), t.TempDir()
	addr := freePort(t)
	var out bytes.Buffer
	// The sidecar keeps metadata out of extended attributes, which not
	// every temporary file system supports.
	cmd := exec.Command(bin, "--port", addr, "--access", accessKey, "--secret", secretKey, "--quiet",
		"posix", "--sidecar", sidecar, root)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	endpoint := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("versitygw exited: %v\n%s", err, out.String())
		default:
		}
		if resp, err := http.Get(endpoint); err == nil {
			resp.Body.Close()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s within 20s\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestVersitygw(t *testing.T) {
	const access, secret = "cortexbench-test", "cortexbench-test-secret"
	endpoint := startVersitygw(t, access, secret)
	var n atomic.Int64
	newBucket := func(t *testing.T, secretKey string) *s3.Bucket {
		b, err := s3.New(t.Context(), s3.Config{
			Endpoint:  endpoint,
			Bucket:    fmt.Sprintf("conformance-%d", n.Add(1)),
			PathStyle: true,
			AccessKey: access,
			SecretKey: secretKey,
			PartSize:  s3.MinPartSize,
		})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	t.Run("Conformance", func(t *testing.T) {
		objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
			b := newBucket(t, secret)
			if err := b.CreateBucket(t.Context()); err != nil {
				t.Fatal(err)
			}
			return b
		})
	})

	t.Run("Multipart", func(t *testing.T) {
		b := newBucket(t, secret)
		if err := b.CreateBucket(t.Context()); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("0123456789abcdef"), objstoretest.LargeObjectSize/16)
		if err := b.Put(t.Context(), "big", bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		attrs, err := b.Attributes(t.Context(), "big")
		if err != nil {
			t.Fatal(err)
		}
		// A multipart ETag is "<md5 of part md5s>-<number of parts>".
		if !strings.HasSuffix(attrs.ETag, `-3"`) {
			t.Errorf("ETag %s: want a 3-part multipart upload", attrs.ETag)
		}
	})

	t.Run("WrongSecret", func(t *testing.T) {
		b := newBucket(t, "not-the-secret")
		_, err := b.Get(t.Context(), "anything")
		if err == nil || objstore.IsNotFound(err) {
			t.Fatalf("Get with a wrong secret = %v, want a signature error", err)
		}
		if errors.Is(err, objstore.ErrInvalidArgument) {
			t.Errorf("signature error mapped to ErrInvalidArgument: %v", err)
		}
	})
}

// TestRetries: a server that answers 503 twice before succeeding is
// retried through with the default MaxRetries, and not without retries.
func TestRetries(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%3 != 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Length", "5")
		w.Write([]byte("hello"))
	}))
	defer srv.Close()
	get := func(maxRetries int) error {
		b, err := s3.New(t.Context(), s3.Config{Endpoint: srv.URL, Bucket: "b", PathStyle: true,
			AccessKey: "a", SecretKey: "s", MaxRetries: maxRetries})
		if err != nil {
			t.Fatal(err)
		}
		rc, err := b.Get(t.Context(), "k")
		if err == nil {
			rc.Close()
		}
		return err
	}
	calls.Store(0)
	if err := get(0); err != nil {
		t.Errorf("with default retries: %v", err)
	}
	calls.Store(0)
	if err := get(-1); err == nil {
		t.Error("without retries a 503 succeeded")
	}
}

// TestPutIfAbsentConflictRetried: AWS's 409 ConditionalRequestConflict
// (a competing conditional write in flight) is retried, and the retry's 412
// becomes ErrExists.
func TestPutIfAbsentConflictRetried(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") != "*" {
			t.Errorf("PutIfAbsent sent If-None-Match %q", r.Header.Get("If-None-Match"))
		}
		status, code := http.StatusPreconditionFailed, "PreconditionFailed"
		if calls.Add(1) == 1 {
			status, code = http.StatusConflict, "ConditionalRequestConflict"
		}
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>x</Message></Error>", code)
	}))
	defer srv.Close()
	b, err := s3.New(t.Context(), s3.Config{Endpoint: srv.URL, Bucket: "b", PathStyle: true, AccessKey: "a", SecretKey: "s"})
	if err != nil {
		t.Fatal(err)
	}
	err = b.PutIfAbsent(t.Context(), "k", strings.NewReader("body"))
	if !objstore.IsExists(err) || calls.Load() != 2 {
		t.Errorf("PutIfAbsent = %v after %d calls; want ErrExists after 2", err, calls.Load())
	}
}
