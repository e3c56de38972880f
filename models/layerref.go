package models

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Layer references (issue 17). Wherever a user names a layer (--layers,
// --commit, the API's commitments) one of these is accepted, tried in
// this order:
//
//  1. the layer id, "L042.Conv" (the platform's; stable for one file, but
//     shifted by whatever the exporter puts first, e.g. Constant nodes);
//  2. the ONNX output tensor name, "/layer1/layer1.0/conv1/Conv_output_0";
//  3. the ONNX node name, "/layer1/layer1.0/conv1/Conv" (its first output);
//  4. a PyTorch module path, "layer1.0.conv1": the output of the last
//     node, in topological order, that depends on the image and that
//     torch.onnx.export made inside that module (see ModulePath) — for a
//     block ("layer1.0") that is the block's output;
//  5. a name scope with '/', "/layer1/layer1.0" or "model/block_1"
//     (tf2onnx): the output of the last node, depending on the image,
//     whose name starts with the scope and '/'.
//
// A reference that matches nothing is an error wrapping ErrNoLayer that
// names the closest ids and names by edit distance.

// ErrNoLayer is wrapped by every error about a layer reference that names
// no layer of the model.
var ErrNoLayer = errors.New("no such layer")

// LayerRefError is a layer reference that names no layer of a model.
type LayerRefError struct {
	Ref     string
	Model   string   // the model's name, when known
	Closest []string // closest ids or "name (id)", nearest first
}

func (e *LayerRefError) Error() string {
	in := ""
	if e.Model != "" {
		in = " in " + e.Model
	}
	return fmt.Sprintf("no layer %q%s: closest: %s (a layer is an id such as L042.Conv, an ONNX node or tensor name, or a PyTorch module path such as layer1.0.conv1; all of them: 'cortexbench models inspect FILE')",
		e.Ref, in, strings.Join(e.Closest, ", "))
}

func (e *LayerRefError) Unwrap() error { return ErrNoLayer }

// ResolveLayer returns the layer ref names among layers (see the order
// above); model names the model in the error.
func ResolveLayer(layers []Layer, ref, model string) (Layer, error) {
	ref = strings.TrimSpace(ref)
	for _, l := range layers {
		if l.ID == ref {
			return l, nil
		}
	}
	for _, l := range layers {
		if l.Tensor != "" && l.Tensor == ref {
			return l, nil
		}
	}
	for _, l := range layers {
		if l.Node != "" && l.Node == ref {
			return l, nil
		}
	}
	if ref != "" {
		if l, ok := lastInside(layers, func(l Layer) bool {
			p := ModulePath(l.Node)
			return p != "" && (p == ref || strings.HasPrefix(p, ref+"."))
		}); ok {
			return l, nil
		}
		if scope := strings.TrimSuffix(ref, "/"); strings.Contains(ref, "/") && scope != "" {
			if l, ok := lastInside(layers, func(l Layer) bool { return strings.HasPrefix(l.Node, scope+"/") }); ok {
				return l, nil
			}
		}
	}
	return Layer{}, &LayerRefError{Ref: ref, Model: model, Closest: ClosestLayers(layers, ref, 3)}
}

// lastInside returns the last layer depending on the image for which in
// is true.
func lastInside(layers []Layer, in func(Layer) bool) (Layer, bool) {
	for i := len(layers) - 1; i >= 0; i-- {
		if layers[i].PerStimulus && in(layers[i]) {
			return layers[i], true
		}
	}
	return Layer{}, false
}

// ModulePath returns the PyTorch module path of a node torch.onnx.export
// named, "" for a name it did not make that way. The exporter names a
// node "/" + one part per enclosing module + "/" + op type ("Conv",
// "Relu_1"); a module's part is its attribute name, or, for a child of a
// container (Sequential, ModuleList), the container's name and the index:
// "/layer1/layer1.0/downsample/downsample.0/Conv" is inside the module
// layer1.0.downsample.0. A part with dots adds its last atom to the path;
// one without adds itself.
func ModulePath(node string) string {
	if !strings.HasPrefix(node, "/") {
		return ""
	}
	parts := strings.Split(node[1:], "/")
	if len(parts) < 2 {
		return "" // an op outside every module, e.g. "/Flatten"
	}
	var path []string
	for _, p := range parts[:len(parts)-1] {
		if p == "" {
			return ""
		}
		if i := strings.LastIndexByte(p, '.'); i >= 0 {
			p = p[i+1:]
		}
		path = append(path, p)
	}
	return strings.Join(path, ".")
}

// ClosestLayers returns the k layers (of those that depend on the image)
// whose id, node name, tensor name or module path is nearest to s by edit
// distance, ignoring case; ties in topological order. A layer is written
// as its id when the id was nearest, else as "name (id)".
func ClosestLayers(layers []Layer, s string, k int) []string {
	type cand struct {
		text string
		d    int
		i    int
	}
	var cs []cand
	ls := strings.ToLower(s)
	for i, l := range layers {
		if !l.PerStimulus {
			continue
		}
		best := cand{l.ID, min(editDistance(ls, strings.ToLower(l.ID)), idDistance(ls, strings.ToLower(l.ID))), i}
		for _, name := range []string{ModulePath(l.Node), l.Node, l.Tensor} {
			if name == "" {
				continue
			}
			if d := editDistance(ls, strings.ToLower(name)); d < best.d {
				best = cand{name + " (" + l.ID + ")", d, i}
			}
		}
		cs = append(cs, best)
	}
	sort.SliceStable(cs, func(a, b int) bool { return cs[a].d < cs[b].d })
	out := make([]string, 0, k)
	for _, c := range cs[:min(k, len(cs))] {
		out = append(out, c.text)
	}
	return out
}

// idPattern is a layer id as typed: "L7", "l007", "L7.Conv".
var idPattern = regexp.MustCompile(`^l0*([0-9]+)(\..*)?$`)

// idDistance is the edit distance between a typed id and a layer id
// without their zero padding, and without the op when the typed id has
// none: "l7" is 0 from "l007.relu" and 1 from "l070.conv". It is large
// when ref is not an id.
func idDistance(ref, id string) int {
	r, m := idPattern.FindStringSubmatch(ref), idPattern.FindStringSubmatch(id)
	if r == nil || m == nil {
		return math.MaxInt
	}
	if r[2] == "" {
		return editDistance(r[1], m[1])
	}
	return editDistance(r[1]+r[2], m[1]+m[2])
}

// ResolveLayerList resolves a comma-separated list of layer references to
// the layers, in the model's topological order, without duplicates. Every
// layer must depend on the image.
func ResolveLayerList(layers []Layer, list, model string) ([]Layer, error) {
	pick := map[string]bool{}
	for _, ref := range strings.Split(list, ",") {
		if strings.TrimSpace(ref) == "" {
			continue
		}
		l, err := ResolveLayer(layers, ref, model)
		if err != nil {
			return nil, err
		}
		if !l.PerStimulus {
			return nil, fmt.Errorf("%w: layer %s (%s) in %s does not depend on the image: give a layer computed from it", ErrNoLayer, l.ID, l.Tensor, model)
		}
		pick[l.ID] = true
	}
	var out []Layer
	for _, l := range layers {
		if pick[l.ID] {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: the layer list %q names no layer", ErrNoLayer, list)
	}
	return out, nil
}
