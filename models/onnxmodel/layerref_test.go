package onnxmodel

import (
	"errors"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// torchLayers are the layers of testdata/torchexport/torch_cnn.onnx, made
// by torch.onnx.export (torch 1.13, opset 17; gen.py beside it).
func torchLayers(t *testing.T) []models.Layer {
	t.Helper()
	data, err := os.ReadFile("testdata/torchexport/torch_cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	layers, err := Layers(&m)
	if err != nil {
		t.Fatal(err)
	}
	return layers
}

// TestResolveLayerTorchExport: a layer is found by id, ONNX node name,
// ONNX tensor name, PyTorch module path (a module: its last node; a
// block: its output) and name scope, in a file torch.onnx.export made.
func TestResolveLayerTorchExport(t *testing.T) {
	layers := torchLayers(t)
	for ref, want := range map[string]string{
		"L007.Conv":                              "/layer1/layer1.0/conv1/Conv",
		"/layer1/layer1.0/conv1/Conv":            "/layer1/layer1.0/conv1/Conv",
		"/layer1/layer1.0/conv1/Conv_output_0":   "/layer1/layer1.0/conv1/Conv",
		"layer1.0.conv1":                         "/layer1/layer1.0/conv1/Conv",
		"layer1.0":                               "/layer1/layer1.0/relu_1/Relu",
		"layer1":                                 "/layer1/layer1.1/relu_1/Relu",
		"layer1.1.downsample.0":                  "/layer1/layer1.1/downsample/downsample.0/Conv",
		"layer1.1.downsample":                    "/layer1/layer1.1/downsample/downsample.0/Conv",
		"features.0.0":                           "/features/features.0/features.0.0/Conv",
		"features.0":                             "/features/features.0/features.0.1/Relu",
		"features.1":                             "/features/features.1/Conv",
		"/layer1/layer1.1":                       "/layer1/layer1.1/relu_1/Relu",
		"/layer1/layer1.1/":                      "/layer1/layer1.1/relu_1/Relu",
		"avgpool":                                "/avgpool/GlobalAveragePool",
		"fc":                                     "/fc/Gemm",
		"logits":                                 "/fc/Gemm",
		" layer1.0.relu ":                        "/layer1/layer1.0/relu/Relu",
		"/features/features.0/features.0.1/Relu": "/features/features.0/features.0.1/Relu",
	} {
		l, err := models.ResolveLayer(layers, ref, "torch_cnn")
		if err != nil || l.Node != want {
			t.Errorf("%q: got %s (%s), %v; want node %s", ref, l.ID, l.Node, err, want)
		}
	}
	// "layer1.0" must not take layer10-like prefixes; "layer" is no module.
	for ref, closest := range map[string]string{
		"L7":                         "L007.",
		"layer1.0.conv":              "layer1.0.conv1 (L007.Conv)",
		"layer1.0.cnv1":              "layer1.0.conv1 (L007.Conv)",
		"layer":                      "",
		"/layer1/layer1.0/conv1/Con": "/layer1/layer1.0/conv1/Conv (L007.Conv)",
	} {
		_, err := models.ResolveLayer(layers, ref, "torch_cnn")
		var re *models.LayerRefError
		if !errors.Is(err, models.ErrNoLayer) || !errors.As(err, &re) || len(re.Closest) != 3 {
			t.Errorf("%q: %v, want ErrNoLayer with 3 closest", ref, err)
			continue
		}
		if !strings.Contains(err.Error(), `no layer "`+ref+`" in torch_cnn: closest: `) || !strings.Contains(re.Closest[0], closest) {
			t.Errorf("%q: %v; want closest first %q", ref, err, closest)
		}
	}
}

func TestModulePath(t *testing.T) {
	for node, want := range map[string]string{
		"/layer1/layer1.0/conv1/Conv":                   "layer1.0.conv1",
		"/layer1/layer1.1/downsample/downsample.0/Conv": "layer1.1.downsample.0",
		"/features/features.0/features.0.0/Conv":        "features.0.0",
		"/conv1/Conv":                                   "conv1",
		"/Flatten":                                      "",
		"Conv_12":                                       "",
		"model/conv1/Conv2D":                            "",
		"//Conv":                                        "",
	} {
		if got := models.ModulePath(node); got != want {
			t.Errorf("ModulePath(%q) = %q, want %q", node, got, want)
		}
	}
}

// TestResolveLayerList: a list mixes ids and names, comes back in the
// model's order without duplicates, and refuses a layer that does not
// depend on the image.
func TestResolveLayerList(t *testing.T) {
	layers := torchLayers(t)
	got, err := models.ResolveLayerList(layers, "fc, layer1.0.conv1,L007.Conv,/layer1/layer1.0/Add_output_0", "torch_cnn")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range got {
		ids = append(ids, l.ID)
	}
	if strings.Join(ids, ",") != "L007.Conv,L010.Add,L023.Gemm" {
		t.Errorf("got %v", ids)
	}
	if _, err := models.ResolveLayerList(layers, "L000.Identity", "torch_cnn"); !errors.Is(err, models.ErrNoLayer) || !strings.Contains(err.Error(), "does not depend on the image") {
		t.Errorf("weight layer: %v", err)
	}
}
