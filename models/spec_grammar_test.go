package models

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// Issue 17, finding 5: one grammar whose mistakes are said as what they
// are: a syntax error is a spec error (ErrBadSpec, "preprocessing spec:
// …"), never "does not match the model" (ErrSpec).
func TestParseSpecSyntaxErrors(t *testing.T) {
	for text, says := range map[string]string{
		"imagenet,maen=0.5":              `preprocessing spec: unknown key "maen" (keys: size, resize, crop, aspect, mean, std, range,`,
		"imagenet,sise=224":              "did you mean size?",
		"imagenet,mean=0.5:x:0.4":        `mean="x" is not a number`,
		"imagnet":                        "did you mean imagenet?",
		"size=22.5,layout=NCHW":          "not an integer",
		"imagenet,range=100":             "want range=255",
		"size=224,layout=NCHW,range=255": "range=255 gives the units of mean and std",
		"size=224":                       "layout is missing: give layout=NCHW (PyTorch exports) or layout=NHWC",
		"layout=NCHW":                    "size is missing",
		"imagenet,std=0":                 "std value 0 is not positive",
		"imagenet,std=-0.2":              "std value -0.2 is not positive",
		"imagenet,mean=2000":             "outside [-1000, 1000]",
		"imagenet,channels=1":            "mean has 3 values but the spec has 1 channel (grey): give one value, e.g. mean=0.449",
		"imagenet,mean=1:2":              "mean has 2 values: give 1, or 3 (one per channel)",
	} {
		_, err := ParseSpec(text)
		if !errors.Is(err, ErrBadSpec) || errors.Is(err, ErrSpec) || !strings.Contains(err.Error(), says) {
			t.Errorf("%q: %v\nwant a spec error saying %q", text, err, says)
		}
		if err != nil && strings.Contains(err.Error(), "does not match the model") {
			t.Errorf("%q: a syntax error is said as a mismatch: %v", text, err)
		}
	}
}

// The presets are the specs they always were ("imagenet" is
// "imagenet_nchw": one entry ID), and a preset takes overrides.
func TestSpecPresets(t *testing.T) {
	a, err := ParseSpec("imagenet")
	if err != nil || a.String() != ImageNetNCHW.String() || EntryID("f", a) != EntryID("f", ImageNetNCHW) {
		t.Fatalf("imagenet: %q %v", a, err)
	}
	for text, want := range map[string]string{
		"imagenet,size=160": "size=160,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,channels=3,order=RGB,layout=NCHW,pixel=float",
		// Keras applications' preprocess_input modes (keras 3, keras/src/applications/imagenet_utils.py).
		"keras_caffe": "size=224,crop=1,aspect=stretch,offset=103.939:116.779:123.68,channels=3,order=BGR,layout=NHWC,pixel=float",
		"keras_tf":    "size=224,crop=1,aspect=stretch,offset=127.5,scale=0.00784313725490196,channels=3,order=RGB,layout=NHWC,pixel=float",
		"keras_torch": "size=224,crop=1,aspect=stretch,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,channels=3,order=RGB,layout=NHWC,pixel=float",
	} {
		s, err := ParseSpec(text)
		if err != nil || s.String() != want {
			t.Errorf("%q → %q, %v; want %q", text, s, err, want)
		}
	}
}

// range=255: mean/std in 0–255 units (mmcv, timm configs) are the same
// spec, and entry, as the [0,1] form; without it they are accepted with a
// warning that offers both fixes.
func TestSpecRange255AndWarnings(t *testing.T) {
	mm := "size=224,mean=123.675:116.28:103.53,std=58.395:57.12:57.375,layout=NCHW"
	s, err := ParseSpec(mm + ",range=255")
	if err != nil || s.String() != ImageNetNCHW.String() || len(s.Warnings()) != 0 {
		t.Fatalf("range=255: %q %v %v, want the imagenet spec without warnings", s, err, s.Warnings())
	}
	raw, err := ParseSpec(mm)
	if err != nil {
		t.Fatalf("0–255 units without range: %v (a warning, not a refusal)", err)
	}
	w := raw.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "range=255") || !strings.Contains(w[0], ImageNetNCHW.String()) {
		t.Errorf("warnings %q: want one naming range=255 and the rescaled spec %s", w, ImageNetNCHW)
	}
	for text, n := range map[string]int{
		"imagenet":                 0,
		"mobilenet_v2_float":       0, // offset/scale are in 0–255 units
		"mobilenet_v2_uint8":       0,
		"imagenet,std=1.5":         1,
		"imagenet,size=8":          1,
		"imagenet,size=2048":       1,
		"imagenet,size=8,mean=120": 2,
		"keras_caffe":              0,
	} {
		s, err := ParseSpec(text)
		if err != nil || len(s.Warnings()) != n {
			t.Errorf("%q: %v, warnings %q; want %d", text, err, s.Warnings(), n)
		}
	}
}

// Every ready-made line in the README's "Preprocessing specs" parses,
// without warnings, and those naming mean/std in 0–255 units are the
// [0,1] specs.
func TestREADMESpecLines(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(data), "### Preprocessing specs")
	_, block, ok2 := strings.Cut(sec, "```text\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README has no Preprocessing specs section with a text block")
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
		text, _, _ := strings.Cut(line, "#")
		text = strings.TrimSpace(text)
		s, err := ParseSpec(text)
		if err != nil || len(s.Warnings()) != 0 {
			t.Errorf("README line %q: %v %q", text, err, s.Warnings())
		}
		n++
	}
	if n < 10 {
		t.Errorf("%d README lines, want the torchvision, timm, Keras and TF-Lite ones", n)
	}
}

// FuzzParseSpec: whatever text parses has a canonical text that parses to
// the same spec (so one entry ID), and never panics; an error always
// wraps ErrBadSpec.
func FuzzParseSpec(f *testing.F) {
	for _, seed := range []string{"imagenet", "imagenet,size=160", "keras_caffe,size=299", "mobilenet_v2_uint8",
		"size=224,mean=123.675:116.28:103.53,std=58.395:57.12:57.375,range=255,layout=NCHW",
		"size=28,crop=1,mean=0.1307,std=0.3081,channels=1,layout=NCHW", "imagenet,maen=1", "size=8,resize=9,aspect=stretch,layout=NHWC,fov=12"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSpec(text)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("%q: error %v does not wrap ErrBadSpec", text, err)
			}
			return
		}
		_ = s.Warnings()
		again, err := ParseSpec(s.String())
		if err != nil || again.String() != s.String() {
			t.Fatalf("%q → %q → %q, %v", text, s, again, err)
		}
	})
}
