package runner

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
)

// TestCorruptModelRDMRewritten damages the model RDMs the runner kept with
// its scores (issue 15, finding 3): a run with the stored scores' settings
// computes them again and rewrites them byte for byte, returning the
// stored scores and storing none; a run with other candidate settings
// leaves the RDM of a held-out selection (rewriting it could give another
// layer's RDM).
func TestCorruptModelRDMRewritten(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeDataset(t, dir, 40, 3)
	reg := benchmarks.NewRegistry(objstore.NewMemory())
	for _, m := range []string{"pub.yaml", "priv.yaml"} {
		if _, err := reg.Add(ctx, filepath.Join(dir, m), benchmarks.AddOptions{}); err != nil {
			t.Fatalf("add %s: %v", m, err)
		}
	}
	bucket := objstore.NewMemory()
	rdms := rdmstore.Store{Bucket: bucket}
	res := &memResults{}
	cfg := DefaultConfig()
	cfg.Bootstrap = 50
	var stages []string
	runWith := func(cfg Config) []string {
		t.Helper()
		stages = nil
		run, err := NewRunner(cfg, reg, res, rdms, func(e Event) { stages = append(stages, e.Stage) })
		if err != nil {
			t.Fatal(err)
		}
		scores, err := run.Run(ctx, newFakeModel(6, 30, 2), []string{"synth.pub", "synth.priv"})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range scores {
			k := scoring.Key{ModelHash: s.ModelHash, BenchmarkVersion: s.BenchmarkVersion, ScorerVersion: s.ScorerVersion}
			if stored, ok, _ := res.GetScore(ctx, k); !ok || !reflect.DeepEqual(stored, s) {
				t.Errorf("%s: run returned %+v, stored %+v", s.BenchmarkID, s, stored)
			}
		}
		return stages
	}
	runWith(cfg)
	model := newFakeModel(6, 30, 2)
	read := func(id string) []byte {
		rc, err := bucket.Get(ctx, rdmstore.Key(model.Hash(), id))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return b
	}
	good := map[string][]byte{"synth.pub": read("synth.pub"), "synth.priv": read("synth.priv")}
	damage := func() {
		for id, b := range good {
			bad := bytes.Clone(b)
			bad[len(bad)/2] ^= 0x01
			if err := bucket.Put(ctx, rdmstore.Key(model.Hash(), id), bytes.NewReader(bad)); err != nil {
				t.Fatal(err)
			}
		}
	}
	damage()
	puts := res.puts

	// Other settings: the public score's layer was chosen with the
	// stored settings, so its RDM is left; the private one is scored on
	// the layer committed by the stored public score whatever the
	// settings, so it is rewritten.
	other := cfg
	other.Candidates = AllLayers
	runWith(other)
	if bytes.Equal(read("synth.pub"), good["synth.pub"]) {
		t.Error("public RDM rewritten by a run with other settings")
	}
	if !bytes.Equal(read("synth.priv"), good["synth.priv"]) {
		t.Error("private RDM (committed layer) not rewritten as first stored")
	}

	if st := runWith(cfg); !slices.Contains(st, "recompute") {
		t.Errorf("no recompute over corrupt RDMs: stages %v", st)
	}
	for id, b := range good {
		if !bytes.Equal(read(id), b) {
			t.Errorf("%s: RDM computed again differs from the one first stored", id)
		}
	}
	if res.puts != puts {
		t.Errorf("%d scores stored by the recomputation, want none", res.puts-puts)
	}
	if st := runWith(cfg); slices.Contains(st, "recompute") {
		t.Errorf("recomputed over intact RDMs: stages %v", st)
	}
}
