package models

import (
	"fmt"
	"strings"
)

// Metadata describes one registered model entry: an ONNX file with one
// preprocessing spec. File is the hex sha256 of the ONNX file; ID is the
// entry's ID, EntryIDFor(File, Spec, Commitments) (EntryID(File, Spec)
// without commitments), so the same file with another spec is another
// entry.
//
// Metadata written before entries existed has no File and its ID is the
// file's sha256; Registry.Get reads it with File = ID (such a legacy entry
// keeps its old ID and its scores).
type Metadata struct {
	ID           string
	File         string
	Name         string
	Version      string
	Family       string
	TrainingData string
	Parameters   int64 // sum of initializer element counts
	FileBytes    int64
	Opset        int64 // ai.onnx opset
	Input        Tensor
	Outputs      []Tensor
	Spec         Spec
	Layers       int // number of enumerated layers
	// Commitments are the layers the submitter declared for brain regions
	// (region → layer id, issue 16); they enter the ID (EntryIDFor).
	// Empty for most entries, and then absent from the stored JSON.
	Commitments map[string]string `json:",omitempty"`
	ControlOf   string            `json:",omitempty"` // a control's: the entry ID of the model it controls; "" for a model
	Control     string            `json:",omitempty"` // a control's kind ("shuffled", "untrained"); "" for a model
}

// Tensor is a named graph input or output. Shape holds -1 for a dynamic
// dimension.
type Tensor struct {
	Name  string
	Type  string // ONNX element type name: "float", "uint8", ...
	Shape []int64
}

func (t Tensor) String() string {
	dims := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			dims[i] = "?"
		} else {
			dims[i] = fmt.Sprint(d)
		}
	}
	return fmt.Sprintf("%s %s[%s]", t.Name, t.Type, strings.Join(dims, ","))
}

// Layer is one node output of a network, in topological order.
type Layer struct {
	// ID is the platform's stable short name: "L" + index in topological
	// order of node outputs (zero-padded) + "." + op type, e.g. "L017.Conv".
	ID     string
	Index  int
	Tensor string // the original tensor name (exporter-made, may be long)
	Node   string // the original node name
	Op     string // operator type, e.g. "Conv"
	Type   string // element type, from ONNX Runtime
	// Shape of the output for a whole batch as ONNX Runtime infers it;
	// -1 for a dynamic dimension (usually the batch).
	Shape []int64
	// Depth is the longest path from the image input to this node, divided
	// by the longest path in the network: in [0,1].
	Depth float64
	// IsOutput marks the network's own output tensor(s).
	IsOutput bool
	// PerStimulus is false for tensors that do not depend on the image
	// input (weights computed by nodes, shapes): they carry no stimulus
	// information and are skipped by "all layers" extraction.
	PerStimulus bool
}

// Name is the layer's name in the exporter's terms: its ONNX node name,
// or its output tensor's name when the node has none.
func (l Layer) Name() string {
	if l.Node != "" {
		return l.Node
	}
	return l.Tensor
}

// Features is the number of values per stimulus: the product of Shape
// without its first (batch) dimension; -1 if one of them is unknown.
func (l Layer) Features() int64 {
	if len(l.Shape) == 0 {
		return 1
	}
	n := int64(1)
	for _, d := range l.Shape[1:] {
		if d < 0 {
			return -1
		}
		n *= d
	}
	return n
}

// SelectLayers picks layers by ID, in the order given; with no IDs it
// returns every PerStimulus layer (what "all layers" means).
func SelectLayers(layers []Layer, ids []string) ([]Layer, error) {
	if len(ids) == 0 {
		var out []Layer
		for _, l := range layers {
			if l.PerStimulus {
				out = append(out, l)
			}
		}
		return out, nil
	}
	byID := make(map[string]Layer, len(layers))
	for _, l := range layers {
		byID[l.ID] = l
	}
	out := make([]Layer, 0, len(ids))
	for _, id := range ids {
		l, ok := byID[id]
		switch {
		case !ok:
			return nil, fmt.Errorf("select layers: no layer %q (see 'cortexbench models inspect')", id)
		case !l.PerStimulus:
			return nil, fmt.Errorf("select layers: %s (%s) does not depend on the image: nothing to extract", id, l.Tensor)
		}
		out = append(out, l)
	}
	return out, nil
}
