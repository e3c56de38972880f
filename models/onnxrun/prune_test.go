package onnxrun

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

// An inner layer extracted alone runs on a graph cut after it (the nodes
// past it dropped, onnxmodel.SetOutputs and PooledOutputs); its values must
// be those of the whole graph bit for bit. MobileNetV2's layers at several
// depths, inside and at the end of residual blocks, pooled (the default)
// and raw, each alone against the same layer extracted beside the model's
// output (which keeps every node).
func TestPrunedLayersSameBits(t *testing.T) {
	file := mobileNetV2File(t)
	tiny := tinyModel(t) // skips without ONNX Runtime
	rng := rand.New(rand.NewPCG(7, 8))
	var imgs imageList
	for range 6 {
		imgs = append(imgs, randomImage(rng))
	}
	for _, poolTo := range []int64{DefaultPoolTo, 0} {
		m, err := Load(tiny.rt, Info{Path: file, Name: "mobilenet_v2", Spec: models.MobileNetV2Float}, poolTo)
		if err != nil {
			t.Fatal(err)
		}
		all := m.Layers()
		var out models.Layer
		for _, l := range all {
			if l.IsOutput {
				out = l
			}
		}
		for _, i := range []int{3, 30, 57, 58, 121, 200} {
			ly := all[i]
			alone, whole := collect{}, collect{}
			if err := m.Extract(t.Context(), imgs, []models.Layer{ly}, alone, nil); err != nil {
				t.Fatal(err)
			}
			if err := m.Extract(t.Context(), imgs, []models.Layer{ly, out}, whole, nil); err != nil {
				t.Fatal(err)
			}
			sameBits(t, fmt.Sprintf("%s pooled to %d (0: raw) on the cut graph", ly.ID, poolTo), []collect{{ly.ID: alone[ly.ID]}}, []collect{{ly.ID: whole[ly.ID]}})
		}
	}
}
