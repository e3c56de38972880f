package embedded_test

// Issue 14, finding 1: every attack on the embedded endpoint, replayed
// against the real server on its loopback port. Each must be refused and
// leave the store exactly as it was.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/s3"
)

// Private objects as the platform stores them.
var privateObjects = map[string]string{
	"benchmarks/secret-bench/v1/benchmark.json": `{"ID":"secret-bench","Private":true}`,
	"benchmarks/secret-bench/v1/rdm.npy":        "\x93NUMPY private brain RDM bytes",
	"benchmarks/secret-bench/v1/stimuli/0.png":  "\x89PNG private stimulus",
	"models/0123abcd.onnx":                      "onnx model bytes",
}

const snapshotKey = "leaderboard/latest.json"
const snapshotBody = `{"rows":[]}`

type fixture struct {
	dir     string
	srv     *embedded.Server
	private *s3.Bucket
	public  *s3.Bucket
	host    string // 127.0.0.1:PORT
	ak, sk  string
	priv    string // private bucket name
	pub     string // public bucket name
	http    *http.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	b, srv, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	pub, err := srv.OpenPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range privateObjects {
		if err := b.Put(ctx, k, strings.NewReader(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Put(ctx, snapshotKey, strings.NewReader(snapshotBody)); err != nil {
		t.Fatal(err)
	}
	ak, sk := srv.Credentials()
	return &fixture{
		dir: dir, srv: srv, private: b, public: pub,
		host: strings.TrimPrefix(srv.Endpoint(), "http://"),
		ak:   ak, sk: sk, priv: srv.Bucket(), pub: srv.PublicBucket(),
		http: &http.Client{Timeout: 30 * time.Second},
	}
}

// state is every file and folder of the store with its content's hash:
// anything an attack could have changed.
func (f *fixture) state(t *testing.T) map[string]string {
	t.Helper()
	st := map[string]string{}
	err := filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		if d.IsDir() {
			st[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		st[rel] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// listing is what the signed client sees in both buckets.
func (f *fixture) listing(t *testing.T) []string {
	t.Helper()
	var keys []string
	for _, b := range []*s3.Bucket{f.private, f.public} {
		page, err := b.List(t.Context(), objstore.ListOptions{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Objects {
			keys = append(keys, b.Name()+"/"+o.Key+"@"+o.ETag)
		}
	}
	sort.Strings(keys)
	return keys
}

func (f *fixture) url(path string) string { return "http://" + f.host + path }

// do sends req and returns status, headers and body.
func (f *fixture) do(t *testing.T, req *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := f.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func newReq(t *testing.T, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// sign signs req as the AWS SDK does for S3, with the given secret and time.
func sign(t *testing.T, req *http.Request, ak, sk, payloadHash string, at time.Time) {
	t.Helper()
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).
		SignHTTP(t.Context(), aws.Credentials{AccessKeyID: ak, SecretAccessKey: sk}, req, payloadHash, "s3", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
}

func noCORS(t *testing.T, what string, h http.Header) {
	t.Helper()
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Errorf("%s: answer carries CORS header %s: %v", what, k, h[k])
		}
	}
}

// leaks reports whether body shows any private key or private bytes.
func leaks(body string) string {
	for k, v := range privateObjects {
		if strings.Contains(body, k) || strings.Contains(body, v) || strings.Contains(body, "secret-bench") || strings.Contains(body, "0123abcd") {
			return k
		}
	}
	return ""
}

func TestAttacksAreRefused(t *testing.T) {
	f := newFixture(t)
	before, beforeList := f.state(t), f.listing(t)
	entry := privateObjects["benchmarks/secret-bench/v1/benchmark.json"]
	opened := `{"ID":"secret-bench","Private":false}`
	big := bytes.Repeat([]byte("x"), 3<<20)
	tampered := bytes.Repeat([]byte("y"), 3<<20)

	type attack struct {
		name   string
		req    func() *http.Request
		status int    // 0: any 4xx/5xx
		code   string // S3 error code expected in the body, if any
	}
	anon := func(method, path string, body []byte) func() *http.Request {
		return func() *http.Request { return newReq(t, method, f.url(path), body) }
	}
	signed := func(method, path string, body []byte, sk string, at time.Time, edit func(*http.Request)) func() *http.Request {
		return func() *http.Request {
			r := newReq(t, method, f.url(path), body)
			sign(t, r, f.ak, sk, hashHex(body), at)
			if edit != nil {
				edit(r)
			}
			return r
		}
	}
	now := time.Now()
	attacks := []attack{
		{"anonymous list v2 of the private bucket", anon("GET", "/"+f.priv+"?list-type=2", nil), 403, "AccessDenied"},
		{"anonymous list v1 of the private bucket", anon("GET", "/"+f.priv+"/", nil), 403, "AccessDenied"},
		{"anonymous list of buckets", anon("GET", "/", nil), 403, "AccessDenied"},
		{"anonymous list of uploads", anon("GET", "/"+f.pub+"?uploads", nil), 403, "AccessDenied"},
		{"anonymous GET of the private RDM", anon("GET", "/"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy", nil), 403, "AccessDenied"},
		{"anonymous HEAD of the private RDM", anon("HEAD", "/"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy", nil), 403, ""},
		{"anonymous GET of a private stimulus", anon("GET", "/"+f.priv+"/benchmarks/secret-bench/v1/stimuli/0.png", nil), 403, "AccessDenied"},
		{"anonymous PUT making the benchmark public", anon("PUT", "/"+f.priv+"/benchmarks/secret-bench/v1/benchmark.json", []byte(opened)), 403, "AccessDenied"},
		{"anonymous PUT over the snapshot", anon("PUT", "/"+f.pub+"/"+snapshotKey, []byte(`{"rows":["forged"]}`)), 403, "AccessDenied"},
		{"anonymous PUT into the public bucket", anon("PUT", "/"+f.pub+"/new.json", []byte(`x`)), 403, "AccessDenied"},
		{"anonymous DELETE of a model", anon("DELETE", "/"+f.priv+"/models/0123abcd.onnx", nil), 403, "AccessDenied"},
		{"anonymous DELETE of the snapshot", anon("DELETE", "/"+f.pub+"/"+snapshotKey, nil), 403, "AccessDenied"},
		{"anonymous multi-object delete", anon("POST", "/"+f.priv+"?delete", []byte(`<Delete><Object><Key>models/0123abcd.onnx</Key></Object></Delete>`)), 403, "AccessDenied"},
		{"anonymous browser form upload", func() *http.Request {
			r := newReq(t, "POST", f.url("/"+f.pub), []byte("--b\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nx\r\n--b--\r\n"))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=b")
			return r
		}, 403, "AccessDenied"},
		{"anonymous bucket creation", anon("PUT", "/attacker-bucket", nil), 403, "AccessDenied"},
		{"anonymous bucket deletion", anon("DELETE", "/"+f.pub, nil), 403, "AccessDenied"},
		{"anonymous multipart upload start", anon("POST", "/"+f.pub+"/x?uploads", nil), 403, "AccessDenied"},
		{"anonymous path traversal from the public bucket", anon("GET", "/"+f.pub+"/../"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy", nil), 0, ""},
		{"anonymous encoded traversal from the public bucket", anon("GET", "/"+f.pub+"/..%2F"+f.priv+"%2Fbenchmarks%2Fsecret-bench%2Fv1%2Frdm.npy", nil), 0, ""},
		{"CORS preflight from an evil origin", func() *http.Request {
			r := newReq(t, "OPTIONS", f.url("/"+f.priv+"/models/0123abcd.onnx"), nil)
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "DELETE")
			return r
		}, 403, "AccessDenied"},
		{"CORS preflight on the public bucket", func() *http.Request {
			r := newReq(t, "OPTIONS", f.url("/"+f.pub+"/"+snapshotKey), nil)
			r.Header.Set("Origin", "https://evil.example")
			r.Header.Set("Access-Control-Request-Method", "PUT")
			return r
		}, 403, "AccessDenied"},
		{"cross-origin read of the public bucket", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.pub+"/"+snapshotKey), nil)
			r.Header.Set("Origin", "https://evil.example")
			return r
		}, 403, "AccessDenied"},
		{"cross-origin signed-looking PUT", func() *http.Request {
			r := newReq(t, "PUT", f.url("/"+f.priv+"/benchmarks/secret-bench/v1/benchmark.json"), []byte(opened))
			sign(t, r, f.ak, f.sk, hashHex([]byte(opened)), now)
			r.Header.Set("Origin", "https://evil.example")
			return r
		}, 403, "AccessDenied"},
		{"foreign Host (DNS rebinding), anonymous public read", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.pub+"/"+snapshotKey), nil)
			r.Host = "evil.example:" + strings.Split(f.host, ":")[1]
			return r
		}, 403, "AccessDenied"},
		{"foreign Host (DNS rebinding), correctly signed for that host", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy"), nil)
			r.Host = "evil.example:" + strings.Split(f.host, ":")[1]
			sign(t, r, f.ak, f.sk, hashHex(nil), now)
			return r
		}, 403, "AccessDenied"},
		{"foreign Host localhost", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.pub+"/"+snapshotKey), nil)
			r.Host = "localhost:" + strings.Split(f.host, ":")[1]
			return r
		}, 403, "AccessDenied"},
		{"GET signed with the wrong secret", signed("GET", "/"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy", nil, "wrong-secret-wrong-secret", now, nil), 403, "SignatureDoesNotMatch"},
		{"PUT signed with the wrong secret", signed("PUT", "/"+f.priv+"/benchmarks/secret-bench/v1/benchmark.json", []byte(opened), "wrong-secret-wrong-secret", now, nil), 403, "SignatureDoesNotMatch"},
		{"bucket creation signed with the wrong secret", signed("PUT", "/attacker-bucket", nil, "wrong-secret-wrong-secret", now, nil), 403, "SignatureDoesNotMatch"},
		{"list signed with another access key", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.priv+"?list-type=2"), nil)
			sign(t, r, "AKIAOTHER", f.sk, hashHex(nil), now)
			return r
		}, 403, "InvalidAccessKeyId"},
		{"replayed DELETE dated 20 minutes ago", signed("DELETE", "/"+f.priv+"/models/0123abcd.onnx", nil, f.sk, now.Add(-20*time.Minute), nil), 403, "RequestTimeTooSkewed"},
		{"DELETE dated 20 minutes ahead", signed("DELETE", "/"+f.priv+"/models/0123abcd.onnx", nil, f.sk, now.Add(20*time.Minute), nil), 403, "RequestTimeTooSkewed"},
		{"signed GET redirected to another key", signed("GET", "/"+f.pub+"/"+snapshotKey, nil, f.sk, now, func(r *http.Request) {
			r.URL.Path = "/" + f.priv + "/benchmarks/secret-bench/v1/rdm.npy"
		}), 403, "SignatureDoesNotMatch"},
		{"signed DELETE with a tampered query", signed("DELETE", "/"+f.pub+"/"+snapshotKey+"?uploadId=1", nil, f.sk, now, func(r *http.Request) {
			r.URL.RawQuery = ""
		}), 403, "SignatureDoesNotMatch"},
		{"signed PUT with a tampered signed header", func() *http.Request {
			r := newReq(t, "PUT", f.url("/"+f.priv+"/benchmarks/secret-bench/v1/benchmark.json"), []byte(opened))
			r.Header.Set("X-Amz-Meta-Note", "harmless")
			sign(t, r, f.ak, f.sk, hashHex([]byte(opened)), now)
			r.Header.Set("X-Amz-Meta-Note", "evil")
			return r
		}, 403, "SignatureDoesNotMatch"},
		{"signed PUT with an added unsigned x-amz header", func() *http.Request {
			r := newReq(t, "PUT", f.url("/"+f.pub+"/copied.npy"), nil)
			sign(t, r, f.ak, f.sk, hashHex(nil), now)
			r.Header.Set("X-Amz-Copy-Source", "/"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy")
			return r
		}, 403, "AccessDenied"},
		{"signed PUT with a tampered small body", signed("PUT", "/"+f.priv+"/benchmarks/secret-bench/v1/benchmark.json", []byte(entry), f.sk, now, func(r *http.Request) {
			b := []byte(strings.Replace(entry, "true", "fals", 1))
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}), 400, "XAmzContentSHA256Mismatch"},
		{"signed PUT with a tampered large body (checked as it streams)", signed("PUT", "/"+f.priv+"/models/0123abcd.onnx", big, f.sk, now, func(r *http.Request) {
			r.Body = io.NopCloser(bytes.NewReader(tampered))
		}), 400, "XAmzContentSHA256Mismatch"},
		{"signed multi-object delete with a tampered body (checked before it goes on)", func() *http.Request {
			good := []byte(`<Delete><Object><Key>models/0123abcd.onnz</Key></Object></Delete>`)
			evil := bytes.Replace(good, []byte("onnz"), []byte("onnx"), 1)
			r := newReq(t, "POST", f.url("/"+f.priv+"?delete"), good)
			sign(t, r, f.ak, f.sk, hashHex(good), now)
			r.Body = io.NopCloser(bytes.NewReader(evil))
			return r
		}, 400, "XAmzContentSHA256Mismatch"},
		{"signed PUT declaring the empty body's hash", func() *http.Request {
			r := newReq(t, "PUT", f.url("/"+f.priv+"/models/0123abcd.onnx"), []byte("evil"))
			sign(t, r, f.ak, f.sk, hashHex(nil), now)
			return r
		}, 400, "XAmzContentSHA256Mismatch"},
		{"aws-chunked streaming payload (chunk signatures unchecked by gofakes3)", func() *http.Request {
			body := []byte("4;chunk-signature=0000\r\nevil\r\n0;chunk-signature=0000\r\n\r\n")
			r := newReq(t, "PUT", f.url("/"+f.priv+"/models/0123abcd.onnx"), body)
			r.Header.Set("X-Amz-Decoded-Content-Length", "4")
			sign(t, r, f.ak, f.sk, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", now)
			return r
		}, 501, "NotImplemented"},
		{"presigned DELETE that has expired", func() *http.Request {
			r := newReq(t, "DELETE", f.url("/"+f.priv+"/models/0123abcd.onnx"), nil)
			q := r.URL.Query()
			q.Set("X-Amz-Expires", "60")
			r.URL.RawQuery = q.Encode()
			u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(t.Context(),
				aws.Credentials{AccessKeyID: f.ak, SecretAccessKey: f.sk}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", now.Add(-2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			return newReq(t, "DELETE", u, nil)
		}, 403, "AccessDenied"},
		{"presigned GET redirected to another key", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.priv+"/models/0123abcd.onnx"), nil)
			q := r.URL.Query()
			q.Set("X-Amz-Expires", "600")
			r.URL.RawQuery = q.Encode()
			u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(t.Context(),
				aws.Credentials{AccessKeyID: f.ak, SecretAccessKey: f.sk}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", now)
			if err != nil {
				t.Fatal(err)
			}
			return newReq(t, "GET", strings.Replace(u, "models/0123abcd.onnx", "benchmarks/secret-bench/v1/rdm.npy", 1), nil)
		}, 403, "SignatureDoesNotMatch"},
		{"header and query signatures at once", signed("GET", "/"+f.priv+"/models/0123abcd.onnx?X-Amz-Signature=00", nil, f.sk, now, nil), 400, "InvalidArgument"},
		{"Authorization of another scheme", func() *http.Request {
			r := newReq(t, "GET", f.url("/"+f.priv+"/models/0123abcd.onnx"), nil)
			r.Header.Set("Authorization", "AWS "+f.ak+":c2lnbmF0dXJl")
			return r
		}, 400, "AuthorizationHeaderMalformed"},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			status, h, body := f.do(t, a.req())
			if a.status != 0 && status != a.status || status < 400 {
				t.Errorf("status %d, want %d; body %.300s", status, a.status, body)
			}
			if a.code != "" && !strings.Contains(body, "<Code>"+a.code+"</Code>") {
				t.Errorf("body %.300s, want error code %s", body, a.code)
			}
			for k, v := range privateObjects {
				if strings.Contains(body, v) {
					t.Errorf("answer leaks the bytes of %s: %.300s", k, body)
				}
			}
			noCORS(t, a.name, h)
			if after := f.state(t); !equalMaps(before, after) {
				t.Errorf("the store changed:\nbefore %v\nafter  %v", before, after)
				before = after
			}
		})
	}
	if after := f.listing(t); strings.Join(after, "\n") != strings.Join(beforeList, "\n") {
		t.Errorf("listing changed:\nbefore %v\nafter  %v", beforeList, after)
	}
	for k, v := range privateObjects {
		rc, err := f.private.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != v {
			t.Errorf("%s = %q after the attacks, want %q", k, got, v)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSignedRequestsWork checks the legitimate side of each refusal above:
// the same requests, correctly signed, succeed.
func TestSignedRequestsWork(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	key := "/" + f.priv + "/benchmarks/secret-bench/v1/rdm.npy"

	r := newReq(t, "GET", f.url(key), nil)
	sign(t, r, f.ak, f.sk, hashHex(nil), now.Add(-10*time.Minute))
	if status, h, body := f.do(t, r); status != 200 || body != privateObjects["benchmarks/secret-bench/v1/rdm.npy"] {
		t.Errorf("signed GET dated 10 min ago = %d %q", status, body)
	} else {
		noCORS(t, "signed GET", h)
	}

	r = newReq(t, "GET", f.url(key), nil)
	sign(t, r, f.ak, f.sk, "UNSIGNED-PAYLOAD", now)
	if status, _, _ := f.do(t, r); status != 200 {
		t.Errorf("signed GET with UNSIGNED-PAYLOAD = %d", status)
	}

	// A large body checked as it streams, and an unsigned payload.
	big := bytes.Repeat([]byte("z"), 3<<20)
	r = newReq(t, "PUT", f.url("/"+f.priv+"/cache/big.bin"), big)
	sign(t, r, f.ak, f.sk, hashHex(big), now)
	if status, _, body := f.do(t, r); status != 200 {
		t.Errorf("signed large PUT = %d %s", status, body)
	}
	r = newReq(t, "PUT", f.url("/"+f.priv+"/cache/unsigned.bin"), []byte("u"))
	sign(t, r, f.ak, f.sk, "UNSIGNED-PAYLOAD", now)
	if status, _, body := f.do(t, r); status != 200 {
		t.Errorf("signed PUT with UNSIGNED-PAYLOAD = %d %s", status, body)
	}
	if info, err := f.private.Attributes(t.Context(), "cache/big.bin"); err != nil || info.Size != int64(len(big)) {
		t.Errorf("big.bin: %+v, %v", info, err)
	}

	// A key that needs escaping, signed as the SDK signs it.
	odd := "odd key/ü+=&@,(1).txt"
	if err := f.private.Put(t.Context(), odd, strings.NewReader("odd")); err != nil {
		t.Fatalf("Put(%q): %v", odd, err)
	}
	if rc, err := f.private.Get(t.Context(), odd); err != nil {
		t.Errorf("Get(%q): %v", odd, err)
	} else {
		rc.Close()
	}

	// Presigned GET.
	r = newReq(t, "GET", f.url(key), nil)
	q := r.URL.Query()
	q.Set("X-Amz-Expires", "600")
	r.URL.RawQuery = q.Encode()
	u, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(t.Context(),
		aws.Credentials{AccessKeyID: f.ak, SecretAccessKey: f.sk}, r, "UNSIGNED-PAYLOAD", "s3", "us-east-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if status, _, body := f.do(t, newReq(t, "GET", u, nil)); status != 200 || body != privateObjects["benchmarks/secret-bench/v1/rdm.npy"] {
		t.Errorf("presigned GET = %d %q", status, body)
	}

	// Bucket creation with credentials (the conformance suite relies on it).
	extra := f.private
	cfg := f.srv.S3Config()
	cfg.Bucket = "made-by-owner"
	if extra, err = s3.New(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if err := extra.CreateBucket(t.Context()); err != nil {
		t.Errorf("signed CreateBucket: %v", err)
	}
}

// TestAnonymousReadsOnlyThePublicBucket plays the reader of the published
// leaderboard: it can read and list the snapshot, and no listing it can
// obtain names a private object.
func TestAnonymousReadsOnlyThePublicBucket(t *testing.T) {
	f := newFixture(t)
	status, h, body := f.do(t, newReq(t, "GET", f.srv.PublicURL(snapshotKey), nil))
	if status != 200 || body != snapshotBody {
		t.Fatalf("anonymous GET of the snapshot = %d %q", status, body)
	}
	noCORS(t, "public GET", h)
	if status, _, _ := f.do(t, newReq(t, "HEAD", f.srv.PublicURL(snapshotKey), nil)); status != 200 {
		t.Errorf("anonymous HEAD of the snapshot = %d", status)
	}
	for _, path := range []string{
		"/", "/" + f.priv, "/" + f.priv + "?list-type=2", "/" + f.priv + "?list-type=2&prefix=benchmarks/",
		"/" + f.pub, "/" + f.pub + "/", "/" + f.pub + "?list-type=2", "/" + f.pub + "?list-type=2&prefix=leaderboard/&delimiter=/",
		"/" + f.pub + "?list-type=2&prefix=../", "/" + f.pub + "?versions", "/" + f.pub + "?uploads",
		"/" + f.pub + "?location", "/" + f.pub + "?list-type=2&prefix=../" + f.priv + "/",
	} {
		status, _, body := f.do(t, newReq(t, "GET", f.url(path), nil))
		if k := leaks(body); k != "" {
			t.Errorf("anonymous GET %s (%d) names private %s: %.300s", path, status, k, body)
		}
		if strings.HasPrefix(path, "/"+f.pub+"?list-type=2") && !strings.Contains(path, "..") || path == "/"+f.pub {
			if status != 200 || !strings.Contains(body, snapshotKey) {
				t.Errorf("anonymous list %s = %d %.300s, want the snapshot", path, status, body)
			}
		}
	}
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	srv, err := embedded.Start(embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	path := srv.CredentialsFile()
	if path != embedded.CredentialsPath(dir) {
		t.Errorf("CredentialsFile = %q, want %q", path, embedded.CredentialsPath(dir))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %04o, want 0600", st.Mode().Perm())
	}
	ak, sk := srv.Credentials()
	if len(ak) < 16 || len(sk) < 32 {
		t.Errorf("weak credentials %q / %d characters", ak, len(sk))
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "[default]") || !strings.Contains(string(data), ak) || !strings.Contains(string(data), sk) {
		t.Errorf("credentials file:\n%s", data)
	}
	srv.Close(ctx)

	// Reused on the next start; a client configured before still works.
	b, srv2, err := embedded.Open(ctx, embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close(ctx)
	if ak2, sk2 := srv2.Credentials(); ak2 != ak || sk2 != sk {
		t.Errorf("credentials changed across restart")
	}
	if err := b.Put(ctx, "k", strings.NewReader("v")); err != nil {
		t.Errorf("Put after restart: %v", err)
	}

	// Another store gets other credentials.
	other := start(t, embedded.Config{Dir: t.TempDir()})
	if oak, _ := other.Credentials(); oak == ak {
		t.Error("two stores share an access key")
	}

	// A file others may read is refused.
	dir3 := t.TempDir()
	os.WriteFile(embedded.CredentialsPath(dir3), []byte("[default]\naws_access_key_id = A\naws_secret_access_key = 0123456789abcdef\n"), 0o644)
	os.Chmod(embedded.CredentialsPath(dir3), 0o644)
	if s, err := embedded.Start(embedded.Config{Dir: dir3}); err == nil {
		s.Close(ctx)
		t.Error("Start accepted a world-readable credentials file")
	}

	// The credentials file is in no bucket.
	if status, _, body := (&fixture{http: http.DefaultClient}).do(t, newReq(t, "GET", srv2.Endpoint()+"/"+embedded.CredentialsFileName, nil)); status == 200 || strings.Contains(body, sk) {
		t.Errorf("GET /%s = %d %.200s", embedded.CredentialsFileName, status, body)
	}
}

// TestListensOnLoopbackOnly checks the socket, not just the config.
func TestListensOnLoopbackOnly(t *testing.T) {
	srv := start(t, embedded.Config{Dir: t.TempDir()})
	host, _, err := net.SplitHostPort(strings.TrimPrefix(srv.Endpoint(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("listening on %s", host)
	}
}

// TestAWSCLIWithCredentials uses the aws CLI the way a user would: signed
// with the credentials file on the private bucket (uploads included, which
// shows the CLI's payload signing is accepted), anonymous on the public one.
func TestAWSCLIWithCredentials(t *testing.T) {
	awsPath, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("aws CLI not on PATH")
	}
	f := newFixture(t)
	home := t.TempDir()
	run := func(wantOK bool, env []string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), awsPath, append([]string{"--endpoint-url", f.srv.Endpoint(), "--region", "us-east-1"}, args...)...)
		cmd.Env = append([]string{"HOME=" + home, "AWS_CONFIG_FILE=" + filepath.Join(home, "none"),
			"PATH=" + filepath.Dir(awsPath) + ":/usr/bin:/bin"}, env...)
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Errorf("aws %s: err %v, want success %v\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	creds := []string{"AWS_SHARED_CREDENTIALS_FILE=" + f.srv.CredentialsFile()}
	none := []string{"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "none")}

	if out := run(true, creds, "s3", "ls", "--recursive", "s3://"+f.priv+"/"); !strings.Contains(out, "rdm.npy") {
		t.Errorf("signed ls:\n%s", out)
	}
	small := filepath.Join(home, "small.json")
	os.WriteFile(small, []byte(`{"a":1}`), 0o644)
	run(true, creds, "s3", "cp", small, "s3://"+f.priv+"/cli/small.json")
	large := filepath.Join(home, "large.bin")
	os.WriteFile(large, bytes.Repeat([]byte("L"), 9<<20), 0o644) // above the CLI's 8 MiB multipart threshold
	run(true, creds, "s3", "cp", large, "s3://"+f.priv+"/cli/large.bin")
	if info, err := f.private.Attributes(t.Context(), "cli/large.bin"); err != nil || info.Size != 9<<20 {
		t.Errorf("multipart upload by the CLI: %+v, %v", info, err)
	}
	dst := filepath.Join(home, "back.json")
	run(true, creds, "s3", "cp", "s3://"+f.priv+"/cli/small.json", dst)
	if data, _ := os.ReadFile(dst); string(data) != `{"a":1}` {
		t.Errorf("read back %q", data)
	}

	// Anonymous: the public bucket only.
	if out := run(true, none, "--no-sign-request", "s3", "ls", "--recursive", "s3://"+f.pub+"/"); !strings.Contains(out, snapshotKey) || leaks(out) != "" {
		t.Errorf("anonymous ls of the public bucket:\n%s", out)
	}
	if out := run(true, none, "--no-sign-request", "s3", "cp", "s3://"+f.pub+"/"+snapshotKey, "-"); out != snapshotBody {
		t.Errorf("anonymous cp of the snapshot: %q", out)
	}
	run(false, none, "--no-sign-request", "s3", "ls", "s3://"+f.priv+"/")
	run(false, none, "--no-sign-request", "s3", "cp", "s3://"+f.priv+"/benchmarks/secret-bench/v1/rdm.npy", "-")
	run(false, none, "--no-sign-request", "s3", "cp", small, "s3://"+f.pub+"/forged.json")
	run(false, none, "--no-sign-request", "s3", "rm", "s3://"+f.priv+"/models/0123abcd.onnx")
	run(false, none, "--no-sign-request", "s3", "mb", "s3://attacker-bucket")
	// Signed with a wrong secret.
	run(false, []string{"AWS_ACCESS_KEY_ID=" + f.ak, "AWS_SECRET_ACCESS_KEY=wrong-wrong-wrong-wrong"}, "s3", "ls", "s3://"+f.priv+"/")
	if _, err := f.private.Get(t.Context(), "models/0123abcd.onnx"); err != nil {
		t.Errorf("model after the CLI attacks: %v", err)
	}
}
