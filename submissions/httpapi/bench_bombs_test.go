package httpapi_test

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/submissions"
	"github.com/cortexbench/cortexbench/submissions/submissionstest"
	"github.com/cortexbench/cortexbench/submissions/wire"
)

// procStatus reads a "Vm…: N kB" line of /proc/self/status, in bytes.
func procStatus(key string) float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == key+":" {
			v, _ := strconv.ParseFloat(string(f[1]), 64)
			return v * 1024
		}
	}
	return 0
}

// junk is n bytes of a 1 MiB random block repeated: not ONNX, cheap for
// the client to stream, never held whole.
func junk(seed byte, n int64) io.Reader {
	block := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{seed}).Read(block)
	rs := make([]io.Reader, 0, n>>20)
	for range n >> 20 {
		rs = append(rs, bytes.NewReader(block))
	}
	return io.MultiReader(rs...)
}

// post streams a submission whose model part is file (n bytes) to the
// server and returns the status.
func post(b *testing.B, e *env, user, spec string, file io.Reader) int {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField(wire.FieldName, "bomb")
		mw.WriteField(wire.FieldPreprocessing, spec)
		fw, _ := mw.CreateFormFile(wire.FieldFile, "bomb.onnx")
		_, err := io.Copy(fw, file)
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/submissions", pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// BenchmarkUploadBombs uploads each validation bomb of issue 14 (finding
// 3) to the submissions server on loopback, whose service validates with
// ONNX Runtime in a child process (ortchild, default limits: 2 GiB, 30 s)
// under the default submission limits, and reports the wall time of the
// upload and the peak extra RSS of this process (VmHWM after, reset
// before, minus VmRSS before), which holds the server, the validator and
// the client. The bounds: under 300 MB extra RSS and 5 s each.
// The junk case is six concurrent 200 MB uploads of random bytes, streamed
// by the client (at most 4 are received at once: the others get 503).
// Run: go test -run '^$' -bench UploadBombs -benchtime 1x ./submissions/httpapi/
func BenchmarkUploadBombs(b *testing.B) {
	e := newEnvRT(b, submissions.Config{MaxRefusedPerHour: -1, DailyLimit: -1}, childRuntime(b, 0))
	cases := []struct {
		name    string
		uploads int
		file    func(i int) io.Reader
		spec    string
	}{
		{"constant_of_shape_128M_669B", 1, func(int) io.Reader { return bytes.NewReader(onnxtest.ConstantOfShapeBomb(1<<14, 1<<13)) }, ""},
		{"packed_dims_16M_16MB", 1, func(int) io.Reader { return bytes.NewReader(onnxtest.PackedDimsBomb(16 << 20)) }, ""},
		{"relu_64k_reverse", 1, func(int) io.Reader { return bytes.NewReader(onnxtest.ReluChain(64 << 10)) }, ""},
		{"relu_48k_reverse_accepted", 1, func(int) io.Reader { return bytes.NewReader(onnxtest.ReluChain(48 << 10)) }, ""},
		{"junk_200MB_x6", 6, func(i int) io.Reader { return junk(byte(i), 200<<20) }, ""},
		// Not a bomb of the issue: a well-formed model with 200 MB of
		// weights, validated in full (decoded here, loaded in the child),
		// then refused for its spec so that nothing is stored in the
		// in-memory bucket of this process. Two at once, the validator's
		// bound.
		{"weights_200MB_x2_full_validation", 2, func(int) io.Reader { return bytes.NewReader(bigModel(50 << 20)) }, "size=999"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var codes map[int]int
			var rss float64
			var elapsed time.Duration
			for range b.N {
				// Build the inputs before measuring.
				files := make([]io.Reader, c.uploads)
				for i := range files {
					files[i] = c.file(i)
				}
				runtime.GC()
				if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil { // reset VmHWM
					b.Skipf("cannot reset the peak RSS: %v", err)
				}
				rss = procStatus("VmRSS")
				codes = map[int]int{}
				var mu sync.Mutex
				var wg sync.WaitGroup
				start := time.Now()
				for i := range c.uploads {
					wg.Go(func() {
						spec := c.spec
						if spec == "" {
							spec = submissionstest.Spec
						}
						st := post(b, e, "ada", spec, files[i])
						mu.Lock()
						codes[st]++
						mu.Unlock()
					})
				}
				wg.Wait()
				elapsed = time.Since(start)
			}
			b.ReportMetric((procStatus("VmHWM")-rss)/(1<<20), "extra-MB")
			b.ReportMetric(elapsed.Seconds(), "s/upload-batch")
			b.Logf("answers %v in %s", codes, elapsed.Round(time.Millisecond))
		})
	}
}

// BenchmarkValidateJunkFile is the validation part of the junk case
// alone: a staged 200 MB file of random bytes validated from disk (mapped,
// not read) with the child runtime, as Submit does.
func BenchmarkValidateJunkFile(b *testing.B) {
	cfg := onnxmodel.DefaultConfig()
	cfg.MaxFileBytes = 512 << 20
	v, err := onnxmodel.NewValidator(cfg, childRuntime(b, 0))
	if err != nil {
		b.Fatal(err)
	}
	up, err := submissions.StageUpload(b.TempDir(), junk(1, 200<<20), 512<<20)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Skipf("cannot reset the peak RSS: %v", err)
	}
	rss := procStatus("VmRSS")
	b.ResetTimer()
	for range b.N {
		if _, err = v.ValidateFile(b.Context(), up.Path); err == nil {
			b.Fatal("junk accepted")
		}
	}
	b.StopTimer()
	b.ReportMetric((procStatus("VmHWM")-rss)/(1<<20), "extra-MB")
	b.Logf("refused: %.200v", err)
}
