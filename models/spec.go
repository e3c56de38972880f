package models

import (
	"errors"
	"fmt"
	"math"
	"slices"
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

// Presets for common exporters (issue 17), at 224 pixels: add ",size=S"
// for another input size. Keras applications resize the whole image to the
// input size (keras.utils.load_img(target_size=…)), so they stretch
// without cropping; their three preprocess_input modes are:
var (
	// KerasCaffe is mode "caffe" (ResNet50, VGG16/19 in Keras): BGR, the
	// ImageNet mean subtracted in 0–255 units, no scaling, NHWC.
	KerasCaffe = Spec{InputSize: 224, CropFraction: 1, Stretch: true, Offset: []float64{103.939, 116.779, 123.68}, Channels: 3, ChannelOrder: "BGR", Layout: NHWC, Pixel: PixelFloat}
	// KerasTF is mode "tf" (MobileNet, Inception, Xception, EfficientNetV2
	// with include_preprocessing=False): pixel/127.5 − 1, NHWC. TF-Lite
	// float exports of these take the same.
	KerasTF = Spec{InputSize: 224, CropFraction: 1, Stretch: true, Offset: []float64{127.5}, Scale: []float64{1 / 127.5}, Channels: 3, ChannelOrder: "RGB", Layout: NHWC, Pixel: PixelFloat}
	// KerasTorch is mode "torch" (DenseNet in Keras): ImageNet mean/std on
	// [0,1] pixels, NHWC.
	KerasTorch = Spec{InputSize: 224, CropFraction: 1, Stretch: true, Mean: ImageNetNCHW.Mean, Std: ImageNetNCHW.Std, Channels: 3, ChannelOrder: "RGB", Layout: NHWC, Pixel: PixelFloat}
)

// DefaultPreset names the spec a 3-channel NCHW float model gets when no
// spec is given (onnxmodel.DefaultSpec): ImageNetNCHW.
const DefaultPreset = "imagenet"

// Builtins names the presets accepted by ParseSpec. "imagenet" and
// "imagenet_nchw" are one spec (torchvision's, and timm's for most of its
// models), so one entry ID.
var Builtins = map[string]Spec{
	"mobilenet_v2_float": MobileNetV2Float,
	"mobilenet_v2_uint8": MobileNetV2Uint8,
	"mobilenet_v1_float": MobileNetV1Float,
	"mobilenet_v1_uint8": MobileNetV1Uint8,
	"imagenet_nchw":      ImageNetNCHW,
	"imagenet":           ImageNetNCHW,
	"keras_caffe":        KerasCaffe,
	"keras_tf":           KerasTF,
	"keras_torch":        KerasTorch,
}

// ErrBadSpec is wrapped by every error about a spec on its own: its text
// (an unknown key, a value that is not a number) or its values (a zero
// std). ErrSpec is for a good spec that does not fit the model.
var ErrBadSpec = errors.New("preprocessing spec")

// specKeys are ParseSpec's keys, in the order its errors list them.
var specKeys = []string{"size", "resize", "crop", "aspect", "mean", "std", "range", "offset", "scale", "channels", "order", "layout", "pixel", "fov"}

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
	switch {
	case s.InputSize == 0:
		probs = append(probs, "size is missing: give the model's input size, e.g. size=224")
	case s.InputSize < 1 || s.InputSize > 4096:
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
	switch {
	case s.Layout == "":
		probs = append(probs, "layout is missing: give layout=NCHW (PyTorch exports) or layout=NHWC (TensorFlow, Keras, TF-Lite)")
	case s.Layout != NCHW && s.Layout != NHWC:
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
	for _, name := range []string{"mean", "std", "offset", "scale"} {
		v := map[string][]float64{"mean": s.Mean, "std": s.Std, "scale": s.Scale, "offset": s.Offset}[name]
		if len(v) != 0 && len(v) != 1 && len(v) != s.Channels {
			if s.Channels == 1 {
				probs = append(probs, fmt.Sprintf("%s has %d values but the spec has 1 channel (grey): give one value, e.g. %s=%s", name, len(v), name, fmtFloat(mean(v))))
			} else {
				probs = append(probs, fmt.Sprintf("%s has %d values: give 1, or %d (one per channel)", name, len(v), s.Channels))
			}
		}
		for _, x := range v {
			switch {
			case math.IsNaN(x) || math.IsInf(x, 0) || (name == "scale" && x == 0):
				probs = append(probs, fmt.Sprintf("%s value %g is not usable", name, x))
			case name == "std" && x <= 0:
				probs = append(probs, fmt.Sprintf("std value %g is not positive: a standard deviation is > 0 (ImageNet's is std=0.229:0.224:0.225)", x))
			case name == "mean" && (x < -1e3 || x > 1e3):
				probs = append(probs, fmt.Sprintf("mean value %g is outside [-1000, 1000]: mean is in pixel/255 units, in [0,1] (ImageNet's is mean=0.485:0.456:0.406)", x))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s", ErrBadSpec, strings.Join(probs, "; "))
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

// ParseSpec reads a spec from text: a preset name (see Builtins),
// optionally followed by overrides ("imagenet,size=160"), or
// comma-separated key=value pairs:
//
//	size=224,crop=0.875,mean=0.485:0.456:0.406,std=0.229:0.224:0.225,order=RGB,layout=NCHW,pixel=float
//
// Keys: size, resize, crop, aspect (keep|stretch), mean, std, offset, scale (colon-separated lists,
// one value or one per channel), range (1 or 255: the units of mean and
// std, see below), channels, order, layout, pixel, fov (the model's field
// of view in degrees of visual angle, 0 < F ≤ 180). Defaults: crop=0.875,
// channels=3, order=RGB, pixel=float, range=1, fov=8; size and layout have
// none.
//
// mean and std apply to pixels in [0,1] (value = (pixel/255 − mean)/std,
// torchvision's convention). range=255 says they are written in 0–255
// units, as mmcv and some timm configs write them
// (mean=123.675:116.28:103.53,std=58.395:57.12:57.375,range=255): they are
// divided by 255, so the spec is the same spec (and entry) as the [0,1]
// form. offset and scale are always in 0–255 units.
//
// A spec that parses may still be implausible: see Warnings. Every error
// wraps ErrBadSpec.
func ParseSpec(text string) (Spec, error) {
	s := Spec{CropFraction: 0.875, Channels: 3, ChannelOrder: "RGB", Pixel: PixelFloat}
	fields := strings.Split(text, ",")
	if b, ok := Builtins[strings.TrimSpace(fields[0])]; ok {
		s = b
		fields = fields[1:]
	}
	num := func(k, v string) (float64, error) {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %s=%q is not a number", ErrBadSpec, k, v)
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
	rangeMax := 1.0
	for _, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok {
			return Spec{}, fmt.Errorf("%w: %q is neither a preset (%s) nor key=value (keys: %s)%s", ErrBadSpec, f, builtinNames(), strings.Join(specKeys, ", "), didYouMean(f, presetNames()))
		}
		var err error
		var x float64
		switch k {
		case "size", "resize", "channels":
			x, err = num(k, v)
			if err == nil && x != math.Trunc(x) {
				err = fmt.Errorf("%w: %s=%s is not an integer", ErrBadSpec, k, v)
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
		case "range":
			switch strings.TrimSpace(v) {
			case "1":
				rangeMax = 1
			case "255":
				rangeMax = 255
			default:
				err = fmt.Errorf("%w: range=%q: want range=255 (mean and std written in 0–255 units) or range=1 (in [0,1], the default)", ErrBadSpec, v)
			}
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
				err = fmt.Errorf("%w: aspect=%q: want keep or stretch", ErrBadSpec, v)
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
				err = fmt.Errorf("%w: fov=%s: the field of view is in degrees of visual angle, 0 < fov ≤ 180 (default 8)", ErrBadSpec, v)
			}
			s.FieldOfView = x
		default:
			err = fmt.Errorf("%w: unknown key %q (keys: %s)%s", ErrBadSpec, k, strings.Join(specKeys, ", "), didYouMean(k, specKeys))
		}
		if err != nil {
			return Spec{}, err
		}
	}
	if rangeMax != 1 {
		if len(s.Mean) == 0 && len(s.Std) == 0 {
			return Spec{}, fmt.Errorf("%w: range=255 gives the units of mean and std, and the spec has neither (offset and scale are in 0–255 units already)", ErrBadSpec)
		}
		s.Mean, s.Std = rescale(s.Mean, rangeMax), rescale(s.Std, rangeMax)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s.Canonical(), nil
}

// rescale divides v by d, rounded to 12 significant digits so that
// 123.675/255 is 0.485, the value written in [0,1] units.
func rescale(v []float64, d float64) []float64 {
	if len(v) == 0 {
		return nil
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i], _ = strconv.ParseFloat(strconv.FormatFloat(x/d, 'g', 12, 64), 64)
	}
	return out
}

// Warnings lists what is implausible in a spec that is valid: mean or std
// above 1 with float pixels (they apply to pixels in [0,1]; 0–255 units
// need range=255), and an input size under 16 or over 1024 pixels. Each
// warning says what to write instead.
func (s Spec) Warnings() []string {
	var out []string
	if s.Pixel == PixelFloat && (maxOf(s.Mean) > 1 || maxOf(s.Std) > 1) {
		fixed := s
		fixed.Mean, fixed.Std = rescale(s.Mean, 255), rescale(s.Std, 255)
		out = append(out, fmt.Sprintf("mean/std above 1 (mean=%s, std=%s) look like 0–255 units, but they apply to pixels in [0,1] "+
			"(value = (pixel/255 − mean)/std): the inputs will be far from what the model was trained on. "+
			"If the values are in 0–255 units (mmcv, some timm configs), add range=255 or write them divided by 255: %s",
			joinFloats(s.Mean), joinFloats(s.Std), fixed.String()))
	}
	if s.InputSize > 0 && s.InputSize < 16 {
		out = append(out, fmt.Sprintf("size=%d is under 16 pixels: the benchmark images are shrunk to %d×%d; is that the model's input size?", s.InputSize, s.InputSize, s.InputSize))
	}
	if s.InputSize > 1024 {
		out = append(out, fmt.Sprintf("size=%d is over 1024 pixels: scoring will be slow and use much memory; is that the model's input size?", s.InputSize))
	}
	return out
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func mean(v []float64) float64 {
	t := 0.0
	for _, x := range v {
		t += x
	}
	return t / float64(len(v))
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', 4, 64) }

func joinFloats(v []float64) string {
	if len(v) == 0 {
		return "(none)"
	}
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(out, ":")
}

// didYouMean names the word nearest to s among words when it is close
// (edit distance ≤ 2), as "; did you mean X?", else "".
func didYouMean(s string, words []string) string {
	best, bestD := "", 3
	for _, w := range words {
		if d := editDistance(strings.ToLower(s), w); d < bestD {
			best, bestD = w, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %s?", best)
}

func presetNames() []string {
	names := make([]string, 0, len(Builtins))
	for n := range Builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func builtinNames() string {
	return strings.Join(presetNames(), ", ")
}
