package benchmarks

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

var updateCorpus = flag.Bool("update-corpus", false, "regenerate testdata/corpus (review the diff)")

const corpusDir = "testdata/corpus"

const validManifest = `# A tiny valid benchmark: 4 images, 3 subjects' RDMs.
id: test.valid
title: Tiny test benchmark
parent: test
metadata:
  species: synthetic
  region: none
  method: generated
  licence: CC0-1.0
  citation: "@misc{tiny, title = {Tiny test benchmark}, year = {2026}}"
stimuli:
  dir: stimuli
  labels: {csv: labels.csv, column: category, match: filename}
rdms: {file: rdms.npy}
metric:
  rsa: {distance: correlation, comparison: spearman}
ceiling: {method: rsa-nili}
splits: {count: 4, selection_fraction: 0.5, stratify_by_label: true, seed: 7}
scoring: {selection: held-out}
`

// testRDMs returns s subjects' n×n RDMs: symmetric, zero diagonal, with
// subject-specific noise so that the ceiling is defined.
func testRDMs(s, n int) []float64 {
	out := make([]float64, s*n*n)
	for k := 0; k < s; k++ {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				v := 0.2 + 0.1*float64(i+2*j) + 0.03*float64((k*7+i*3+j*5)%4)
				out[k*n*n+i*n+j], out[k*n*n+j*n+i] = v, v
			}
		}
	}
	return out
}

func testPNG(t testing.TB, c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := 0; i < 64; i++ {
		img.Set(i%8, i/8, color.RGBA{c.R + uint8(i), c.G, c.B, 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// corpusCase is one broken input and the error it must give.
type corpusCase struct {
	name    string
	file    string // suffix of ValidationError.File
	problem string // substring of the message
	mutate  func(t testing.TB, dir string)
}

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeArray(t testing.TB, dir, name string, shape []int, data []float64) {
	t.Helper()
	var b bytes.Buffer
	if err := npy.Write(&b, shape, data); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, name, b.Bytes())
}

func editManifest(t testing.TB, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "manifest.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(old)) {
		t.Fatalf("manifest has no %q", old)
	}
	writeFile(t, dir, "manifest.yaml", bytes.Replace(data, []byte(old), []byte(new), 1))
}

// writeValid writes the tiny valid dataset into dir.
func writeValid(t testing.TB, dir string) {
	for i, n := range []string{"a", "b", "c", "d"} {
		writeFile(t, dir, "stimuli/"+n+".png", testPNG(t, color.RGBA{uint8(60 * i), uint8(200 - 40*i), 100, 255}))
	}
	writeFile(t, dir, "labels.csv", []byte("filename,category\na.png,animate\nb.png,animate\nc.png,inanimate\nd.png,inanimate\n"))
	writeArray(t, dir, "rdms.npy", []int{3, 4, 4}, testRDMs(3, 4))
	writeFile(t, dir, "manifest.yaml", []byte(validManifest))
}

var corpus = []corpusCase{
	{"wrong-shape", "rdms.npy", "must be square", func(t testing.TB, d string) {
		writeArray(t, d, "rdms.npy", []int{3, 4, 5}, make([]float64, 60))
	}},
	{"not-an-rdm-set", "rdms.npy", "is not an RDM set", func(t testing.TB, d string) {
		writeArray(t, d, "rdms.npy", []int{16}, make([]float64, 16))
	}},
	{"asymmetric-rdm", "rdms.npy", "subject 1: not symmetric: entry (0, 2) differs from (2, 0)", func(t testing.TB, d string) {
		r := testRDMs(3, 4)
		r[16+2] += 0.5
		writeArray(t, d, "rdms.npy", []int{3, 4, 4}, r)
	}},
	{"nonzero-diagonal", "rdms.npy", "subject 2: diagonal entry (3, 3) is not zero", func(t testing.TB, d string) {
		r := testRDMs(3, 4)
		r[32+15] = 0.1
		writeArray(t, d, "rdms.npy", []int{3, 4, 4}, r)
	}},
	{"nan", "rdms.npy", "subject 0: entry (1, 2) is not finite", func(t testing.TB, d string) {
		r := testRDMs(3, 4)
		r[6], r[9] = math.NaN(), math.NaN()
		writeArray(t, d, "rdms.npy", []int{3, 4, 4}, r)
	}},
	{"not-npy", "rdms.npy", "not a readable .npy array", func(t testing.TB, d string) {
		writeFile(t, d, "rdms.npy", []byte("subject,i,j,value\n"))
	}},
	{"missing-data-file", "rdms_all.npy", "file not found", func(t testing.TB, d string) {
		editManifest(t, d, "file: rdms.npy", "file: rdms_all.npy")
	}},
	{"npz-missing-key", "rdms.npz", `has no member "IT"`, func(t testing.TB, d string) {
		writeFile(t, d, "rdms.npz", []byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
		editManifest(t, d, "file: rdms.npy", "file: rdms.npz, key: IT")
	}},
	{"missing-image", "stimuli/e.png", "image listed in order.txt (entry 4) is missing from stimuli", func(t testing.TB, d string) {
		writeFile(t, d, "order.txt", []byte("a.png\nb.png\nc.png\ne.png\n"))
		editManifest(t, d, "dir: stimuli", "dir: stimuli\n  order: order.txt")
	}},
	{"undecodable-image", "stimuli/c.png", "cannot decode the image", func(t testing.TB, d string) {
		writeFile(t, d, "stimuli/c.png", []byte("\x89PNG\r\n\x1a\nthis is not a PNG"))
	}},
	{"image-count", "rdms.npy", "there are 5 images (image count must equal data columns)", func(t testing.TB, d string) {
		writeFile(t, d, "stimuli/e.png", testPNG(t, color.RGBA{1, 2, 3, 255}))
		writeFile(t, d, "labels.csv", []byte("filename,category\na.png,x\nb.png,x\nc.png,y\nd.png,y\ne.png,y\n"))
	}},
	{"responses-columns", "responses.npy", "responses have 5 stimulus columns but stimuli has 4 images", func(t testing.TB, d string) {
		writeArray(t, d, "responses.npy", []int{2, 5}, make([]float64, 10))
		editManifest(t, d, "rdms: {file: rdms.npy}", "responses: {file: responses.npy}")
		editManifest(t, d, "rsa: {distance: correlation, comparison: spearman}", "ridge: {alphas: [1, 10]}")
		editManifest(t, d, "{method: rsa-nili}", "{method: none, reason: no repeats}")
	}},
	{"labels-count", "labels.csv", "has 3 label rows but there are 4 images", func(t testing.TB, d string) {
		writeFile(t, d, "labels.csv", []byte("filename,category\na.png,x\nb.png,x\nc.png,y\n"))
	}},
	{"unknown-key", "manifest.yaml", "line 18: unknown key ceilng", func(t testing.TB, d string) {
		editManifest(t, d, "ceiling: {method: rsa-nili}", "ceiling: {method: rsa-nili}\nceilng: {method: none}")
	}},
	{"path-leaves-folder", "manifest.yaml", `rdms.file "../valid/rdms.npy": path leaves the manifest's folder`, func(t testing.TB, d string) {
		editManifest(t, d, "file: rdms.npy", "file: ../valid/rdms.npy")
	}},
	{"absolute-path", "manifest.yaml", `stimuli.dir "/etc": path leaves the manifest's folder`, func(t testing.TB, d string) {
		editManifest(t, d, "dir: stimuli", "dir: /etc")
	}},
	{"private-without-partner", "manifest.yaml", "a private benchmark needs a partner", func(t testing.TB, d string) {
		editManifest(t, d, "parent: test", "parent: test\nprivate: true")
	}},
	{"group-rdm-nili", "rdms.npy", "ceiling rsa-nili needs at least 2 subjects", func(t testing.TB, d string) {
		writeArray(t, d, "rdms.npy", []int{4, 4}, testRDMs(1, 4))
	}},
	// duplicate-id is added after valid/: same id, different data.
	{"duplicate-id", "", "duplicate-id/manifest.yaml: add test.valid: benchmark already exists with different data", func(t testing.TB, d string) {
		r := testRDMs(3, 4)
		r[1], r[4] = 0.9, 0.9
		writeArray(t, d, "rdms.npy", []int{3, 4, 4}, r)
	}},
}

// TestGenerateCorpus rewrites testdata/corpus with -update-corpus.
func TestGenerateCorpus(t *testing.T) {
	if !*updateCorpus {
		t.Skip("run with -update-corpus to regenerate testdata/corpus")
	}
	if err := os.RemoveAll(corpusDir); err != nil {
		t.Fatal(err)
	}
	writeValid(t, filepath.Join(corpusDir, "valid"))
	for _, c := range corpus {
		dir := filepath.Join(corpusDir, c.name)
		writeValid(t, dir)
		c.mutate(t, dir)
	}
	// Seeds for FuzzParseManifest, in the go test fuzz v1 format.
	fuzzDir := filepath.Join("testdata", "fuzz", "FuzzParseManifest")
	if err := os.RemoveAll(fuzzDir); err != nil {
		t.Fatal(err)
	}
	seeds := map[string]string{
		"valid":       validManifest,
		"unknown-key": validManifest + "ceilng: {method: none}\n",
		"anchors":     "id: &a x\ntitle: *a\nmetadata: &m {species: *a}\n",
		"alias-bomb":  "a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: &c [*b, *b, *b, *b]\nid: [*c, *c]\n",
		"tabs":        "id:\ttest\n\ttitle: x\n",
		"ridge-sessions": validManifest[:strings.Index(validManifest, "stimuli:")] + `sessions:
  - id: "1"
    responses: {file: r.npy}
    repeats: {file: raw.npy}
    stimuli: {zip: s.zip, order: order.txt}
  - id: b2
    responses: {file: r.npz, key: b2}
    stimuli: {dir: b2, labels: {csv: b2.csv, column: c}}
metric:
  ridge: {folds: 3, alphas: [0.1, 1e3], seed: 2}
ceiling: {method: split-half, session: "1", splits: 10}
splits: {count: 3}
`,
	}
	for name, src := range seeds {
		writeFile(t, fuzzDir, name, []byte("go test fuzz v1\n[]byte("+strconv.Quote(src)+")\n"))
	}
}

func objectCount(t *testing.T, s *objstore.Memory) int {
	t.Helper()
	all, err := objstore.ListAll(context.Background(), s, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

// TestCorpus adds every broken input of testdata/corpus and checks that it
// is refused with an error naming the file and the problem, and that
// nothing was written.
func TestCorpus(t *testing.T) {
	ctx := context.Background()
	for _, c := range corpus {
		t.Run(c.name, func(t *testing.T) {
			store := objstore.NewMemory()
			reg := NewRegistry(store)
			if c.name == "duplicate-id" {
				if _, err := reg.Add(ctx, filepath.Join(corpusDir, "valid", "manifest.yaml"), AddOptions{}); err != nil {
					t.Fatalf("add valid: %v", err)
				}
			}
			before := objectCount(t, store)
			_, err := reg.Add(ctx, filepath.Join(corpusDir, c.name, "manifest.yaml"), AddOptions{})
			if err == nil {
				t.Fatalf("added; want an error containing %q", c.problem)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), c.problem) {
				t.Errorf("error %q does not contain %q", err, c.problem)
			}
			if c.file != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("error %v is not a *ValidationError", err)
				}
				if !strings.HasSuffix(filepath.ToSlash(ve.File), c.file) {
					t.Errorf("error names file %q, want …%s", ve.File, c.file)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("error does not match ErrInvalid")
				}
			} else {
				if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--new-version") {
					t.Errorf("error %v: want ErrExists saying how to add a new version", err)
				}
			}
			if after := objectCount(t, store); after != before {
				t.Errorf("store went from %d to %d objects: a refused import wrote something", before, after)
			}
		})
	}
}

// TestCorpusSymlinkOut checks that a symlink pointing out of the
// manifest's folder is refused (created here: git does not carry every
// platform's symlinks).
func TestCorpusSymlinkOut(t *testing.T) {
	outside := t.TempDir()
	writeArray(t, outside, "rdms.npy", []int{3, 4, 4}, testRDMs(3, 4))
	dir := t.TempDir()
	writeValid(t, dir)
	os.Remove(filepath.Join(dir, "rdms.npy"))
	if err := os.Symlink(filepath.Join(outside, "rdms.npy"), filepath.Join(dir, "rdms.npy")); err != nil {
		t.Skipf("cannot create symlinks: %v", err)
	}
	store := objstore.NewMemory()
	_, err := NewRegistry(store).Add(context.Background(), filepath.Join(dir, "manifest.yaml"), AddOptions{})
	var ve *ValidationError
	if !errors.As(err, &ve) || filepath.Base(ve.File) != "rdms.npy" || !strings.Contains(ve.Problem, "leaves the manifest's folder") {
		t.Fatalf("error %v: want rdms.npy refused as leaving the folder", err)
	}
	if n := objectCount(t, store); n != 0 {
		t.Errorf("%d objects written", n)
	}
	// A symlink that stays inside the folder is fine.
	os.Remove(filepath.Join(dir, "rdms.npy"))
	writeArray(t, dir, "data/rdms.npy", []int{3, 4, 4}, testRDMs(3, 4))
	if err := os.Symlink(filepath.Join("data", "rdms.npy"), filepath.Join(dir, "rdms.npy")); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRegistry(store).Add(context.Background(), filepath.Join(dir, "manifest.yaml"), AddOptions{}); err != nil {
		t.Fatalf("symlink inside the folder: %v", err)
	}
}
