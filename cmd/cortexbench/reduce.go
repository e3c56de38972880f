package main

import (
	"flag"
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/models/onnxrun"
	"github.com/cortexbench/cortexbench/models/reference"
)

// reduceFlags choose how wide layers are reduced (issue 16): shared by
// score, run and bench.
type reduceFlags struct {
	reduce        *string
	refImages     *int
	refSeed       *uint64
	maxLayerBytes *int64
	// data is the datasets folder the reference images are read from
	// (the command's --data).
	data *string
	pool *reference.Pool // opened on first use
}

func addReduceFlags(fs *flag.FlagSet) *reduceFlags {
	return &reduceFlags{
		reduce: fs.String("reduce", "", "how layers wider than the limit are reduced: `pool:N` (average-pool in the graph to at most N values per image; pool:4096 is the default, "+
			"and --pool-to N is the same as pool:N), pca:K (K principal components fitted on reference images the benchmark does not show; layers are first pooled to ≤ 16384 values) "+
			"or none (full activations). A score under any other reduction than the default is stored under its own scorer version (e.g. 1+pca:500@<ref>) and stays off the leaderboard"),
		refImages:     fs.Int("reference-images", reference.DefaultImages, "pca:K: the number `R` of reference images drawn (seeded) from the datasets folder's cowley2023-v4 and algonauts2019-78 images, without the benchmark's own (K ≤ R−1)"),
		refSeed:       fs.Uint64("reference-seed", 1, "pca:K: the `seed` of the reference images' draw"),
		maxLayerBytes: fs.Int64("max-layer-bytes", onnxrun.DefaultMaxLayerBytes, "none: refuse a benchmark on which one layer's activations (stimuli × values × 4) exceed `bytes`"),
	}
}

// reduction parses --reduce, or takes --pool-to N (its alias pool:N).
func (f *reduceFlags) reduction(poolTo int64) (onnxrun.Reduction, error) {
	if *f.reduce == "" {
		if poolTo <= 0 {
			return onnxrun.Reduction{}, fmt.Errorf("%w: --pool-to %d: give a positive number of values, or --reduce none for full activations", errInput, poolTo)
		}
		return onnxrun.Reduction{Kind: onnxrun.ReducePool, N: poolTo}, nil
	}
	r, err := onnxrun.ParseReduction(*f.reduce)
	if err != nil {
		return r, fmt.Errorf("%w: --reduce: %w", errInput, err)
	}
	if poolTo != onnxrun.DefaultPoolTo && (r.Kind != onnxrun.ReducePool || r.N != poolTo) {
		return r, fmt.Errorf("%w: --pool-to %d and --reduce %s disagree: give only --reduce (--pool-to N is the same as --reduce pool:N)", errInput, poolTo, r)
	}
	return r, nil
}

// apply sets m's reduction, opening the reference images for pca.
func (f *reduceFlags) apply(m *onnxrun.Model, poolTo int64) error {
	r, err := f.reduction(poolTo)
	if err != nil {
		return err
	}
	var ps onnxrun.PCASettings
	if r.Kind == onnxrun.ReducePCA {
		if f.pool == nil {
			if f.pool, err = reference.Open(*f.data); err != nil {
				return fmt.Errorf("%w: --reduce %s: %w", errInput, r, err)
			}
		}
		if *f.refImages < 2 || *f.refImages > math.MaxInt32 {
			return fmt.Errorf("%w: --reference-images %d: give at least 2", errInput, *f.refImages)
		}
		ps = onnxrun.PCASettings{Pool: f.pool, Images: *f.refImages, Seed: *f.refSeed}
	}
	if err := m.SetReduction(r, ps); err != nil {
		return fmt.Errorf("%w: --reduce %s: %w", errInput, r, err)
	}
	m.MaxLayerBytes = *f.maxLayerBytes
	return nil
}
