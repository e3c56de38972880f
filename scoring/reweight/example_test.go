package reweight_test

import (
	"fmt"

	"github.com/cortexbench/cortexbench/scoring/reweight"
	"github.com/cortexbench/cortexbench/scoring/rsa"
)

// How the runner compares reweighting with the best single layer on
// held-out stimuli and subjects: layers holds every layer's RDM vector
// (rdm.Upper of its n×n RDM), subjects every subject's brain RDM vector.
func ExampleCV() {
	var layers, subjects [][]float64 // filled by the caller; n(n−1)/2 long each
	if len(subjects) == 0 {
		return
	}
	n, _ := reweight.StimuliFromPairs(len(subjects[0]))
	res, err := reweight.CV(layers, subjects, reweight.Config{
		StimulusFolds: reweight.KFold(n, 4, 1), // or another tool's folds
		Method:        rsa.Spearman,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("reweighted %.3f ± %.3f, best single layer %.3f ± %.3f, lower ceiling %.3f\n",
		res.Mean, res.SE, res.BestSingleMean, res.BestSingleSE, res.CeilingLower)
}
