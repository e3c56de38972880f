package models

import (
	"context"
	"image"
)

// Consumer receives activations one layer and one mini-batch at a time, as
// extraction produces them. rows[i] holds the flattened activations of
// stimulus first+i for layer; rows and their backing memory are reused by
// the next call, so a consumer that keeps data must copy it. Consume is
// called from one goroutine at a time.
type Consumer interface {
	Consume(ctx context.Context, layer Layer, first int, rows [][]float32) error
}

// Finisher is an optional extra a Consumer may implement: Finish is called
// once after the last batch of a successful extraction.
type Finisher interface {
	Finish(ctx context.Context) error
}

// ConsumerFunc adapts a function to a Consumer.
type ConsumerFunc func(ctx context.Context, layer Layer, first int, rows [][]float32) error

// Consume calls f.
func (f ConsumerFunc) Consume(ctx context.Context, layer Layer, first int, rows [][]float32) error {
	return f(ctx, layer, first, rows)
}

// Progress reports extraction progress: done of total stimuli.
type Progress func(done, total int)

// Stimuli is an ordered set of images.
type Stimuli interface {
	Len() int
	Image(ctx context.Context, i int) (image.Image, error)
}

// KeyedStimuli is Stimuli that name their content: Key is the same for
// the same images in the same order (e.g. a hash of their files), so
// activations can be cached by it.
type KeyedStimuli interface {
	Stimuli
	Key() string
}
