package ridge_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/ridge"
)

// Two targets driven by the first two of 20 features, one of them noisy,
// scored with 5 seeded folds and leave-one-out alpha selection.
func ExampleCV() {
	r := rand.New(rand.NewPCG(1, 2))
	const n, q = 200, 20
	x := linalg.NewMatrix[float32](n, q)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	y := linalg.NewMatrix[float64](n, 2)
	for i := range n {
		y.Data[2*i] = float64(x.At(i, 0)) + 0.1*r.NormFloat64()
		y.Data[2*i+1] = float64(x.At(i, 1)) + r.NormFloat64()
	}
	res, err := ridge.CV(x, y, ridge.Config{Folds: 5, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("folds %d, r %.1f and %.1f\n", res.Folds, res.R[0], res.R[1])
	// Output:
	// folds 5, r 1.0 and 0.7
}
