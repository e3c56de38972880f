package runner

import (
	"fmt"
	"math"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/scoring"
	"github.com/cortexbench/cortexbench/scoring/ceiling"
)

// The benchmark's scoring conventions (issue 16) as the runner honours
// them: the ceiling bound ceiled scores divide by, the transform that
// forms them, the feature handling before a model RDM. Every score
// records them in Score.Conventions (conventionsOf is the one place that
// says what; extend it for settings of your own).

// conventionsOf returns the conventions a score of b whose Ceiling is
// ceil was computed under: Ceiling names the estimate in ceil ("none"
// when ceil is NaN), Transform and Features are b's. Reduction, Degrees,
// FieldOfView, Region and Declared are left zero for the code that sets
// them.
func conventionsOf(b *benchmarks.Benchmark, ceil float64) scoring.Conventions {
	t, _ := ceiling.ParseTransform(string(b.Conventions.Transform))
	return scoring.Conventions{Ceiling: ceilingKind(b, ceil), Transform: string(t), Features: b.Conventions.Features}
}

// ceilingKind names the ceiling of a score of b whose Ceiling is ceil:
// "none" when ceil is NaN, "split-half" for response reliability, and
// otherwise the Nili bound the policy names ("upper" when it names none;
// the RSA metrics compute the bound on their test parts whatever the
// policy's method says).
func ceilingKind(b *benchmarks.Benchmark, ceil float64) string {
	if math.IsNaN(ceil) {
		return string(benchmarks.CeilingNone)
	}
	if b.Ceiling.Method == benchmarks.CeilingSplitHalf {
		return string(benchmarks.CeilingSplitHalf)
	}
	bound, err := ceiling.ParseBound(string(b.Ceiling.Bound))
	if err != nil {
		return string(b.Ceiling.Bound)
	}
	return string(bound)
}

// applyConventions forms s.Ceiled from s.Raw and s.Ceiling under b's
// transform and records the conventions in s.Conventions (keeping the
// fields other code sets: Reduction, Degrees, FieldOfView, Region,
// Declared).
func applyConventions(b *benchmarks.Benchmark, s *scoring.Score) {
	c := conventionsOf(b, s.Ceiling)
	s.Conventions.Ceiling, s.Conventions.Transform, s.Conventions.Features = c.Ceiling, c.Transform, c.Features
	s.Ceiled = ceiledBy(b, s.Raw, s.Ceiling)
}

// ceiledBy is the ceiled score of raw under b's transform
// (ceiling.Apply): raw/ceil by default, NaN without a usable ceiling.
func ceiledBy(b *benchmarks.Benchmark, raw, ceil float64) float64 {
	return ceiling.Apply(raw, ceil, b.Conventions.Transform)
}

// bound is b's ceiling bound ("" is upper).
func bound(b *benchmarks.Benchmark) (ceiling.Bound, error) {
	bd, err := ceiling.ParseBound(string(b.Ceiling.Bound))
	if err != nil {
		return "", fmt.Errorf("%w: benchmark %s: %w", ErrInternal, b.ID, err)
	}
	return bd, nil
}

// fullCeiling is the ceiling of l on all its stimuli under its policy's
// bound (benchmarks.Ceiling.Value); NaN when there is none.
func fullCeiling(l *benchmarks.Loaded) float64 {
	c := l.Ceiling
	if c.Bound == "" {
		c.Bound = l.Benchmark.Ceiling.Bound
	}
	return c.Value()
}

// upperOrLower picks, for a metric that computes its own Nili bounds
// (upper and lower, subjects pooled by their plain mean), the one b's
// policy asks for: the lower bound is then the leave-one-subject-out one.
// The halves bound needs each subject's two triangles, which such a
// metric does not see: refused, saying so.
func upperOrLower(b *benchmarks.Benchmark, what string, upper, lower float64) (float64, error) {
	bd, err := bound(b)
	if err != nil {
		return math.NaN(), err
	}
	switch bd {
	case ceiling.BoundLower, ceiling.BoundLOSO:
		return lower, nil
	case ceiling.BoundHalves:
		return math.NaN(), fmt.Errorf("%w: benchmark %s asks for the ceiling bound %q, which %s cannot compute (it needs each subject's two halves); use the rsa metric, or the bound upper, lower or leave-one-subject-out",
			ErrInternal, b.ID, bd, what)
	}
	return upper, nil
}

// noFeatures refuses feature handling for a metric that does not compute
// model RDMs from a layer's units (its features are not the units').
func noFeatures(b *benchmarks.Benchmark) error {
	if b.Conventions.Features != "" {
		return fmt.Errorf("%w: benchmark %s asks for features %q, which metric %s does not apply (only rsa, reweighted, time-resolved and variance-partitioning RSA build the model RDM from the layer's units); remove the setting or use one of those metrics",
			ErrInternal, b.ID, b.Conventions.Features, b.Metric.Kind)
	}
	return nil
}

// onlyUpper refuses a ceiling bound other than the upper one for a metric
// whose ceiling is not a Nili bound.
func onlyUpper(b *benchmarks.Benchmark) error {
	if b.Ceiling.Bound != "" && b.Ceiling.Bound != ceiling.BoundUpper {
		return fmt.Errorf("%w: benchmark %s asks for the ceiling bound %q, which metric %s does not use (its ceiling is %s); remove the setting",
			ErrInternal, b.ID, b.Ceiling.Bound, b.Metric.Kind, b.Ceiling.Method)
	}
	return nil
}
