package models

import (
	"context"
	"fmt"
	"sort"
)

// Collector is a Consumer that copies every row of one layer, for small
// outputs such as class scores. Rows[i] is stimulus i.
type Collector struct {
	Layer string // the layer ID to keep; empty keeps the first layer seen
	Rows  [][]float32
}

// Consume copies rows of the collected layer.
func (c *Collector) Consume(ctx context.Context, layer Layer, first int, rows [][]float32) error {
	if c.Layer == "" {
		c.Layer = layer.ID
	}
	if layer.ID != c.Layer {
		return nil
	}
	for len(c.Rows) < first+len(rows) {
		c.Rows = append(c.Rows, nil)
	}
	for i, r := range rows {
		c.Rows[first+i] = append([]float32(nil), r...)
	}
	return nil
}

// Prediction is one class and its score.
type Prediction struct {
	Class int
	Label string
	Score float32
}

// TopK returns the k highest-scoring classes. When scores has one more
// entry than labels, entry 0 is a background class (as in the 1001-way
// MobileNetV1) and labels are shifted by one.
func TopK(scores []float32, labels []string, k int) ([]Prediction, error) {
	offset := 0
	switch {
	case labels == nil:
	case len(scores) == len(labels):
	case len(scores) == len(labels)+1:
		offset = 1
	default:
		return nil, fmt.Errorf("top-k: %d scores but %d labels: give the label file of this model", len(scores), len(labels))
	}
	idx := make([]int, 0, len(scores))
	for i := offset; i < len(scores); i++ {
		idx = append(idx, i)
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	k = min(k, len(idx))
	out := make([]Prediction, k)
	for i := range k {
		out[i] = Prediction{Class: idx[i], Score: scores[idx[i]]}
		if labels != nil {
			out[i].Label = labels[idx[i]-offset]
		}
	}
	return out, nil
}
