package onnxmodel

import (
	"container/heap"
	"fmt"
	"strconv"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// TopoOrder returns the indices of g's nodes in topological order. ONNX
// requires nodes to be sorted already; when they are, the order is kept,
// otherwise ties are broken by file order so the result is stable.
func TopoOrder(g *onnxpb.GraphProto) ([]int, error) {
	nodes := g.GetNode()
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.GetOutput() {
			if o != "" {
				producer[o] = i
			}
		}
	}
	indeg := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, in := range n.GetInput() {
			if p, ok := producer[in]; ok && in != "" {
				indeg[i]++
				users[p] = append(users[p], i)
			}
		}
	}
	// Kahn's algorithm; the ready set is a min-heap of node indices so the
	// smallest ready index always comes next: file order when the file is
	// sorted, the same order as before in every case, in O(n log n).
	ready := &intHeap{}
	for i := range nodes {
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, len(nodes))
	for ready.Len() > 0 {
		pick := heap.Pop(ready).(int)
		order = append(order, pick)
		for _, u := range users[pick] {
			indeg[u]--
			if indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(order) < len(nodes) {
		return nil, fmt.Errorf("graph has a cycle or a node whose input is produced by itself")
	}
	return order, nil
}

// Layers enumerates every node output of the main graph in topological
// order, with ids "L<index>.<op>". Type and Shape are left for the runtime
// to fill (ort.Inspect does).
func Layers(m *onnxpb.ModelProto) ([]models.Layer, error) {
	g := m.GetGraph()
	order, err := TopoOrder(g)
	if err != nil {
		return nil, fmt.Errorf("order nodes: %w", err)
	}
	stim := map[string]bool{} // tensors that depend on the image input
	for _, in := range ImageInputs(g) {
		stim[in.GetName()] = true
	}
	outputs := map[string]bool{}
	for _, o := range g.GetOutput() {
		outputs[o.GetName()] = true
	}
	depth := map[string]int{}
	type pending struct {
		node   *onnxpb.NodeProto
		tensor string
		depth  int
		stim   bool
	}
	var list []pending
	maxDepth := 0
	for _, i := range order {
		n := g.Node[i]
		d, s := 0, false
		for _, in := range n.GetInput() {
			if stim[in] {
				s = true
				if depth[in] > d {
					d = depth[in]
				}
			}
		}
		if s {
			d++
		}
		if d > maxDepth {
			maxDepth = d
		}
		for _, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			stim[o], depth[o] = s, d
			list = append(list, pending{n, o, d, s})
		}
	}
	width := max(3, len(strconv.Itoa(len(list)-1)))
	layers := make([]models.Layer, len(list))
	for i, p := range list {
		rel := 0.0
		if maxDepth > 0 {
			rel = float64(p.depth) / float64(maxDepth)
		}
		layers[i] = models.Layer{
			ID:          fmt.Sprintf("L%0*d.%s", width, i, p.node.GetOpType()),
			Index:       i,
			Tensor:      p.tensor,
			Node:        p.node.GetName(),
			Op:          p.node.GetOpType(),
			Depth:       rel,
			IsOutput:    outputs[p.tensor],
			PerStimulus: p.stim,
		}
	}
	return layers, nil
}

// intHeap is a min-heap of ints for container/heap.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
