package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/ort/ortchild"
)

// asCLIEnv, set in a child process of the test binary, makes it run the
// command line instead of the tests: a real process the test can SIGKILL.
const asCLIEnv = "CORTEXBENCH_TEST_AS_CLI"

func TestMain(m *testing.M) {
	// The server's validation child re-executes this test binary.
	ortchild.MainIfChild()
	if args := os.Getenv(asCLIEnv); args != "" {
		env := &Env{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := Run(context.Background(), env, argv); err != nil {
			fmt.Fprintln(os.Stderr, "cortexbench:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestKilledRunResumes kills a scoring process with SIGKILL as soon as its
// first benchmark is stored, runs the same command again, and checks that
// the scores equal those of an uninterrupted run and that the benchmark
// finished before the kill was not computed again.
func TestKilledRunResumes(t *testing.T) {
	ortAvailable(t)
	data := t.TempDir()
	// Enough images and resamples that each benchmark takes a while: the
	// kill lands while the second one is being computed.
	var names []string
	for i := range 40 {
		names = append(names, fmt.Sprintf("img%02d.png", i))
	}
	var ids []string
	for k := 0; k < 3; k++ {
		dir := filepath.Join(data, fmt.Sprint(k))
		id := fmt.Sprintf("kill%d.IT", k)
		ids = append(ids, id)
		writeBenchDataset(t, dir, fmt.Sprintf(benchMaintainerManifest, id, id, smallHeldOut, id), names, 3,
			func(s, i, j int) float64 { return benchMaintainerRDM(s+k, i, j) })
	}
	model := filepath.Join(data, "tiny.onnx")
	if err := os.WriteFile(model, onnxtest.TinyCNN().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	env, _, _ := modelsEnv(t)
	lib := env.Getenv("CORTEXBENCH_ONNXRUNTIME_LIB")
	setup := func(state string) []string {
		store := filepath.Join(state, "objects")
		for k := range ids {
			if _, _, err := benchRun(t, "benchmarks", "add", "--store", store, filepath.Join(data, fmt.Sprint(k), "manifest.yaml")); err != nil {
				t.Fatal(err)
			}
		}
		return []string{"score", "--model", model, "--name", "tiny", "--preprocess", "size=8,crop=1,scale=0.0039,offset=0,layout=NCHW",
			"--benchmark", strings.Join(ids, ","), "--store", store, "--db", filepath.Join(state, "registry.db"), "--bootstrap", "2000",
			"--onnxruntime-lib", lib, "--json"}
	}
	child := func(args []string) *exec.Cmd {
		argv, _ := json.Marshal(args)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), asCLIEnv+"="+string(argv))
		return cmd
	}
	scores := func(out []byte) map[string]string {
		var rows []map[string]any
		if err := json.Unmarshal(out, &rows); err != nil {
			t.Fatalf("score --json: %v\n%s", err, out)
		}
		m := map[string]string{}
		for _, r := range rows {
			m[r["benchmark"].(string)] = fmt.Sprint(r["raw"], r["se"], r["ci"], r["layer"])
		}
		return m
	}

	whole, err := child(setup(t.TempDir())).Output()
	if err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	want := scores(whole)

	args := setup(t.TempDir())
	cmd := child(args)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " · done · ") && !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed || err == nil {
		t.Fatalf("the run was not killed midway (killed %v, exit %v)", killed, err)
	}
	out, err := child(args).CombinedOutput()
	if err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "· cached"); n < 1 {
		t.Errorf("the resumed run recomputed the benchmark stored before the kill:\n%s", out)
	}
	resumed, err := child(args).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := scores(resumed)
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: after a kill and a resume %s, uninterrupted %s", id, got[id], w)
		}
	}
}
