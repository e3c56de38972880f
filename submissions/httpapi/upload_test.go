package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxpb"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/models/ort/ortchild"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

func TestMain(m *testing.M) {
	// The validation child (ortchild) re-executes this test binary.
	ortchild.MainIfChild()
	os.Exit(m.Run())
}

// entries lists dir's names.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// An upload is staged in the private upload directory while it is
// validated and removed afterwards, accepted or refused; the stored model
// is byte for byte the upload.
func TestUploadStagedPrivatelyAndRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "uploads")
	e := newEnv(t, submissions.Config{MaxFileBytes: 64 << 10, UploadDir: dir, MaxRefusedPerHour: -1})
	file := submissionstest.TinyCNN(3)
	st, eb, acc := e.submit(t, "ada", "tiny", file)
	if st != http.StatusAccepted {
		t.Fatalf("%d %+v", st, eb)
	}
	sum := sha256.Sum256(file)
	spec, err := models.ParseSpec(submissionstest.Spec)
	if err != nil {
		t.Fatal(err)
	}
	if want := models.EntryID(hex.EncodeToString(sum[:]), spec); acc.ModelHash != want {
		t.Errorf("model hash %s, want the entry of the upload's sha256 and spec, %s", acc.ModelHash, want)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("upload directory: %v %v, want 0700", fi.Mode(), err)
	}
	if n := entries(t, dir); len(n) != 0 {
		t.Errorf("accepted upload left %v", n)
	}
	objs, _ := objstore.ListAll(t.Context(), e.bucket, "")
	var found bool
	for _, o := range objs {
		if strings.HasSuffix(o.Key, ".onnx") {
			rc, err := e.bucket.Get(t.Context(), o.Key)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			found = bytes.Equal(data, file)
		}
	}
	if !found {
		t.Errorf("the stored model is not the upload: %v", objs)
	}
	// Refused: a bad model, one over the limit, a second file part.
	for name, body := range map[string][]byte{"junk": []byte("not a model"), "large": make([]byte, 65<<10)} {
		if st, eb, _ := e.submit(t, "ada", name, body); st < 400 || st >= 500 {
			t.Errorf("%s: %d %+v", name, st, eb)
		}
		if n := entries(t, dir); len(n) != 0 {
			t.Errorf("%s: refused upload left %v", name, n)
		}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField(wire.FieldName, "two")
	for range 2 {
		fw, _ := mw.CreateFormFile(wire.FieldFile, "m.onnx")
		fw.Write(file)
	}
	mw.Close()
	if st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", mw.FormDataContentType(), &buf, nil); st != http.StatusBadRequest || !strings.Contains(eb.Message, "more than one model file") {
		t.Errorf("two files: %d %+v", st, eb)
	}
	if n := entries(t, dir); len(n) != 0 {
		t.Errorf("two files left %v", n)
	}
	// A shared (group- or world-readable) upload directory is refused.
	shared := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(shared, 0o755)
	os.Chmod(shared, 0o755)
	if _, err := submissions.StagingDir(shared); err == nil || !strings.Contains(err.Error(), "chmod 700") {
		t.Errorf("shared staging directory: %v", err)
	}
}

// Refused submissions count against the user's hourly limit: once
// reached, 429 with Retry-After and the time to retry, whatever is sent;
// accepted submissions do not count; other users are not affected.
func TestRefusedAttemptsRateLimited(t *testing.T) {
	e := newEnv(t, submissions.Config{MaxFileBytes: 64 << 10, MaxRefusedPerHour: 3})
	// Two refusals, then two accepted: not limited (accepted ones do not count).
	for i, file := range [][]byte{[]byte("junk"), make([]byte, 65<<10), submissionstest.TinyCNN(1), submissionstest.TinyCNN(2)} {
		st, eb, _ := e.submit(t, "ada", "m", file)
		if want := []int{400, 413, 202, 202}[i]; st != want {
			t.Fatalf("submission %d: %d %+v, want %d", i+1, st, eb, want)
		}
	}
	// A bad spec is the third refusal.
	ct, body := form(t, map[string]string{wire.FieldName: "m", wire.FieldPreprocessing: "size=999"}, submissionstest.TinyCNN(4))
	if st, eb := e.do(t, "ada", http.MethodPost, "/api/v1/submissions", ct, body, nil); st != http.StatusBadRequest {
		t.Fatalf("bad spec: %d %+v", st, eb)
	}
	// Now even a good model is refused before it is read, with when to retry.
	ct, body = form(t, map[string]string{wire.FieldName: "m", wire.FieldPreprocessing: submissionstest.Spec}, submissionstest.TinyCNN(5))
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/submissions", body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+e.tokens["ada"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || ra < 3500 || ra > 3601 {
		t.Fatalf("over the limit: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
	if !strings.Contains(string(data), "3 of your submissions were refused in the last 1h0m0s") || !strings.Contains(string(data), "submit again after") {
		t.Errorf("429 message %s", data)
	}
	subs, _ := e.reg.ListSubmissions(t.Context(), "ada", 0)
	if len(subs) != 2 {
		t.Errorf("%d submissions stored, want the 2 accepted", len(subs))
	}
	// Another user is not limited.
	if st, eb, _ := e.submit(t, "bob", "m", submissionstest.TinyCNN(6)); st != http.StatusAccepted {
		t.Errorf("bob: %d %+v", st, eb)
	}
}

// At most MaxConcurrentUploads are received at once: while one upload
// trickles in, another is answered 503 with Retry-After, and once it is
// done the next is received.
func TestConcurrentUploadsBounded(t *testing.T) {
	e := newEnv(t, submissions.Config{MaxConcurrentUploads: 1, MaxRefusedPerHour: -1})
	ct, body := form(t, map[string]string{wire.FieldName: "slow", wire.FieldPreprocessing: submissionstest.Spec}, submissionstest.TinyCNN(7))
	all, _ := io.ReadAll(body)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/submissions", pr)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+e.tokens["ada"])
	req.ContentLength = int64(len(all))
	done := make(chan int, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	go pw.Write(all[:100]) // the slow upload: a first few bytes, then nothing
	// Another user's request is refused as soon as the slow one holds the
	// slot (before that it is refused as not multipart, without counting).
	deadline := time.Now().Add(10 * time.Second)
	var resp *http.Response
	for {
		r, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/submissions", strings.NewReader("x"))
		r.Header.Set("Authorization", "Bearer "+e.tokens["bob"])
		var err error
		if resp, err = http.DefaultClient.Do(r); err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("while an upload is received: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	pw.Write(all[100:])
	pw.Close()
	if st := <-done; st != http.StatusAccepted {
		t.Fatalf("slow upload: %d", st)
	}
	if st, eb, _ := e.submit(t, "bob", "next", submissionstest.TinyCNN(8)); st != http.StatusAccepted {
		t.Fatalf("after the slow upload: %d %+v", st, eb)
	}
}

// childRuntime is ONNX Runtime in a child process (this test binary,
// see TestMain) with the given memory limit; the test is skipped without
// the library.
func childRuntime(t testing.TB, mem int64) *ortchild.Runtime {
	lib := os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join("..", "..", ort.DefaultLibraryPath)
	}
	lib, _ = filepath.Abs(lib)
	if _, err := os.Stat(lib); err != nil {
		t.Skipf("ONNX Runtime library: %v", err)
	}
	rt, err := ortchild.New(ortchild.Config{Command: []string{os.Args[0]}, Library: lib, MemoryBytes: mem})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// bigModel is the tiny CNN with a side output made from a float
// initializer of n elements (raw_data), which ONNX Runtime holds in memory
// (about three times) to load it.
func bigModel(n int) []byte {
	b := onnxtest.TinyCNN()
	b.M.Graph.Initializer = append(b.M.Graph.Initializer, &onnxpb.TensorProto{Name: proto.String("big"), Dims: []int64{int64(n)},
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: make([]byte, 4*n)})
	b.Node("Identity", []string{"big"}, []string{"bomb"})
	b.M.Graph.Output = append(b.M.Graph.Output, &onnxpb.ValueInfoProto{Name: proto.String("bomb")})
	return b.Bytes()
}

// A model whose loading needs more memory than the validation child may
// use is refused with a 400 that says so, through the server on loopback
// with ONNX Runtime in the child; nothing is stored and it counts as a
// refused attempt. A good model is accepted through the same child.
func TestValidationChildMemoryLimitThroughTheAPI(t *testing.T) {
	e := newEnvRT(t, submissions.Config{MaxFileBytes: 128 << 20, MaxRefusedPerHour: 1}, childRuntime(t, 256<<20))
	if st, eb, _ := e.submit(t, "bob", "tiny", submissionstest.TinyCNN(1)); st != http.StatusAccepted {
		t.Fatalf("tiny through the child: %d %+v", st, eb)
	}
	before, _ := objstore.ListAll(t.Context(), e.bucket, "")
	st, eb, _ := e.submit(t, "ada", "big", bigModel(16<<20)) // 64 MiB of weights
	if st != http.StatusBadRequest || len(eb.Problems) == 0 || !strings.Contains(eb.Problems[0].Message, "validating the model needed more than 256 MB of memory") {
		t.Fatalf("%d %+v, want 400 naming the memory limit", st, eb)
	}
	subs, _ := e.reg.ListSubmissions(t.Context(), "ada", 0)
	objs, _ := objstore.ListAll(t.Context(), e.bucket, "")
	if len(subs) != 0 || len(objs) != len(before) {
		t.Errorf("refused model stored: %d submissions, objects %v (before: %v)", len(subs), objs, before)
	}
	if st, _, _ := e.submit(t, "ada", "tiny", submissionstest.TinyCNN(2)); st != http.StatusTooManyRequests {
		t.Errorf("after the refusal (limit 1): %d, want 429", st)
	}
}
