package models

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseSpecRoundTrip(t *testing.T) {
	for name, b := range Builtins {
		s, err := ParseSpec(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		again, err := ParseSpec(s.String())
		if err != nil || again.String() != b.String() {
			t.Errorf("%s: %q → %q (%v)", name, b, again, err)
		}
	}
	s, err := ParseSpec("size=224,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,layout=NCHW")
	if err != nil {
		t.Fatal(err)
	}
	sub, mul := s.Affine()
	// (pixel/255 − 0.485)/0.229 = (pixel − 123.675) × 1/(255·0.229)
	if d := sub[0] - 123.675; d > 1e-9 || d < -1e-9 || mul[0]-1/(255*0.229) > 1e-12 {
		t.Errorf("affine %v %v", sub, mul)
	}
	for _, bad := range []string{"size=0,layout=NCHW", "size=224,layout=NCWH", "size=224,layout=NHWC,pixel=uint8,scale=2", "nonsense", "size=224,layout=NHWC,mean=1:2"} {
		if _, err := ParseSpec(bad); !errors.Is(err, ErrBadSpec) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

// One spec written two ways has one canonical text, and so one entry ID;
// the builtins' texts (activation cache keys) are what they always were.
func TestSpecCanonical(t *testing.T) {
	for _, pair := range [][2]string{
		{"size=224,crop=0.875,mean=0.5:0.5:0.5,std=0.25,layout=NCHW", "size=224,crop=0.875,mean=0.5,std=0.25:0.25:0.25,layout=NCHW"},
		{"size=224,mean=0.5,std=1,layout=NCHW", "size=224,mean=0.5,layout=NCHW"},
		{"size=224,offset=0,scale=1,layout=NCHW", "size=224,layout=NCHW"},
		{"size=224,offset=-0,scale=2,layout=NCHW", "size=224,scale=2,layout=NCHW"},
		{"size=224,channels=1,order=BGR,layout=NCHW", "size=224,channels=1,layout=NCHW"},
		{"size=224,crop=0.5,resize=300,layout=NCHW", "size=224,resize=300,layout=NCHW"},
		{"mobilenet_v1_float,resize=300", "mobilenet_v1_float"},
		{"layout=nchw,size=224,pixel=float32,order=rgb", "size=224,layout=NCHW"},
		{"mobilenet_v2_uint8", "size=224,crop=0.9,aspect=stretch,layout=NHWC,pixel=uint8"},
	} {
		a, errA := ParseSpec(pair[0])
		b, errB := ParseSpec(pair[1])
		if errA != nil || errB != nil {
			t.Fatalf("%q %v; %q %v", pair[0], errA, pair[1], errB)
		}
		if a.String() != b.String() || EntryID("f", a) != EntryID("f", b) {
			t.Errorf("%q → %q, %q → %q", pair[0], a, pair[1], b)
		}
	}
	for _, pair := range [][2]string{
		{"size=224,mean=0.5,layout=NCHW", "size=224,std=0.5,layout=NCHW"},
		{"mobilenet_v1_float", "mobilenet_v1_float,order=BGR,offset=0,scale=0.0001"},
		{"size=224,mean=0,layout=NCHW", "size=224,layout=NCHW"},
	} {
		a, _ := ParseSpec(pair[0])
		b, _ := ParseSpec(pair[1])
		if a.String() == b.String() || EntryID("f", a) == EntryID("f", b) {
			t.Errorf("%q and %q preprocess differently but share %q", pair[0], pair[1], a)
		}
	}
	for name, want := range map[string]string{
		"mobilenet_v2_float": "size=224,crop=0.9,aspect=stretch,offset=127,scale=0.007843137718737125,channels=3,order=RGB,layout=NHWC,pixel=float",
		"mobilenet_v1_float": "size=128,crop=0.9,aspect=stretch,offset=128,scale=0.0078125,channels=3,order=RGB,layout=NHWC,pixel=float",
		"imagenet_nchw":      "size=224,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,channels=3,order=RGB,layout=NCHW,pixel=float",
	} {
		if got := Builtins[name].String(); got != want {
			t.Errorf("%s: %q, was %q", name, got, want)
		}
	}
	// The ID depends on both halves and is 64 hex digits.
	id := EntryID("f", MobileNetV1Float)
	if !IsSHA256Hex(id) || id == EntryID("g", MobileNetV1Float) || id == EntryID("f", MobileNetV2Float) {
		t.Errorf("entry id %q", id)
	}
}

// The field of view is part of the spec's text (and so of the entry ID)
// only when it is not the default 8°: every spec written before it existed
// keeps its text and ID (issue 16).
func TestSpecFieldOfView(t *testing.T) {
	base, err := ParseSpec("mobilenet_v2_float")
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"mobilenet_v2_float,fov=8", "mobilenet_v2_float,fov=8.0", "size=224,crop=0.9,aspect=stretch,offset=127,scale=0.007843137718737125,layout=NHWC,fov=8"} {
		s, err := ParseSpec(text)
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if s.String() != base.String() || EntryID("f", s) != EntryID("f", base) || s.FieldOfView != 0 || s.FOV() != 8 {
			t.Errorf("%q → %q (fov %g), want %q", text, s, s.FieldOfView, base)
		}
	}
	s, err := ParseSpec("mobilenet_v2_float,fov=10")
	if err != nil {
		t.Fatal(err)
	}
	const want = "size=224,crop=0.9,aspect=stretch,offset=127,scale=0.007843137718737125,channels=3,order=RGB,layout=NHWC,pixel=float,fov=10"
	if s.String() != want || s.FOV() != 10 || s.FieldOfView != 10 {
		t.Errorf("fov=10: %q (fov %g)", s, s.FOV())
	}
	if EntryID("f", s) == EntryID("f", base) {
		t.Error("fov=10 and the default share an entry id")
	}
	again, err := ParseSpec(s.String())
	if err != nil || again.String() != want {
		t.Errorf("round trip: %q, %v", again, err)
	}
	if (Spec{}).FOV() != DefaultFieldOfView || MobileNetV2Float.FOV() != 8 {
		t.Error("a spec without a field of view does not see 8°")
	}
	for _, bad := range []string{"fov=0", "fov=-3", "fov=181", "fov=NaN", "fov=inf", "fov=wide"} {
		_, err := ParseSpec("mobilenet_v2_float," + bad)
		if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), "fov") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if err := (Spec{InputSize: 224, CropFraction: 1, Channels: 3, ChannelOrder: "RGB", Layout: NCHW, Pixel: PixelFloat, FieldOfView: 200}).Validate(); !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), "field of view") {
		t.Errorf("Validate fov 200: %v", err)
	}
	// Metadata JSON of a default spec has no field of view: what was
	// stored before is what is stored now.
	b, err := json.Marshal(MobileNetV2Float)
	if err != nil || strings.Contains(string(b), "FieldOfView") {
		t.Errorf("JSON %s, %v", b, err)
	}
	b, _ = json.Marshal(s)
	var back Spec
	if err := json.Unmarshal(b, &back); err != nil || back.String() != want {
		t.Errorf("JSON round trip %s → %q, %v", b, back, err)
	}
}
