package runner

import (
	"fmt"
	"strings"

	"github.com/cortexbench/cortexbench/models"
)

// Candidates names which layers compete for a benchmark.
type Candidates string

const (
	// AllButOutput: every per-stimulus layer except the network's output
	// (class logits or probabilities mostly encode the training labels).
	AllButOutput Candidates = "all-but-output"
	// AllLayers: every per-stimulus layer.
	AllLayers Candidates = "all"
	// Blocks: block outputs only: the outputs of merges (Add, Sum, Concat)
	// and of pooling, where residual and inception blocks end.
	Blocks Candidates = "blocks"
	// "spaced:K" takes K layers evenly spaced in topological order among
	// AllButOutput, for metrics too costly to run on every layer.
	spacedPrefix = "spaced:"
)

// IsLayerList reports whether the policy is a list of layer references
// (models.ResolveLayerList) rather than one of the named policies.
func (policy Candidates) IsLayerList() bool {
	switch policy {
	case AllButOutput, AllLayers, Blocks, "":
		return false
	}
	return !strings.HasPrefix(string(policy), spacedPrefix)
}

// blockOps are the operators whose outputs end a block.
var blockOps = map[string]bool{"Add": true, "Sum": true, "Concat": true, "MaxPool": true, "AveragePool": true, "GlobalAveragePool": true, "GlobalMaxPool": true}

// candidates returns the layers that compete on a benchmark.
func candidates(m Model, policy Candidates) ([]models.Layer, error) {
	var out []models.Layer
	all := m.Layers()
	if policy.IsLayerList() {
		// Layer ids, ONNX node or tensor names, PyTorch module paths
		// (models.ResolveLayer); an unknown one is the user's mistake
		// (models.ErrNoLayer), not the model's.
		return models.ResolveLayerList(all, string(policy), m.Name())
	}
	spaced := 0
	if k, ok := strings.CutPrefix(string(policy), spacedPrefix); ok {
		if _, err := fmt.Sscan(k, &spaced); err != nil || spaced < 1 {
			return nil, fmt.Errorf("layer policy %q: want spaced:K with K ≥ 1", policy)
		}
		policy = AllButOutput
	}
	head := outputHead(all)
	for _, l := range all {
		if !l.PerStimulus || m.Features(l) < 2 {
			continue
		}
		switch policy {
		case AllLayers:
		case AllButOutput:
			if head[l.ID] {
				continue
			}
		case Blocks:
			if head[l.ID] || !blockOps[l.Op] {
				continue
			}
		default:
			return nil, fmt.Errorf("unknown layer policy %q (want all, all-but-output, blocks, spaced:K or a list of layer ids)", policy)
		}
		out = append(out, l)
	}
	if spaced > 0 && spaced < len(out) {
		picked := make([]models.Layer, spaced)
		for i := range picked {
			// Evenly spaced, always ending on the deepest candidate.
			picked[i] = out[(i+1)*len(out)/spaced-1]
		}
		out = picked
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s has no candidate layers under policy %s", ErrBadModel, m.Name(), policy)
	}
	return out, nil
}

// outputHead returns the network's output head: the output tensors and
// the layers right before them in topological order that have the same
// number of values per stimulus (the class logits, their bias, softmax
// and any quantisation clip around them). It encodes the training labels
// more than the image, so by default it does not compete.
func outputHead(layers []models.Layer) map[string]bool {
	head := map[string]bool{}
	var size int64 = -2
	for i := len(layers) - 1; i >= 0; i-- {
		l := layers[i]
		if !l.PerStimulus {
			continue
		}
		if l.IsOutput {
			head[l.ID] = true
			if size == -2 {
				size = l.Features()
			}
			continue
		}
		if size == -2 || l.Features() != size {
			break
		}
		head[l.ID] = true
	}
	return head
}

// spacedCandidates returns k of the runner's candidate layers, evenly
// spaced in topological order and ending on the deepest (all of them for
// k = 0 or when there are no more than k).
func spacedCandidates(cfg Config, m Model, k int) ([]models.Layer, error) {
	all, err := candidates(m, cfg.Candidates)
	if err != nil {
		return nil, err
	}
	if k <= 0 || k >= len(all) {
		return all, nil
	}
	out := make([]models.Layer, k)
	for i := range out {
		out[i] = all[(i+1)*len(all)/k-1]
	}
	return out, nil
}
