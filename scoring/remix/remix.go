// Package remix builds a "remixed" RDM: a linear classifier is trained on
// a layer's features to tell stimulus categories apart, using images that
// are not in the benchmark, and the RDM of the benchmark's stimuli is
// computed from the classifier's decision values.
//
// What it answers: does the layer contain, linearly decodable, the
// category distinctions that organise the brain region, even if they are
// not the dominant axes of its raw geometry? A layer whose plain RDM
// scores poorly but whose remixed RDM scores well carries the information
// in a different format (Khaligh-Razavi & Kriegeskorte 2014, PLoS Comput
// Biol 10:e1003915, "remixed" category readouts; Storrs et al. 2021).
// Use it when the benchmark's stimuli have category labels and a separate
// labelled image set is available; compare the remixed RDM with the brain
// by ordinary RSA.
//
// The classifier is a ridge classifier, exactly sklearn's RidgeClassifier:
// labels are coded +1 for the class and −1 otherwise (one column per class,
// or a single column for the second class when there are two), ridge
// regression with an intercept is fitted to the codes (ridge.FitPredict),
// and the decision values are its predictions. It is chosen over
// multinomial logistic regression because it is closed-form (one solve for
// all classes, no iterations or convergence tolerance), deterministic,
// reproducible to rounding against sklearn, and its decision values are
// linear in the features: a logistic model's probabilities saturate on
// well-separated training images and compress the distances the RDM is
// made of.
package remix

import (
	"errors"
	"fmt"
	"slices"

	"github.com/cortexbench/cortexbench/scoring/linalg"
	"github.com/cortexbench/cortexbench/scoring/rdm"
	"github.com/cortexbench/cortexbench/scoring/ridge"
)

// ErrLabels reports labels that do not fit the training features or name
// fewer than two classes.
var ErrLabels = errors.New("remix: bad labels")

// Config sets the classifier's penalty and the RDM's dissimilarity.
type Config struct {
	// Alpha is the ridge penalty; 0 means 1 (sklearn's default).
	Alpha float64
	// Metric is the RDM dissimilarity of the decision values; "" means
	// Euclidean (correlation distance is undefined with two classes, whose
	// decision value is one number per stimulus).
	Metric rdm.Metric
}

// Result holds the classifier's output on the benchmark's stimuli.
type Result struct {
	// Classes are the distinct training labels, increasing; decision
	// column k belongs to Classes[k] (with two classes, the single column
	// is the decision for Classes[1], as sklearn's decision_function).
	Classes []int
	// Decision is test stimuli × columns.
	Decision linalg.Matrix[float64]
	// RDM is the upper-triangle vector (as rdm.Upper) of the RDM of the
	// decision values.
	RDM []float64
}

// Remix trains the classifier on train (images × features) with labels
// and returns its decision values and RDM on test (benchmark stimuli ×
// the same features). Inputs are not modified.
func Remix[T linalg.Float](train linalg.Matrix[T], labels []int, test linalg.Matrix[T], cfg Config) (*Result, error) {
	if len(labels) != train.Rows {
		return nil, fmt.Errorf("%w: %d labels for %d training images", ErrLabels, len(labels), train.Rows)
	}
	if train.Cols != test.Cols {
		return nil, fmt.Errorf("remix: %d training features but %d test features: %w", train.Cols, test.Cols, ridge.ErrShape)
	}
	classes := slices.Clone(labels)
	slices.Sort(classes)
	classes = slices.Compact(classes)
	if len(classes) < 2 {
		return nil, fmt.Errorf("%w: %d distinct class(es), need at least 2", ErrLabels, len(classes))
	}
	cols := len(classes)
	if cols == 2 {
		cols = 1
	}
	y := linalg.NewMatrix[T](train.Rows, cols)
	for i, l := range labels {
		k, _ := slices.BinarySearch(classes, l)
		row := y.Row(i)
		for c := range row {
			row[c] = -1
		}
		if cols == 1 {
			if k == 1 {
				row[0] = 1
			}
		} else {
			row[k] = 1
		}
	}
	alpha := cfg.Alpha
	if alpha == 0 {
		alpha = 1
	}
	res := &Result{Classes: classes, Decision: linalg.NewMatrix[float64](test.Rows, cols)}
	if err := ridge.FitPredict(res.Decision, train, y, test, []float64{alpha}); err != nil {
		return nil, fmt.Errorf("remix: ridge classifier: %w", err)
	}
	m := cfg.Metric
	if m == "" {
		m = rdm.Euclidean
	}
	full, err := rdm.Compute(res.Decision, m)
	if err != nil {
		return nil, fmt.Errorf("remix: RDM of the decision values: %w", err)
	}
	res.RDM = rdm.Upper(test.Rows, full)
	return res, nil
}
