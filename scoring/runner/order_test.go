package runner

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// TestRunGroupsSameCandidates: public benchmarks whose metrics take the
// same candidate layers are scored next to each other (the model keeps
// one ONNX Runtime session between extractions of the same layers), in
// their order otherwise, dependent ones last; and the scores are those of
// each benchmark run alone.
func TestRunGroupsSameCandidates(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 60, 3)
	pub, err := os.ReadFile(filepath.Join(dir, "pub.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// a second RSA benchmark on the same stimuli and candidates: another
	// id and other selection splits
	two := strings.Replace(string(pub), "id: synth.pub\n", "id: synth.pub2\n", 1)
	two = strings.Replace(two, "seed: 3}", "seed: 4}", 1)
	if strings.Count(two, "synth.pub2") != 1 || !strings.Contains(two, "seed: 4}") {
		t.Fatalf("pub.yaml is not as this test expects:\n%s", pub)
	}
	if err := os.WriteFile(filepath.Join(dir, "pub2.yaml"), []byte(two), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "pub2.yaml", "priv.yaml", "ridge.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	cfg := DefaultConfig()
	cfg.Bootstrap = 50
	cfg.Fresh = true
	cfg.RidgeCandidates = "spaced:3" // not the RSA benchmarks' candidates
	model := newFakeModel(8, 40, 3)
	run := func(refs ...string) ([]string, map[string]float64) {
		t.Helper()
		var order []string
		r, err := NewRunner(cfg, reg, &memResults{}, nil, func(e Event) {
			if e.Stage == "done" {
				order = append(order, e.Benchmark)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.Run(ctx, model, refs)
		if err != nil {
			t.Fatal(err)
		}
		raw := map[string]float64{}
		for _, s := range out {
			raw[s.BenchmarkID] = s.Raw
		}
		return order, raw
	}
	order, raw := run("synth.priv", "synth.pub", "synth.ridge", "synth.pub2")
	want := []string{"synth.pub", "synth.pub2", "synth.ridge", "synth.priv"}
	if !slices.Equal(order, want) {
		t.Errorf("scored in the order %v, want %v", order, want)
	}
	for _, id := range want {
		if _, alone := run(id); alone[id] != raw[id] {
			t.Errorf("%s: %v in the run, %v alone", id, raw[id], alone[id])
		}
	}
}
