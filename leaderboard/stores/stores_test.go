package stores_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/stores"
	"github.com/cortexbench/cortexbench/storage/objstore"
	"github.com/cortexbench/cortexbench/storage/rdmstore"
)

// fakeBench knows a public RSA benchmark, a private one and a ridge one.
type fakeBench struct{}

func (fakeBench) List(context.Context) ([]benchmarks.Summary, error) { return nil, nil }
func (fakeBench) Open(_ context.Context, ref string) (*benchmarks.Loaded, error) {
	return nil, fmt.Errorf("open %s: not in this fake", ref)
}
func (fakeBench) Benchmark(_ context.Context, ref string) (*benchmarks.Benchmark, error) {
	rsa := benchmarks.Metric{Kind: benchmarks.MetricRSA, Distance: "correlation", Comparison: "spearman"}
	switch ref {
	case "pub":
		return &benchmarks.Benchmark{ID: ref, Metric: rsa, Dataset: benchmarks.Dataset{Kind: benchmarks.KindRDM}}, nil
	case "priv":
		return &benchmarks.Benchmark{ID: ref, Private: true, Metric: rsa, Dataset: benchmarks.Dataset{Kind: benchmarks.KindRDM}}, nil
	case "ridge":
		return &benchmarks.Benchmark{ID: ref, Metric: benchmarks.Metric{Kind: benchmarks.MetricRidge}, Dataset: benchmarks.Dataset{Kind: benchmarks.KindResponses}}, nil
	}
	return nil, fmt.Errorf("benchmark %s: %w", ref, benchmarks.ErrNotFound)
}

func TestPrivateAndMissing(t *testing.T) {
	ctx := context.Background()
	bucket := objstore.NewMemory()
	models := rdmstore.Store{Bucket: bucket}
	if err := models.PutModelRDM(ctx, "m", "priv", 3, []float64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	rdms := stores.RDMs{Models: models, Bench: fakeBench{}}
	if _, _, err := rdms.ModelRDM(ctx, "m", "priv"); leaderboard.ErrorCode(err) != leaderboard.EFORBIDDEN {
		t.Errorf("model RDM on a private benchmark: %v, want forbidden", err)
	}
	if _, _, err := rdms.BrainRDM(ctx, "priv"); leaderboard.ErrorCode(err) != leaderboard.EFORBIDDEN {
		t.Errorf("brain RDM of a private benchmark: %v, want forbidden", err)
	}
	if _, _, err := rdms.ModelRDM(ctx, "m", "pub"); leaderboard.ErrorCode(err) != leaderboard.ENOTFOUND || !strings.Contains(leaderboard.ErrorMessage(err), "no model RDM of m on pub") {
		t.Errorf("missing model RDM: %v, want not found", err)
	}
	if _, err := stores.PublicBenchmark(ctx, fakeBench{}, "nope"); leaderboard.ErrorMessage(err) != "no benchmark nope" {
		t.Errorf("unknown benchmark: %v", err)
	}
	if _, _, err := rdms.BrainRDM(ctx, "ridge"); leaderboard.ErrorCode(err) != leaderboard.ENOTFOUND {
		t.Errorf("brain RDM of an encoding benchmark: %v, want not found", err)
	}
	// The stored RDM of a private benchmark stays readable for comparisons.
	if n, v, err := models.ModelRDM(ctx, "m", "priv"); err != nil || n != 3 || len(v) != 3 {
		t.Errorf("stored RDM: %d %v %v", n, v, err)
	}
}

func TestComparerErrors(t *testing.T) {
	c := stores.NewComparer(fakeBench{}, rdmstore.Store{Bucket: objstore.NewMemory()})
	_, err := c.Compare(context.Background(), "nope", nil)
	if leaderboard.ErrorCode(err) != leaderboard.ENOTFOUND || leaderboard.ErrorMessage(err) != "no benchmark nope" {
		t.Errorf("unknown benchmark: %v", err)
	}
	_, err = c.Compare(context.Background(), "ridge", nil)
	if leaderboard.ErrorCode(err) != leaderboard.EUNSUPPORTED || !strings.HasPrefix(leaderboard.ErrorMessage(err), "ridge is scored by ridge") ||
		!strings.HasSuffix(leaderboard.ErrorMessage(err), "model comparisons are computed for RSA benchmarks only for now") {
		t.Errorf("encoding benchmark: %v", err)
	}
	_, err = c.Compare(context.Background(), "pub", nil)
	if leaderboard.ErrorCode(err) != leaderboard.EINTERNAL || leaderboard.ErrorMessage(err) != "internal error" {
		t.Errorf("failure to open: %v, want internal", err)
	}
}
