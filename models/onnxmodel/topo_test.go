package onnxmodel_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// refTopoOrder is the previous, quadratic TopoOrder: the smallest ready
// index first. The linear one must give the same order.
func refTopoOrder(g *onnxpb.GraphProto) []int {
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
	done := make([]bool, len(nodes))
	var order []int
	for len(order) < len(nodes) {
		pick := -1
		for i := range nodes {
			if indeg[i] == 0 && !done[i] {
				pick = i
				break
			}
		}
		if pick < 0 {
			return nil
		}
		done[pick] = true
		order = append(order, pick)
		for _, u := range users[pick] {
			indeg[u]--
		}
	}
	return order
}

// Random DAGs, shuffled: the heap order equals the reference order.
func TestTopoOrderMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 200 {
		n := 1 + rng.IntN(40)
		g := &onnxpb.GraphProto{}
		for i := range n {
			var ins []string
			for range rng.IntN(3) {
				if i > 0 {
					ins = append(ins, fmt.Sprintf("t%d", rng.IntN(i)))
				}
			}
			ins = append(ins, "x")
			g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String("Add"), Input: ins, Output: []string{fmt.Sprintf("t%d", i)}})
		}
		rng.Shuffle(n, func(i, j int) { g.Node[i], g.Node[j] = g.Node[j], g.Node[i] })
		got, err := TopoOrder(g)
		if err != nil {
			t.Fatal(err)
		}
		if want := refTopoOrder(g); !slices.Equal(got, want) {
			t.Fatalf("trial %d: order %v, reference %v", trial, got, want)
		}
	}
	// A cycle is refused.
	g := &onnxpb.GraphProto{Node: []*onnxpb.NodeProto{
		{OpType: proto.String("Relu"), Input: []string{"b"}, Output: []string{"a"}},
		{OpType: proto.String("Relu"), Input: []string{"a"}, Output: []string{"b"}},
	}}
	if _, err := TopoOrder(g); err == nil {
		t.Error("cycle accepted")
	}
}
