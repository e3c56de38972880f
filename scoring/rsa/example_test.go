package rsa_test

import (
	"fmt"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// Compare a model RDM with a brain RDM, both from stimuli × features data.
func ExampleCompare() {
	model := linalg.View(4, 3, []float64{
		1, 0, 0,
		0.9, 0.1, 0,
		0, 1, 0.2,
		0, 0.1, 1,
	})
	brain := linalg.View(4, 2, []float64{
		5, 1,
		4, 1.5,
		1, 4,
		0.5, 6,
	})
	a, err := rdm.Compute(model, rdm.Correlation)
	if err != nil {
		panic(err)
	}
	b, err := rdm.Compute(brain, rdm.Euclidean)
	if err != nil {
		panic(err)
	}
	r, err := rsa.Compare(rdm.Upper(4, a), rdm.Upper(4, b), rsa.Spearman)
	if err != nil {
		panic(err)
	}
	fmt.Printf("spearman %.3f\n", r)
	// Output: spearman 0.829
}
