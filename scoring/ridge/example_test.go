package ridge_test

import (
	"fmt"
	"math"
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

// An encoding model fitted on 200 training stimuli (alpha per target by
// leave-one-out, as sklearn's RidgeCV) predicting 50 new ones: the
// noiseless target is predicted almost exactly, and its alpha is the
// smaller.
func ExampleFit() {
	r := rand.New(rand.NewPCG(3, 4))
	const n, s, q = 200, 50, 20
	x := linalg.NewMatrix[float32](n+s, q)
	for i := range x.Data {
		x.Data[i] = float32(r.NormFloat64())
	}
	y := linalg.NewMatrix[float64](n, 2)
	for i := range n {
		y.Data[2*i] = 2*float64(x.At(i, 0)) + 1
		y.Data[2*i+1] = float64(x.At(i, 1)) + 2*r.NormFloat64()
	}
	m, err := ridge.Fit(x.Slice(0, n, 0, q), y, ridge.FitConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	pred, err := ridge.Predict(m, x.Slice(n, n+s, 0, q))
	if err != nil {
		fmt.Println(err)
		return
	}
	worst := 0.0
	for i := range s {
		worst = max(worst, math.Abs(pred.At(i, 0)-(2*float64(x.At(n+i, 0))+1)))
	}
	fmt.Printf("alpha %g < %g; new stimuli within %.2f of 2x+1; coefficient %.2f\n",
		m.Alpha[0], m.Alpha[1], worst, m.Coef().At(0, 0))
	// Output:
	// alpha 0.01 < 100; new stimuli within 0.00 of 2x+1; coefficient 2.00
}
