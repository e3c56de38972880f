package onnxmodel

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// reluModel is a one-Relu model on an input of the given type and shape.
func reluModel(t *testing.T, elem onnxpb.TensorProto_DataType, dims ...int64) *Checked {
	t.Helper()
	b := NewBuilder(13).Input("image", elem, dims...).Output("out")
	b.Node("Relu", []string{"image"}, []string{"out"})
	if elem == onnxpb.TensorProto_UINT8 {
		b = NewBuilder(13).Input("image", elem, dims...).Output("out")
		b.Node("Cast", []string{"image"}, []string{"out"}, AttrInt("to", int64(onnxpb.TensorProto_FLOAT)))
	}
	c, err := Validate(b.Bytes(), DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("validate %v: %v", dims, err)
	}
	return c
}

// Issue 17: one default for every command and the API. A 3-channel NCHW
// float input gets "imagenet" at its size (224 when dynamic, as
// torch.onnx.export with dynamic H/W writes it); every other input is
// refused with specs that fit it, never with "mean has 3 values: want 1
// or 1".
func TestDefaultSpec(t *testing.T) {
	data, err := os.ReadFile("testdata/torchexport/torch_cnn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	torch, err := Validate(data, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, name, err := DefaultSpec(torch)
	if err != nil || name != "imagenet" || s.String() != models.ImageNetNCHW.String() || CheckSpec(torch, s) != nil {
		t.Errorf("torch export (dynamic H/W): %q %q %v, want imagenet", s, name, err)
	}
	if got := DefaultNote(name, "--preprocess"); got != "preprocessing: imagenet (default; pass --preprocess to change)" {
		t.Errorf("note %q", got)
	}
	// A fixed size other than 224 keeps the size: the spec is what score
	// and models add stored before (same entry ID).
	tiny := reluModel(t, onnxpb.TensorProto_FLOAT, -1, 3, 8, 8)
	s, name, err = DefaultSpec(tiny)
	want := models.ImageNetNCHW
	want.InputSize = 8
	if err != nil || name != "imagenet,size=8" || s.String() != want.String() || CheckSpec(tiny, s) != nil {
		t.Errorf("8×8: %q %q %v", s, name, err)
	}
	if p, _ := models.ParseSpec(name); p.String() != s.String() {
		t.Errorf("the printed name %q is not the spec %q", name, s)
	}
	for _, tc := range []struct {
		what string
		c    *Checked
		says []string
	}{
		{"grey NCHW", reluModel(t, onnxpb.TensorProto_FLOAT, -1, 1, 28, 28), []string{"1-channel NCHW", "size=28,crop=1,mean=0.5,std=0.5,channels=1,layout=NCHW"}},
		{"NHWC", reluModel(t, onnxpb.TensorProto_FLOAT, -1, 96, 96, 3), []string{"3-channel NHWC", "keras_tf,size=96", "keras_caffe,size=96", "imagenet,size=96,layout=NHWC"}},
		{"uint8 NHWC", reluModel(t, onnxpb.TensorProto_UINT8, -1, 224, 224, 3), []string{"uint8", "mobilenet_v2_uint8 ", "pixel=uint8"}},
	} {
		_, _, err := DefaultSpec(tc.c)
		if !errors.Is(err, ErrNoDefaultSpec) {
			t.Errorf("%s: %v, want ErrNoDefaultSpec", tc.what, err)
			continue
		}
		for _, w := range tc.says {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v\nwant it to say %q", tc.what, err, w)
			}
		}
		// Every example given is a spec that fits the model.
		for _, line := range strings.Split(err.Error(), "\n")[1:] {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "(") {
				continue
			}
			ex, _, _ := strings.Cut(line, " ")
			sp, err := models.ParseSpec(ex)
			if err != nil || CheckSpec(tc.c, sp) != nil {
				t.Errorf("%s: example %q does not fit: %v %v", tc.what, ex, err, CheckSpec(tc.c, sp))
			}
		}
	}
}

// A spec that does not fit the model says so (ErrSpec) and offers itself
// adjusted to the input, which fits.
func TestCheckSpecOffersAFit(t *testing.T) {
	grey := reluModel(t, onnxpb.TensorProto_FLOAT, -1, 1, 28, 28)
	s, _ := models.ParseSpec("imagenet")
	err := CheckSpec(grey, s)
	if !errors.Is(err, models.ErrSpec) || !strings.Contains(err.Error(), "declare channels=1") ||
		!strings.Contains(err.Error(), "this spec adjusted to the model's input: size=28,crop=0.875,mean=0.449,std=0.226") {
		t.Fatalf("imagenet on a grey 28×28 model: %v", err)
	}
	fit := FitSpec(grey, s)
	if err := CheckSpec(grey, fit); err != nil {
		t.Errorf("the fit %q does not fit: %v", fit, err)
	}
}
