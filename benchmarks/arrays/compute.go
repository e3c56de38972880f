package arrays

import (
	"fmt"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/ridge"
	"github.com/cortexbench/cortexbench/storage/npy"
)

// RDMOfFile computes the n×n RDM of the stimuli × features matrix in the
// .npy file at path (float32 kept as float32).
func RDMOfFile(path string, m rdm.Metric) (full []float64, n, q int, err error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(a.Shape) != 2 {
		return nil, 0, 0, fmt.Errorf("%w: %s has shape %s; want 2-D stimuli × features", ErrInvalid, path, Shape(a.Shape))
	}
	n, q = a.Shape[0], a.Shape[1]
	switch d := a.Data.(type) {
	case []float32:
		full, err = rdm.Compute(linalg.View(n, q, d), m)
	default:
		full, err = rdm.Compute(linalg.View(n, q, a.Float64()), m)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	return full, n, q, nil
}

// ReadFolds reads a 1-D integer vector of each stimulus's fold.
func ReadFolds(path string) ([]int, error) {
	fa, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(fa.Shape) != 1 {
		return nil, fmt.Errorf("%w: %s has shape %s; want a 1-D vector of fold ids", ErrInvalid, path, Shape(fa.Shape))
	}
	folds, err := fa.Ints()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
	}
	return folds, nil
}

// RidgeOfFiles runs cross-validated ridge encoding of every column of the
// stimuli × targets Y (or a 1-D vector: one target) at yPath from the
// stimuli × features X at xPath (float32 kept as float32). foldsPath names
// where cfg.FoldOf came from, for messages.
func RidgeOfFiles(xPath, yPath, foldsPath string, cfg ridge.Config) (res *ridge.Result, n, p int, err error) {
	xa, err := npy.ReadFile(xPath)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(xa.Shape) != 2 {
		return nil, 0, 0, fmt.Errorf("%w: %s has shape %s; want 2-D stimuli × features", ErrInvalid, xPath, Shape(xa.Shape))
	}
	ya, err := npy.ReadFile(yPath)
	if err != nil {
		return nil, 0, 0, err
	}
	ny, p := 0, 1
	switch len(ya.Shape) {
	case 1:
		ny = ya.Shape[0]
	case 2:
		ny, p = ya.Shape[0], ya.Shape[1]
	default:
		return nil, 0, 0, fmt.Errorf("%w: %s has shape %s; want 2-D stimuli × targets", ErrInvalid, yPath, Shape(ya.Shape))
	}
	if cfg.FoldOf != nil && len(cfg.FoldOf) != ny {
		return nil, 0, 0, fmt.Errorf("%w: %s has %d fold ids for %d stimuli", ErrInvalid, foldsPath, len(cfg.FoldOf), ny)
	}
	y := linalg.View(ny, p, ya.Float64())
	n, q := xa.Shape[0], xa.Shape[1]
	if d, ok := xa.Data.([]float32); ok {
		res, err = ridge.CV(linalg.View(n, q, d), y, cfg)
	} else {
		res, err = ridge.CV(linalg.View(n, q, xa.Float64()), y, cfg)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w: ridge on %s and %s: %w", ErrInvalid, xPath, yPath, err)
	}
	return res, n, p, nil
}
