package onnxmodel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cortexbench/cortexbench/models"
)

// ErrNoDefaultSpec is wrapped by DefaultSpec's refusal: the model's input
// admits no default preprocessing, so a spec must be given.
var ErrNoDefaultSpec = errors.New("no default preprocessing for this model")

// DefaultSpec is the preprocessing a model gets when none is given, the
// same in every command and in the API (issue 17): a 3-channel NCHW float
// input gets the preset "imagenet" (torchvision's convention: ImageNet
// mean/std on [0,1] pixels, crop 7/8) at the input's fixed size, or 224
// when its height and width are dynamic. It returns the spec and its short
// text ("imagenet", "imagenet,size=128") to print.
//
// Any other input — one channel, NHWC (TensorFlow, Keras, TF-Lite),
// uint8 — has no safe default: the error wraps ErrNoDefaultSpec and gives
// specs that fit the input, to pass as they are or to adjust.
func DefaultSpec(c *Checked) (models.Spec, string, error) {
	size := inputSize(c)
	at := ""
	if size != 224 {
		at = ",size=" + strconv.Itoa(size)
	}
	if c.Channels == 3 && c.Layout == models.NCHW && c.Input.Type != "uint8" {
		s := models.ImageNetNCHW
		s.InputSize = size
		return s, models.DefaultPreset + at, nil
	}
	var examples []string
	switch {
	case c.Input.Type == "uint8":
		examples = []string{fmt.Sprintf("size=%d,crop=0.875,pixel=uint8,channels=%d,layout=%s", size, c.Channels, c.Layout)}
		if c.Channels == 3 && c.Layout == models.NHWC {
			examples = append(examples, "mobilenet_v2_uint8"+at+" (TF-Lite quantised exports: the central 90%, stretched)")
		}
	case c.Channels == 1:
		examples = []string{fmt.Sprintf("size=%d,crop=1,mean=0.5,std=0.5,channels=1,layout=%s (grey; put your training mean/std, e.g. MNIST's mean=0.1307,std=0.3081)", size, c.Layout)}
	default: // 3-channel NHWC float
		examples = []string{
			"keras_tf" + at + " (Keras MobileNet/Inception/Xception, TF-Lite float: pixel/127.5 − 1)",
			"keras_caffe" + at + " (Keras ResNet50/VGG: BGR minus the ImageNet mean in 0–255)",
			"keras_torch" + at + " (Keras DenseNet: ImageNet mean/std)",
			"imagenet" + at + ",layout=NHWC (torchvision's preprocessing, NHWC)",
		}
	}
	what := fmt.Sprintf("%d-channel %s", c.Channels, c.Layout)
	if c.Input.Type == "uint8" {
		what += " uint8"
	}
	msg := fmt.Sprintf("%v: input %q is %s (shape %s), and only 3-channel NCHW float inputs have a default (%s); say how images become the input with a preprocessing spec, e.g.",
		ErrNoDefaultSpec, c.Input.Name, what, c.Input, models.DefaultPreset)
	for _, e := range examples {
		msg += "\n  " + e
	}
	msg += "\n(the grammar: 'cortexbench models -h' or the README's \"Preprocessing specs\")"
	return models.Spec{}, "", &noDefaultError{msg}
}

type noDefaultError struct{ msg string }

func (e *noDefaultError) Error() string { return e.msg }
func (e *noDefaultError) Unwrap() error { return ErrNoDefaultSpec }

// inputSize is the input's fixed height (its width when only that is
// fixed), or 224 when both are dynamic.
func inputSize(c *Checked) int {
	if n, ok := fixedSize(c); ok {
		return n
	}
	return 224
}

// fixedSize is the input's fixed height, or width, if either is fixed.
func fixedSize(c *Checked) (int, bool) {
	if len(c.Input.Shape) != 4 {
		return 0, false
	}
	h, w := c.Input.Shape[2], c.Input.Shape[3]
	if c.Layout == models.NHWC {
		h, w = c.Input.Shape[1], c.Input.Shape[2]
	}
	switch {
	case h > 0:
		return int(h), true
	case w > 0:
		return int(w), true
	}
	return 0, false
}

// DefaultNote is what a command prints, and the API returns as a
// warning, when the default preprocessing was used.
func DefaultNote(text, flag string) string {
	return fmt.Sprintf("preprocessing: %s (default; pass %s to change)", text, flag)
}

// FitSpec returns s with what the model's input fixes taken from it:
// layout, channels, pixel type and a fixed size. Per-channel values become
// their mean for a 1-channel input; a uint8 input drops normalisation. It
// is the suggestion given with a spec that does not fit.
func FitSpec(c *Checked, s models.Spec) models.Spec {
	s.Layout, s.Channels = c.Layout, c.Channels
	if c.Input.Type == "uint8" {
		s.Pixel = models.PixelUint8
		s.Mean, s.Std, s.Offset, s.Scale = nil, nil, nil, nil
	} else {
		s.Pixel = models.PixelFloat
	}
	if n, ok := fixedSize(c); ok {
		s.InputSize = n
	}
	if c.Channels == 1 {
		one := func(v []float64) []float64 {
			if len(v) <= 1 {
				return v
			}
			t := 0.0
			for _, x := range v {
				t += x
			}
			return []float64{t / float64(len(v))}
		}
		s.Mean, s.Std, s.Offset, s.Scale = one(s.Mean), one(s.Std), one(s.Offset), one(s.Scale)
	}
	return s.Canonical()
}

// SpecWarnings is s.Warnings() without the size warning when the model's
// input is fixed at the spec's size (c nil: no model known): a tiny or huge
// input the model itself declares is no mistake in the spec.
func SpecWarnings(c *Checked, s models.Spec) []string {
	all := s.Warnings()
	if c == nil {
		return all
	}
	if n, ok := fixedSize(c); !ok || n != s.InputSize {
		return all
	}
	out := all[:0:0]
	for _, w := range all {
		if !strings.HasPrefix(w, "size=") {
			out = append(out, w)
		}
	}
	return out
}
