package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// reducingModel is the fake model with a reduction name, recording what
// the runner asked it.
type reducingModel struct {
	*fakeModel
	name  string
	asked []string
	used  map[string]models.UsedImages
}

func (m *reducingModel) ReductionFor(ctx context.Context, used models.UsedImages) (string, error) {
	m.asked = append(m.asked, used.Benchmark)
	if m.used == nil {
		m.used = map[string]models.UsedImages{}
	}
	m.used[used.Benchmark] = used
	return m.name, nil
}

// keptRDMs records the model RDMs the runner keeps.
type keptRDMs struct{ puts []string }

func (k *keptRDMs) PutModelRDM(_ context.Context, modelHash, benchmarkID string, n int, upper []float64) error {
	k.puts = append(k.puts, benchmarkID)
	return nil
}

// Issue 16: scores under three reductions (the default, pool:1024 and a
// pca) are stored under three keys, none overwriting another, each saying
// its reduction; a private benchmark is readied again after its partner;
// the images a benchmark shows are named by content; only the default's
// model RDMs are kept (they are stored by model and benchmark alone).
func TestRunnerKeysReductionsApart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 40, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml", "ridge.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ids := []string{"synth.pub", "synth.priv", "synth.ridge"}
	cfg := DefaultConfig()
	cfg.Bootstrap = 50
	cfg.RidgeCandidates = AllButOutput
	res, kept := &memResults{}, &keptRDMs{}
	run, err := NewRunner(cfg, reg, res, kept, nil)
	if err != nil {
		t.Fatal(err)
	}
	reds := []string{"", "pool:1024", "pca:3@0123456789ab"}
	for _, red := range reds {
		m := &reducingModel{fakeModel: newFakeModel(8, 40, 3), name: red}
		got, err := run.Run(ctx, m, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.ScorerVersion != scoring.ScorerVersionFor(red) || s.Conventions.Reduction != red {
				t.Errorf("%s under %q: scorer version %q, reduction %q", s.BenchmarkID, red, s.ScorerVersion, s.Conventions.Reduction)
			}
		}
		// Public benchmarks first; the private one is readied, then its
		// partner scored (read back), then it is readied again.
		if want := []string{"synth.pub", "synth.ridge", "synth.priv", "synth.pub", "synth.priv"}; !slices.Equal(m.asked, want) {
			t.Errorf("under %q the runner asked for %v, want %v", red, m.asked, want)
		}
		if want := map[string]int{"": 2, "pool:1024": 0, "pca:3@0123456789ab": 0}[red]; len(kept.puts) != want {
			t.Errorf("under %q the model RDMs of %v were kept, want %d (the default's RSA benchmarks)", red, kept.puts, want)
		}
		kept.puts = nil
		if red == "" {
			u := m.used["synth.pub"]
			content, err := u.Content(ctx)
			if err != nil {
				t.Fatal(err)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*", "*.png"))
			onDisk := map[string]bool{}
			for _, f := range files {
				b, _ := os.ReadFile(f)
				sum := sha256.Sum256(b)
				onDisk[hex.EncodeToString(sum[:])] = true
			}
			if len(content) != 40 || u.Stimuli != 40 {
				t.Fatalf("%d image hashes, %d stimuli; want 40", len(content), u.Stimuli)
			}
			for h := range content {
				if !onDisk[h] {
					t.Errorf("image hash %s is not the hash of any of the dataset's %d files", h[:12], len(files))
				}
			}
		}
	}
	if res.puts != 9 || len(res.m) != 9 {
		t.Fatalf("%d puts, %d stored scores; want 9 and 9 (3 benchmarks × 3 reductions)", res.puts, len(res.m))
	}
	// The default again: read back, not computed.
	m := &reducingModel{fakeModel: newFakeModel(8, 40, 3)}
	if _, err := run.Run(ctx, m, ids); err != nil || res.puts != 9 || m.extracts != 0 {
		t.Errorf("the default again: %d puts, %d extractions (%v)", res.puts, m.extracts, err)
	}
}
