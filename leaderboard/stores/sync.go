package stores

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/storage/registry"
)

// Catalogue lists the current benchmarks (the benchmark registry).
type Catalogue interface {
	List(ctx context.Context) ([]benchmarks.Summary, error)
}

// BenchmarkRecords records benchmarks in the registry database.
type BenchmarkRecords interface {
	PutBenchmark(ctx context.Context, b registry.Benchmark) error
}

// SyncBenchmarks mirrors the benchmark catalogue into the registry
// database (ids, versions, parents, privacy and the servable summary),
// where submissions find the benchmarks to score on.
func SyncBenchmarks(ctx context.Context, cat Catalogue, db BenchmarkRecords) error {
	bs, err := cat.List(ctx)
	if err != nil {
		return err
	}
	for _, b := range bs {
		meta, err := json.Marshal(b)
		if err != nil {
			return err
		}
		if err := db.PutBenchmark(ctx, registry.Benchmark{ID: b.ID, Version: b.Version, Parent: b.Parent, Private: b.Private, Metadata: meta}); err != nil {
			return fmt.Errorf("record benchmark %s: %w", b.ID, err)
		}
	}
	return nil
}
