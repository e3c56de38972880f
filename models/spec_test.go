package models

import (
	"errors"
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
		if _, err := ParseSpec(bad); !errors.Is(err, ErrSpec) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
