package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// TestCorruptStoredObjects flips bytes in each kind of stored object in
// the embedded store's folder, as a failing disk would, and runs the real
// scoring and serving paths over it (issue 15, finding 3):
//
//	(a) a cached activation layer: the layer is extracted again and the
//	    score equals the score before the damage exactly;
//	(b) a benchmark's RDM blob (its key is its sha256): scoring fails with
//	    an error naming the blob and saying to re-add the benchmark, which
//	    repairs it;
//	(c) a stored model RDM: the API answers an error, never 200 with the
//	    damaged values, and scoring again rewrites it;
//
// and in a stored image (a blob too): extraction fails with an error
// naming it, classed as the platform's failure, not the model's.
func TestCorruptStoredObjects(t *testing.T) {
	ortAvailable(t)
	data, state := t.TempDir(), t.TempDir()
	store, db := filepath.Join(state, "objects"), filepath.Join(state, "registry.db")
	bucket := filepath.Join(store, embedded.DefaultBucket)
	names := []string{"cat.png", "dog.png", "car.png", "cup.png", "tree.png", "face.png", "hand.png", "shoe.png"}
	manifest := filepath.Join(data, "manifest.yaml")
	writeBenchDataset(t, data, fmt.Sprintf(benchMaintainerManifest, "lab2026.IT", "Lab 2026 IT", smallHeldOut, "lab2026"), names, 4, benchMaintainerRDM)
	if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, manifest); err != nil {
		t.Fatal(err)
	}
	onnx := onnxtest.TinyCNN().Bytes()
	model := filepath.Join(state, "tiny.onnx")
	if err := os.WriteFile(model, onnx, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(onnx)
	hash := hex.EncodeToString(sum[:]) // activations are keyed by the file
	const spec = "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW"
	parsed, err := models.ParseSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	entry := models.EntryID(hash, parsed) // scores and model RDMs by the entry
	score := func(extra ...string) (map[string]any, string, error) {
		t.Helper()
		args := append([]string{"score", "--model", model, "--name", "tiny", "--preprocess", spec,
			"--benchmark", "lab2026.IT", "--store", store, "--db", db, "--bootstrap", "50", "--json"}, extra...)
		out, errOut, err := scoreRun(t, args...)
		if err != nil {
			return nil, errOut, err
		}
		var ss []map[string]any
		if err := json.Unmarshal([]byte(out), &ss); err != nil || len(ss) != 1 {
			t.Fatalf("score --json: %v\n%s", err, out)
		}
		delete(ss[0], "seconds") // all but the timing must be equal bit for bit
		delete(ss[0], "peak_rss_bytes")
		return ss[0], errOut, nil
	}
	want, errOut, err := score()
	if err != nil {
		t.Fatalf("score: %v\n%s", err, errOut)
	}
	layer, _ := want["layer"].(string)

	t.Run("cached layer", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join(bucket, "activations", hash, "*", "*", layer+".f32"))
		if len(files) != 1 {
			t.Fatalf("cached files of the reported layer %s: %v, want one", layer, files)
		}
		b := readFile(t, files[0])
		good := bytes.Clone(b)
		const header = 16
		for i := header; i < header+(len(b)-header)*4/10; i++ { // 40% of the layer, as in the issue
			b[i] ^= 0x5a
		}
		writeFile(t, files[0], b)
		got, errOut, err := score("--fresh")
		if err != nil {
			t.Fatalf("score over a corrupt cached layer: %v\n%s", err, errOut)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("score over a corrupt cached layer:\n%v\nwant, as before the damage:\n%v", got, want)
		}
		key := strings.TrimPrefix(filepath.ToSlash(files[0]), filepath.ToSlash(bucket)+"/")
		if !strings.Contains(errOut, "not trusted") || !strings.Contains(errOut, key) || !strings.Contains(errOut, "extracting") {
			t.Errorf("no warning naming %s and no extraction on stderr:\n%s", key, errOut)
		}
		if !bytes.Equal(readFile(t, files[0]), good) {
			t.Error("the corrupt cache entry was not replaced by the layer extracted again")
		}
	})

	t.Run("benchmark RDM blob", func(t *testing.T) {
		src := readFile(t, filepath.Join(data, "rdms.npy"))
		sum := sha256.Sum256(src)
		key := "benchmarks/blobs/sha256/" + hex.EncodeToString(sum[:])
		file := filepath.Join(bucket, filepath.FromSlash(key))
		b := readFile(t, file)
		// One dissimilarity of subject 3 altered at (2, 5) and (5, 2)
		// alike: the RDM set still passes every check of its content.
		const n, subjects = 8, 4
		for _, at := range []int{3*n*n + 2*n + 5, 3*n*n + 5*n + 2} {
			b[len(b)-8*(subjects*n*n-at)+6] ^= 0x01
		}
		writeFile(t, file, b)
		_, errOut, err := score("--fresh")
		if err == nil {
			t.Fatalf("scored over a corrupt benchmark blob:\n%s", errOut)
		}
		for _, s := range []string{key, "corrupt", "re-add the benchmark"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not say %q", err, s)
			}
		}
		out, _, err := benchRun(t, "benchmarks", "add", "--store", store, manifest)
		if err != nil || !strings.Contains(out, "rdms.npy was corrupt and has been replaced") {
			t.Fatalf("re-add: %v\n%s", err, out)
		}
		got, errOut, err := score("--fresh")
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("score after the repair: %v, %v\nwant %v\n%s", got, err, want, errOut)
		}
	})

	t.Run("stimulus blob", func(t *testing.T) {
		sum := sha256.Sum256(readFile(t, filepath.Join(data, "images", "cup.png")))
		key := "benchmarks/blobs/sha256/" + hex.EncodeToString(sum[:])
		file := filepath.Join(bucket, filepath.FromSlash(key))
		good := readFile(t, file)
		b := bytes.Clone(good)
		b[len(b)/2] ^= 0x08
		writeFile(t, file, b)
		// Without the activation cache, so the images are read.
		_, errOut, err := score("--fresh", "--cache-limit", "0")
		if err == nil || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), "re-add the benchmark") {
			t.Fatalf("score over a corrupt image: %v, want an error naming %s\n%s", err, key, errOut)
		}
		if errors.Is(err, scoring.ErrBadModel) || !errors.Is(err, scoring.ErrInternal) {
			t.Errorf("a corrupt stored image is blamed on the model: %v", err)
		}
		writeFile(t, file, good)
	})

	t.Run("model RDM", func(t *testing.T) {
		file := filepath.Join(bucket, "rdms", "models", entry, "lab2026.IT.npy")
		good := readFile(t, file)
		route := "/api/v1/models/" + entry + "/rdm/lab2026.IT"
		base, logs, stop := serveStore(t, store, db)
		// As in the issue: a well-formed RDM of -123 written over it. It
		// has no checksum, so it is not served.
		var forged bytes.Buffer
		if err := npy.Write(&forged, []int{28}, slicesRepeat(-123.0, 28)); err != nil {
			t.Fatal(err)
		}
		writeFile(t, file, forged.Bytes())
		if code, body := httpGet(t, base+route); code == http.StatusOK || strings.Contains(body, "-123") {
			t.Errorf("forged model RDM: %d %s, want an error", code, body)
		}
		// One bit flipped: it fails its checksum.
		b := bytes.Clone(good)
		b[len(b)/2] ^= 0x20
		writeFile(t, file, b)
		code, body := httpGet(t, base+route)
		if code != http.StatusInternalServerError || !strings.Contains(body, "internal error") || strings.Contains(body, "rdms/") {
			t.Errorf("corrupt model RDM: %d %s, want 500 internal error, naming nothing", code, body)
		}
		stop()
		if !strings.Contains(logs.String(), "rdms/models/"+entry+"/lab2026.IT.npy") {
			t.Errorf("the server log does not name the corrupt object:\n%s", logs.String())
		}

		// Scoring again finds the stored score but not a good RDM beside
		// it: it computes the RDM again; the score is unchanged.
		got, errOut, err := score()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("score again: %v, %v\nwant %v\n%s", got, err, want, errOut)
		}
		if !strings.Contains(errOut, "recompute") {
			t.Errorf("no recompute on stderr:\n%s", errOut)
		}
		if !bytes.Equal(readFile(t, file), good) {
			t.Error("the model RDM computed again differs from the one first stored")
		}
		base, _, stop = serveStore(t, store, db)
		defer stop()
		code, body = httpGet(t, base+route)
		var pair struct{ Model []float64 }
		if err := json.Unmarshal([]byte(body), &pair); code != http.StatusOK || err != nil || len(pair.Model) != 28 {
			t.Errorf("repaired model RDM: %d %s", code, body)
		}
	})
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile replaces a stored object's bytes in place, as a disk fault
// would, keeping the file's identity.
func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func slicesRepeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, string(b)
}

// serveStore runs 'cortexbench serve' (no workers) over the store on a
// loopback port until stop is called; logs is its output.
func serveStore(t *testing.T, store, db string) (base string, logs *syncBuffer, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		env := &Env{Stdout: logs, Stderr: logs, Getenv: func(string) string { return "" }}
		done <- runServe(ctx, env, []string{"--addr", addr, "--store", store, "--db", db, "--no-workers"})
	}()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v\n%s", err, logs.String())
		}
	}
	base = "http://" + addr
	for i := 0; ; i++ {
		if r, err := http.Get(base + "/api/v1/benchmarks"); err == nil {
			r.Body.Close()
			return base, logs, stop
		}
		if i > 100 {
			stop()
			t.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
