package models

import "context"

// UsedImages names the images a benchmark shows, so that a reduction
// fitted on reference images can leave them out (issue 16).
type UsedImages struct {
	// Benchmark and Stimuli (the largest stimulus set's size) are for
	// messages and memory estimates.
	Benchmark string
	Stimuli   int
	// Archives holds the hex sha256 of every zip the benchmark takes
	// images from: every member of one is left out.
	Archives map[string]bool
	// Content returns the hex sha256 of every image file the benchmark
	// shows. It may read every image, so it is called only by a reduction
	// that needs it.
	Content func(ctx context.Context) (map[string]bool, error)
}
