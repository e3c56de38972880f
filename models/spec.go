package models

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Layout is the order of a 4-d image tensor's axes.
type Layout string

// The two image layouts a model input may have.
const (
	NCHW Layout = "NCHW"
	NHWC Layout = "NHWC"
)

// PixelType is the element type of the model input.
type PixelType string

// The input element types a model may take.
const (
	PixelUint8 PixelType = "uint8" // raw 0..255 pixels, no normalisation
	PixelFloat PixelType = "float" // float32 after normalisation
)

// Spec says how an image becomes the model's input tensor.
//
// Geometry, two conventions:
//   - Stretch false (torchvision style): the shorter side of the image is
//     resized to ResizeSize (or, when ResizeSize is 0, to
//     round(InputSize/CropFraction)), then the central InputSize×InputSize
//     square is kept. CropFraction 0.875 keeps the central 7/8; 1 keeps the
//     whole shorter side.
//   - Stretch true (TensorFlow style, tf.image.central_crop then resize):
//     the central CropFraction of each side is kept and resized to
//     InputSize×InputSize, not keeping the aspect ratio.
//
// Resampling is bilinear (golang.org/x/image/draw.BiLinear, which widens
// its kernel when shrinking, so it antialiases).
//
// Normalisation (float inputs only), per channel c after channel ordering:
// with Mean/Std set, value = (pixel/255 − Mean[c]) / Std[c] (the torchvision
// convention); with Scale set, value = (pixel − Offset[c]) × Scale[c]. A
// uint8 input takes the raw pixels.
//
// Field of view: FieldOfView is the visual angle in degrees the model's
// input is taken to span (0 is DefaultFieldOfView, 8°, as Brain-Score). A
// benchmark that states its stimuli's size in degrees has its images
// placed on that screen before the steps above (preprocess.Place: scaled
// down onto grey, or cropped and zoomed in); a benchmark that does not
// uses them as given, whatever the field of view.
type Spec struct {
	InputSize    int
	ResizeSize   int
	CropFraction float64
	Stretch      bool
	Mean, Std    []float64
	Offset       []float64
	Scale        []float64
	Channels     int    // 3 (colour) or 1 (grey)
	ChannelOrder string // "RGB" or "BGR"; ignored for 1 channel
	Layout       Layout
	Pixel        PixelType
	// FieldOfView in degrees, 0 < F ≤ 180; 0 is DefaultFieldOfView. Its
	// JSON is omitted at 0, so metadata stored before it existed is
	// unchanged.
	FieldOfView float64 `json:",omitempty"`
}

// DefaultFieldOfView is the field of view of a spec that states none, in
// degrees of visual angle: Brain-Score's default for its models (8°).
const DefaultFieldOfView = 8.0

// FOV returns the spec's field of view in degrees (DefaultFieldOfView
// when it states none).
func (s Spec) FOV() float64 {
	if s.FieldOfView == 0 {
		return DefaultFieldOfView
	}
	return s.FieldOfView
}

// Builtin specs for the models in shared/models (see its README). The
// MobileNets were trained with TensorFlow's preprocessing (central crop,
// bilinear resize to a square); keeping the central 90% of each side makes
// all four README sanity images come out right for the float32 and int8
// MobileNetV2 (measured: 0.9 and 1.0 do; 0.875, and the square crops of
// the torchvision convention, turn the cat into a tiger cat or tabby or the
// moped into a motor scooter: close calls in these photos).
var (
	// MobileNetV2Float is mobilenet_v2_1.0_224_float32.onnx:
	// value = (pixel − 127) × 0.007843137718737125, NHWC 224.
	MobileNetV2Float = Spec{InputSize: 224, CropFraction: 0.9, Stretch: true, Offset: []float64{127}, Scale: []float64{0.007843137718737125}, Channels: 3, ChannelOrder: "RGB", Layout: NHWC, Pixel: PixelFloat}
	// MobileNetV2Uint8 is mobilenet_v2_1.0_224_int8.onnx: raw pixels.
	MobileNetV2Uint8 = Spec{InputSize: 224, CropFraction: 0.9, Stretch: true, Channels: 3, ChannelOrder: "RGB", Layout: NHWC, Pixel: PixelUint8}
	// MobileNetV1Float is mobilenet_v1_0.5_128_float32.onnx:
	// value = (pixel − 128) × 0.0078125, NHWC 128.
	MobileNetV1Float = Spec{InputSize: 128, CropFraction: 0.9, Stretch: true, Offset: []float64{128}, Scale: []float64{0.0078125}, Channels: 3, ChannelOrder: "RGB", Layout: NHWC, Pixel: PixelFloat}
	// MobileNetV1Uint8 is mobilenet_v1_0.5_128_uint8.onnx: raw pixels.
	MobileNetV1Uint8 = Spec{InputSize: 128, CropFraction: 0.9, Stretch: true, Channels: 3, ChannelOrder: "RGB", Layout: NHWC, Pixel: PixelUint8}
	// ImageNetNCHW is the torchvision convention used by the model-zoo
	// architectures: mean/std on [0,1] pixels, NCHW 224, crop 7/8.
	ImageNetNCHW = Spec{InputSize: 224, CropFraction: 0.875, Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}, Channels: 3, ChannelOrder: "RGB", Layout: NCHW, Pixel: PixelFloat}
)

// Builtins names the built-in specs accepted by ParseSpec.
var Builtins = map[string]Spec{
	"mobilenet_v2_float": MobileNetV2Float,
	"mobilenet_v2_uint8": MobileNetV2Uint8,
	"mobilenet_v1_float": MobileNetV1Float,
	"mobilenet_v1_uint8": MobileNetV1Uint8,
	"imagenet_nchw":      ImageNetNCHW,
}

// Resize returns the length the shorter image side is resized to.
func (s Spec) Resize() int {
	if s.ResizeSize > 0 {
		return s.ResizeSize
	}
	f := s.CropFraction
	if f <= 0 {
		f = 1
	}
	return int(math.Round(float64(s.InputSize) / f))
}

// Affine returns, per channel, sub and mul such that value = (pixel − sub) × mul,
// pixel in 0..255. For uint8 inputs it is the identity.
func (s Spec) Affine() (sub, mul []float64) {
	n := s.Channels
	sub, mul = make([]float64, n), make([]float64, n)
	pick := func(v []float64, c int, def float64) float64 {
		switch len(v) {
		case 0:
			return def
		case 1:
			return v[0]
		}
		return v[c]
	}
	for c := range n {
		switch {
		case s.Pixel == PixelUint8:
			sub[c], mul[c] = 0, 1
		case len(s.Mean) > 0 || len(s.Std) > 0:
			m, sd := pick(s.Mean, c, 0), pick(s.Std, c, 1)
			sub[c], mul[c] = m*255, 1/(255*sd)
		default:
			sub[c], mul[c] = pick(s.Offset, c, 0), pick(s.Scale, c, 1)
		}
	}
	return sub, mul
}

// Validate checks the spec on its own (not against a model).
func (s Spec) Validate() error {
	var probs []string
	if s.InputSize < 1 || s.InputSize > 4096 {
		probs = append(probs, fmt.Sprintf("input size %d is not in 1..4096", s.InputSize))
	}
	if s.ResizeSize != 0 && s.ResizeSize < s.InputSize {
		probs = append(probs, fmt.Sprintf("resize size %d is smaller than the input size %d", s.ResizeSize, s.InputSize))
	}
	if s.CropFraction < 0 || s.CropFraction > 1 || (s.Stretch && s.CropFraction == 0) {
		probs = append(probs, fmt.Sprintf("crop fraction %g is not in (0,1]", s.CropFraction))
	}
	if s.Channels != 1 && s.Channels != 3 {
		probs = append(probs, fmt.Sprintf("%d channels: want 1 or 3", s.Channels))
	}
	if s.ChannelOrder != "RGB" && s.ChannelOrder != "BGR" {
		probs = append(probs, fmt.Sprintf("channel order %q: want RGB or BGR", s.ChannelOrder))
	}
	if s.Layout != NCHW && s.Layout != NHWC {
		probs = append(probs, fmt.Sprintf("layout %q: want NCHW or NHWC", s.Layout))
	}
	if s.Pixel != PixelUint8 && s.Pixel != PixelFloat {
		probs = append(probs, fmt.Sprintf("pixel type %q: want uint8 or float", s.Pixel))
	}
	if f := s.FieldOfView; math.IsNaN(f) || f < 0 || f > 180 {
		probs = append(probs, fmt.Sprintf("field of view %g° is not in (0,180] degrees (fov=8 is the default)", f))
	}
	hasMS := len(s.Mean) > 0 || len(s.Std) > 0
	hasSO := len(s.Scale) > 0 || len(s.Offset) > 0
	if hasMS && hasSO {
		probs = append(probs, "give either mean/std or scale/offset, not both")
	}
	if s.Pixel == PixelUint8 && (hasMS || hasSO) {
		probs = append(probs, "a uint8 input takes raw pixels: drop mean/std and scale/offset")
	}
	for name, v := range map[string][]float64{"mean": s.Mean, "std": s.Std, "scale": s.Scale, "offset": s.Offset} {
		if len(v) != 0 && len(v) != 1 && len(v) != s.Channels {
			probs = append(probs, fmt.Sprintf("%s has %d values: want 1 or %d", name, len(v), s.Channels))
		}
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) || ((name == "std" || name == "scale") && x == 0) {
				probs = append(probs, fmt.Sprintf("%s value %g is not usable", name, x))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrSpec, strings.Join(probs, "; "))
	}
	return nil
}

// Canonical returns the spec with every setting that does not change the
// preprocessing written one way, so two specs that preprocess alike (as far
// as the rules below see) have one String:
//   - a list whose values are all equal becomes that one value
//     ("mean=0.5:0.5:0.5" is "mean=0.5"), and -0 becomes 0;
//   - with mean/std, std all 1 is dropped when mean is given, mean all 0 when
//     std is given; with offset/scale, offset all 0 and scale all 1 are
//     dropped (they are the defaults);
//   - a uint8 input has no normalisation; a 1-channel input has order RGB;
//   - a stretched spec has no resize; a kept-aspect spec with a resize has
//     the default crop (crop is then unused); crop 0 without resize is 1;
//   - a field of view of DefaultFieldOfView is 0 (not written), so every
//     spec written before fields of view existed keeps its text and its
//     entry ID.
//
// "resize=256" and "crop=0.875" (size 224) resize alike but stay two specs:
// a resize length does not map back to one crop fraction.
func (s Spec) Canonical() Spec {
	norm := func(v []float64) []float64 {
		if len(v) == 0 {
			return nil
		}
		out := make([]float64, len(v))
		same := true
		for i, x := range v {
			out[i] = x + 0 // -0 → 0
			if x != v[0] {
				same = false
			}
		}
		if same {
			out = out[:1]
		}
		return out
	}
	all := func(v []float64, x float64) bool {
		if len(v) == 0 {
			return false
		}
		for _, y := range v {
			if y != x {
				return false
			}
		}
		return true
	}
	s.Mean, s.Std, s.Offset, s.Scale = norm(s.Mean), norm(s.Std), norm(s.Offset), norm(s.Scale)
	switch {
	case s.Pixel == PixelUint8:
		s.Mean, s.Std, s.Offset, s.Scale = nil, nil, nil, nil
	case len(s.Mean) > 0 || len(s.Std) > 0:
		if len(s.Mean) > 0 && all(s.Std, 1) {
			s.Std = nil
		} else if len(s.Std) > 0 && all(s.Mean, 0) {
			s.Mean = nil
		}
	default:
		if all(s.Offset, 0) {
			s.Offset = nil
		}
		if all(s.Scale, 1) {
			s.Scale = nil
		}
	}
	if s.Channels == 1 {
		s.ChannelOrder = "RGB"
	}
	switch {
	case s.Stretch:
		s.ResizeSize = 0
	case s.ResizeSize > 0:
		s.CropFraction = 0.875
	case s.CropFraction == 0:
		s.CropFraction = 1
	}
	if s.FieldOfView == DefaultFieldOfView {
		s.FieldOfView = 0
	}
	return s
}

// String is the canonical text form of the spec (of s.Canonical()),
// accepted by ParseSpec and used in cache keys and model entry IDs.
func (s Spec) String() string {
	s = s.Canonical()
	parts := []string{
		"size=" + strconv.Itoa(s.InputSize),
	}
	if s.ResizeSize > 0 && !s.Stretch {
		parts = append(parts, "resize="+strconv.Itoa(s.ResizeSize))
	} else {
		parts = append(parts, "crop="+strconv.FormatFloat(s.CropFraction, 'g', -1, 64))
	}
	if s.Stretch {
		parts = append(parts, "aspect=stretch")
	}
	list := func(v []float64) string {
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return strings.Join(out, ":")
	}
	if len(s.Mean) > 0 {
		parts = append(parts, "mean="+list(s.Mean))
	}
	if len(s.Std) > 0 {
		parts = append(parts, "std="+list(s.Std))
	}
	if len(s.Offset) > 0 {
		parts = append(parts, "offset="+list(s.Offset))
	}
	if len(s.Scale) > 0 {
		parts = append(parts, "scale="+list(s.Scale))
	}
	parts = append(parts, "channels="+strconv.Itoa(s.Channels), "order="+s.ChannelOrder,
		"layout="+string(s.Layout), "pixel="+string(s.Pixel))
	if s.FieldOfView != 0 {
		parts = append(parts, "fov="+strconv.FormatFloat(s.FieldOfView, 'g', -1, 64))
	}
	return strings.Join(parts, ",")
}

// ParseSpec reads a spec from text: either a builtin name (see Builtins),
// optionally followed by overrides ("mobilenet_v2_float,crop=1"), or
// comma-separated key=value pairs:
//
//	size=224,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,order=RGB,layout=NCHW,pixel=float
//
// Keys: size, resize, crop, aspect (keep|stretch), mean, std, offset, scale (colon-separated lists,
// one value or one per channel), channels, order, layout, pixel, fov (the
// model's field of view in degrees of visual angle, 0 < F ≤ 180). Defaults:
// crop=0.875, channels=3, order=RGB, pixel=float, fov=8.
func ParseSpec(text string) (Spec, error) {
	s := Spec{CropFraction: 0.875, Channels: 3, ChannelOrder: "RGB", Pixel: PixelFloat}
	fields := strings.Split(text, ",")
	if b, ok := Builtins[strings.TrimSpace(fields[0])]; ok {
		s = b
		fields = fields[1:]
	}
	num := func(k, v string) (float64, error) {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s=%q is not a number", ErrSpec, k, v)
		}
		return x, nil
	}
	nums := func(k, v string) ([]float64, error) {
		var out []float64
		for _, f := range strings.Split(v, ":") {
			x, err := num(k, f)
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	}
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return Spec{}, fmt.Errorf("%w: %q is neither a builtin (%s) nor key=value", ErrSpec, f, builtinNames())
		}
		var err error
		var x float64
		switch k {
		case "size", "resize", "channels":
			x, err = num(k, v)
			if err == nil && x != math.Trunc(x) {
				err = fmt.Errorf("%w: %s=%s is not an integer", ErrSpec, k, v)
			}
			switch k {
			case "size":
				s.InputSize = int(x)
			case "resize":
				s.ResizeSize = int(x)
			default:
				s.Channels = int(x)
			}
		case "crop":
			s.CropFraction, err = num(k, v)
		case "mean":
			s.Mean, err = nums(k, v)
			s.Scale, s.Offset = nil, nil
		case "std":
			s.Std, err = nums(k, v)
			s.Scale, s.Offset = nil, nil
		case "offset":
			s.Offset, err = nums(k, v)
			s.Mean, s.Std = nil, nil
		case "scale":
			s.Scale, err = nums(k, v)
			s.Mean, s.Std = nil, nil
		case "aspect":
			switch strings.ToLower(v) {
			case "stretch":
				s.Stretch = true
			case "keep":
				s.Stretch = false
			default:
				err = fmt.Errorf("%w: aspect=%q: want keep or stretch", ErrSpec, v)
			}
		case "order":
			s.ChannelOrder = strings.ToUpper(v)
		case "layout":
			s.Layout = Layout(strings.ToUpper(v))
		case "pixel":
			s.Pixel = PixelType(strings.ToLower(v))
			if s.Pixel == "float32" {
				s.Pixel = PixelFloat
			}
		case "fov":
			x, err = num(k, v)
			if err == nil && !(x > 0 && x <= 180) {
				err = fmt.Errorf("%w: fov=%s: the field of view is in degrees of visual angle, 0 < fov ≤ 180 (default 8)", ErrSpec, v)
			}
			s.FieldOfView = x
		default:
			err = fmt.Errorf("%w: unknown key %q (want size, resize, crop, aspect, mean, std, offset, scale, channels, order, layout, pixel, fov)", ErrSpec, k)
		}
		if err != nil {
			return Spec{}, err
		}
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s.Canonical(), nil
}

func builtinNames() string {
	return "mobilenet_v2_float, mobilenet_v2_uint8, mobilenet_v1_float, mobilenet_v1_uint8, imagenet_nchw"
}
