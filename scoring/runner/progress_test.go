package runner

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/storage/objstore"
)

// Issue 17: progress said "ceiled NaN" for a benchmark without a ceiling,
// and a score stored minutes earlier by the same run was announced with
// advice to use --fresh. The advice is given only when a run asks for
// what the stored score cannot give.
func TestProgressLines(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 60, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml", "ridge.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	res := &memResults{}
	cfg := DefaultConfig()
	cfg.Bootstrap = 50
	cfg.RidgeCandidates = AllButOutput
	model := newFakeModel(8, 40, 3)
	run := func(cfg Config, refs ...string) map[string][]Event {
		t.Helper()
		got := map[string][]Event{}
		r, err := NewRunner(cfg, reg, res, nil, func(e Event) {
			if e.Stage == "done" || e.Stage == "cached" {
				got[e.Benchmark] = append(got[e.Benchmark], e)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Run(ctx, model, refs); err != nil {
			t.Fatal(err)
		}
		for b, evs := range got {
			for _, e := range evs {
				if strings.Contains(e.Message, "NaN") {
					t.Errorf("%s %s: %q", b, e.Stage, e.Message)
				}
			}
		}
		return got
	}

	// First run: the public partner is computed, then read again for the
	// private benchmark: quietly.
	first := run(cfg, "synth.pub", "synth.priv", "synth.ridge")
	ridge := first["synth.ridge"]
	if len(ridge) != 1 || ridge[0].Stage != "done" || !strings.HasPrefix(ridge[0].Message, "raw ") || !strings.Contains(ridge[0].Message, "(no ceiling), layer L") {
		t.Errorf("ridge (no ceiling) progress %+v, want 'raw X (no ceiling), layer L…'", ridge)
	}
	pub := first["synth.pub"]
	if len(pub) == 0 || pub[0].Stage != "done" || !strings.HasPrefix(pub[0].Message, "ceiled ") {
		t.Errorf("public benchmark progress %+v, want 'ceiled X (raw Y, layer L)'", pub)
	}
	for b, evs := range first {
		for _, e := range evs {
			if strings.Contains(e.Message, "--fresh") {
				t.Errorf("first run, %s: advice to use --fresh: %q", b, e.Message)
			}
			if e.Stage == "cached" && !strings.HasPrefix(e.Message, "stored earlier in this run") {
				t.Errorf("first run, %s: a score stored by this run read back as %q", b, e.Message)
			}
		}
	}

	// Another process, the same settings: stored scores, no advice.
	for b, evs := range run(cfg, "synth.pub", "synth.priv", "synth.ridge") {
		for _, e := range evs {
			if e.Stage != "cached" || !strings.HasPrefix(e.Message, "stored score: ") || strings.Contains(e.Message, "--fresh") {
				t.Errorf("second run, %s: %s %q, want a stored score without advice", b, e.Stage, e.Message)
			}
		}
	}

	// Other candidate layers asked for: the stored score says so.
	other := cfg
	other.Candidates = AllLayers
	got := run(other, "synth.pub")["synth.pub"]
	if len(got) != 1 || !strings.Contains(got[0].Message, "computed with layers all-but-output, not all as asked") || !strings.Contains(got[0].Message, "--fresh") {
		t.Errorf("run with other candidates: %+v, want the stored score's layers and the --fresh advice", got)
	}
}
