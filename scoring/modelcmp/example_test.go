package modelcmp_test

import (
	"fmt"

	"github.com/cortexbench/cortexbench/scoring/modelcmp"
)

// Benjamini & Hochberg's (1995) worked example: of 15 p-values, the four
// smallest are declared discoveries at a false discovery rate of 0.05.
func ExampleBH() {
	p := []float64{0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
		0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.000}
	for i, q := range modelcmp.BH(p)[:6] {
		fmt.Printf("p=%.4f q=%.4f discovery=%v\n", p[i], q, q <= 0.05)
	}
	// Output:
	// p=0.0001 q=0.0015 discovery=true
	// p=0.0004 q=0.0030 discovery=true
	// p=0.0019 q=0.0095 discovery=true
	// p=0.0095 q=0.0356 discovery=true
	// p=0.0201 q=0.0603 discovery=false
	// p=0.0278 q=0.0639 discovery=false
}
