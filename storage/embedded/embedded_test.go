package embedded_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/objstore/objstoretest"
	"github.com/cortexbench/cortexbench/storage/s3"
)

func start(t *testing.T, cfg embedded.Config) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// TestConformance runs the objstore suite through the S3 adapter against the
// embedded endpoint, one fresh bucket per subtest.
func TestConformance(t *testing.T) {
	srv := start(t, embedded.Config{Dir: t.TempDir()})
	var n atomic.Int64
	objstoretest.Run(t, func(t *testing.T) objstore.Bucket {
		cfg := srv.S3Config()
		cfg.Bucket = fmt.Sprintf("conformance-%d", n.Add(1))
		cfg.PartSize = s3.MinPartSize
		b, err := s3.New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.CreateBucket(t.Context()); err != nil {
			t.Fatal(err)
		}
		return b
	})
}

func TestPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "runs/1/score.json", strings.NewReader(`{"raw":0.5}`)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// The object is a plain file in the folder.
	data, err := os.ReadFile(filepath.Join(dir, embedded.DefaultBucket, "runs", "1", "score.json"))
	if err != nil || string(data) != `{"raw":0.5}` {
		t.Fatalf("file on disk = %q, %v", data, err)
	}

	b, srv, err = embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	rc, err := b.Get(ctx, "runs/1/score.json")
	if err != nil {
		t.Fatalf("Get after restart: %v", err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if string(got) != `{"raw":0.5}` {
		t.Errorf("after restart Get = %q", got)
	}
	if err := b.PutIfAbsent(ctx, "runs/1/score.json", strings.NewReader("x")); !objstore.IsExists(err) {
		t.Errorf("PutIfAbsent after restart = %v, want ErrExists", err)
	}
}

// TestPlainHTTPClient reads a public object the way any S3 client does (an
// anonymous path-style GET), to show the public bucket is reachable without
// the adapter, and that the same GET of the private bucket is refused.
func TestPlainHTTPClient(t *testing.T) {
	ctx := t.Context()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	pub, err := srv.OpenPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, bk := range []*s3.Bucket{b, pub} {
		if err := bk.Put(ctx, "snapshots/latest.json", strings.NewReader(`[]`)); err != nil {
			t.Fatal(err)
		}
	}
	priv, err := http.Get(srv.Endpoint() + "/" + srv.Bucket() + "/snapshots/latest.json")
	if err != nil {
		t.Fatal(err)
	}
	priv.Body.Close()
	if priv.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET of the private bucket = %d, want 403", priv.StatusCode)
	}
	resp, err := http.Get(srv.PublicURL("snapshots/latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != `[]` {
		t.Errorf("GET = %d %q", resp.StatusCode, body)
	}
}

func TestKeyFolderConflict(t *testing.T) {
	ctx := t.Context()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	if err := b.Put(ctx, "a", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	err = b.Put(ctx, "a/b", strings.NewReader("y"))
	if err == nil || !strings.Contains(err.Error(), "conflicts") {
		t.Errorf("Put(a/b) over object a = %v, want a conflict error", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":9000", "example.com:80", "10.0.0.1:9000", "nonsense"} {
		cfg := embedded.Config{Addr: addr}.WithDefaults()
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate accepted non-loopback addr %q", addr)
		}
	}
	for _, addr := range []string{"127.0.0.1:0", "[::1]:9000"} {
		if err := (embedded.Config{Addr: addr}).WithDefaults().Validate(); err != nil {
			t.Errorf("Validate(%q) = %v", addr, err)
		}
	}
	if err := (embedded.Config{Bucket: "Bad_Bucket"}).WithDefaults().Validate(); err == nil {
		t.Error("Validate accepted an invalid bucket name")
	}
	if c := (embedded.Config{Bucket: "lab"}).WithDefaults(); c.PublicBucket != "lab-public" {
		t.Errorf("default public bucket %q, want lab-public", c.PublicBucket)
	}
	for _, c := range []embedded.Config{
		{Bucket: "same", PublicBucket: "same"},
		{PublicBucket: "Bad_Public"},
		{AccessKey: "only-the-access-key"},
		{AccessKey: "AK", SecretKey: "short"},
	} {
		if err := c.WithDefaults().Validate(); err == nil {
			t.Errorf("Validate accepted %+v", c)
		}
	}
}

// TestAWSCLI lists and copies an object with the AWS CLI when it is
// installed: the bucket is readable by any S3 client with the endpoint's
// credentials while the process runs.
func TestAWSCLI(t *testing.T) {
	aws, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH")
	}
	ctx := t.Context()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	if err := b.Put(ctx, "snapshots/v1/leaderboard.json", strings.NewReader(`{"models":[]}`)); err != nil {
		t.Fatal(err)
	}
	access, secret := srv.Credentials()
	home := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.CommandContext(ctx, aws, append([]string{"--endpoint-url", srv.Endpoint(), "--region", "us-east-1"}, args...)...)
		cmd.Env = []string{"HOME=" + home, "AWS_ACCESS_KEY_ID=" + access, "AWS_SECRET_ACCESS_KEY=" + secret,
			"AWS_CONFIG_FILE=" + filepath.Join(home, "none"), "PATH=" + filepath.Dir(aws) + ":/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("s3", "ls", "--recursive", "s3://"+srv.Bucket()+"/"); !strings.Contains(out, "snapshots/v1/leaderboard.json") {
		t.Errorf("aws s3 ls:\n%s", out)
	}
	dst := filepath.Join(home, "lb.json")
	run("s3", "cp", "s3://"+srv.Bucket()+"/snapshots/v1/leaderboard.json", dst)
	if data, err := os.ReadFile(dst); err != nil || string(data) != `{"models":[]}` {
		t.Errorf("aws s3 cp gave %q, %v", data, err)
	}
}

// TestMultipartOnDisk: a body larger than a part goes up in parts, which
// the folder backend assembles on disk and cleans up.
func TestMultipartOnDisk(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: dir, PartSize: s3.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	data := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, objstoretest.LargeObjectSize/7)
	if err := b.Put(ctx, "cache/acts.bin", struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, embedded.DefaultBucket, "cache", "acts.bin"))
	if err != nil || st.Size() != int64(len(data)) {
		t.Fatalf("assembled file: %v, %v; want %d bytes", st, err, len(data))
	}
	// .tmp holds this server's own directory (tmp.go), empty again.
	owned, _ := os.ReadDir(filepath.Join(dir, ".tmp"))
	if len(owned) != 1 {
		t.Fatalf("%d entries in .tmp, want this server's directory only", len(owned))
	}
	if left, _ := os.ReadDir(filepath.Join(dir, ".tmp", owned[0].Name())); len(left) != 0 {
		t.Errorf("%d leftovers in .tmp after the upload", len(left))
	}
}

// TestListStaysInBucket: a listing prefix that climbs out of the bucket
// ("../") lists nothing outside it.
func TestListStaysInBucket(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := start(t, embedded.Config{Dir: filepath.Join(dir, "objects")})
	for _, prefix := range []string{"../", "../../", "../objects/../"} {
		resp, err := http.Get(srv.Endpoint() + "/" + srv.Bucket() + "?list-type=2&prefix=" + prefix)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "secret") || strings.Contains(string(body), "<Key>") {
			t.Errorf("prefix %q listed outside the bucket:\n%s", prefix, body)
		}
	}
}

// TestSecondServerKeepsUploads (issue 15, finding 9): a multipart upload is
// in progress through one embedded server when a second one starts on
// the same folder (as `models list` does during `models add`); the
// upload completes, whole.
func TestSecondServerKeepsUploads(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: dir, PartSize: s3.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	data := bytes.Repeat([]byte("0123456789abcdef"), 3*s3.MinPartSize/16+1)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- b.Put(ctx, "models/big.onnx", pr) }()
	// Send the first part and a bit, then wait until a part is on disk.
	half := s3.MinPartSize + 1000
	go pw.Write(data[:half])
	deadline := time.Now().Add(30 * time.Second)
	for {
		parts, _ := filepath.Glob(filepath.Join(dir, ".tmp", "*", "upload-*", "*"))
		flat, _ := filepath.Glob(filepath.Join(dir, ".tmp", "upload-*", "*")) // the layout before issue 15
		if len(parts)+len(flat) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no part of the upload reached the disk within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A second process's server starts on the same store meanwhile.
	second, err := embedded.Start(embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Close(ctx); err != nil {
		t.Fatal(err)
	}
	go func() {
		pw.Write(data[half:])
		pw.Close()
	}()
	if err := <-done; err != nil {
		t.Fatalf("upload failed after a second server started on its store: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dir, embedded.DefaultBucket, "models", "big.onnx"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored object: %d bytes, %v; want the %d bytes sent", len(got), err, len(data))
	}
}

// TestTmpRemovedUnderServer: a server whose temporary directory was
// removed under it (by hand, or by an older version that emptied .tmp at
// start) makes it again and keeps accepting uploads, whole and multipart.
func TestTmpRemovedUnderServer(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: dir, PartSize: s3.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(ctx)
	if err := os.RemoveAll(filepath.Join(dir, ".tmp")); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "small.json", strings.NewReader(`{}`)); err != nil {
		t.Fatalf("small upload after .tmp was removed: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, ".tmp"))
	data := bytes.Repeat([]byte{9}, s3.MinPartSize+12345)
	if err := b.Put(ctx, "big.bin", struct{ io.Reader }{bytes.NewReader(data)}); err != nil {
		t.Fatalf("multipart upload after .tmp was removed: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, embedded.DefaultBucket, "big.bin")); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, %v; want %d", len(got), err, len(data))
	}
}
