package onnxmodel

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/cortexbench/cortexbench/models"
	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// Runtime is what validation needs from an inference runtime.
type Runtime interface {
	// MaxOpset is the newest opset of a domain the runtime supports.
	MaxOpset(domain string) int64
	// Load builds a session from the model bytes, proving that the runtime
	// accepts the model, and returns its inputs and outputs.
	Load(data []byte) (inputs, outputs []models.Tensor, err error)
}

// FileRuntime is a Runtime that also loads a model from its file, so that
// validating a file on disk (Validator.ValidateFile) does not write a
// copy for the runtime (ortchild.Runtime, which loads it in a child
// process). An error wrapping ErrOverLimit from either Load is a refusal
// over a resource limit (memory, time), reported as such.
type FileRuntime interface {
	Runtime
	LoadFile(path string) (inputs, outputs []models.Tensor, err error)
}

// Standard operator domains; anything else is a custom operator (code, not
// data) and refused.
var standardDomains = map[string]bool{"": true, "ai.onnx": true, "ai.onnx.ml": true}

// Config bounds what a submitted model may be.
type Config struct {
	MaxFileBytes int64 // default 1 GiB
	// MaxSide bounds each fixed spatial dimension of the image input,
	// MaxBatch a fixed batch dimension.
	MaxSide  int64
	MaxBatch int64
	// MinOpset is the oldest ai.onnx opset accepted.
	MinOpset int64

	// Structural limits, checked before anything expensive: the counts on
	// the protobuf encoding before it is decoded, the sizes on the decoded
	// model before ONNX Runtime sees it. A refusal wraps ErrOverLimit (and
	// models.ErrInvalidModel). Zero means the default (Default* constants).

	// MaxNodes bounds the nodes of all graphs, subgraphs and functions
	// together (default 50 000: ONNX Runtime takes ~70 µs a node to load a
	// model here even with optimisations off, so 50k nodes is ~3.5 s; vision
	// networks have hundreds to a few thousand nodes).
	MaxNodes int64
	// MaxGraphValues bounds each of a graph's input, output, initializer,
	// sparse initializer and value_info lists, and a node's inputs, outputs
	// and attributes (default 100 000).
	MaxGraphValues int64
	// MaxRank bounds the dimensions of any stored tensor or declared shape
	// (default 32).
	MaxRank int64
	// MaxAttributeValues bounds the ints, floats, strings, tensors or
	// graphs of one attribute (default 1M).
	MaxAttributeValues int64
	// MaxDepth bounds the nesting of protobuf messages (default 64).
	MaxDepth int
	// MaxDecodeOverhead bounds the estimated memory that decoding the
	// model takes beyond its file size (default 128 MiB): packed varints
	// and tiny messages decode into many times their size.
	MaxDecodeOverhead int64
	// MaxElements bounds the declared elements of any stored tensor
	// (initializer, attribute) or declared shape, and of the initializers
	// and the tensors made from constant shapes together (default 2^28,
	// 1 GiB of float32, the file limit).
	MaxElements int64
	// MaxGeneratedElements bounds the elements of a tensor that an operator
	// makes from a constant shape (ConstantOfShape, Expand, Tile, Range,
	// Reshape, Resize, Upsample, Pad, OneHot, RandomNormal/Uniform):
	// default 2^27 (512 MiB of float32); together with the initializers
	// they are bounded by MaxElements. It cannot be much lower: the ONNX
	// model zoo's "light" models make their weights with ConstantOfShape,
	// VGG19's first fully connected one has 102.8M elements (139.6M for
	// all). Validation itself never computes these tensors (ONNX Runtime's
	// optimisations are off).
	MaxGeneratedElements int64
	// MaxConcurrent bounds the validations a Validator runs at once
	// (default 2); the package function Validate is not bounded.
	MaxConcurrent int
}

// DefaultConfig returns the defaults, every structural limit included.
func DefaultConfig() Config {
	return Config{MaxFileBytes: 1 << 30, MaxSide: 4096, MaxBatch: 4096, MinOpset: 7}.limits()
}

// Validate checks the config.
func (c Config) Validate() error {
	if c.MaxFileBytes <= 0 || c.MaxSide <= 0 || c.MaxBatch <= 0 || c.MinOpset < 1 {
		return fmt.Errorf("onnxmodel config: limits must be positive (max file bytes %d, max side %d, max batch %d, min opset %d)",
			c.MaxFileBytes, c.MaxSide, c.MaxBatch, c.MinOpset)
	}
	if c.MaxNodes < 0 || c.MaxGraphValues < 0 || c.MaxRank < 0 || c.MaxAttributeValues < 0 || c.MaxDepth < 0 ||
		c.MaxDecodeOverhead < 0 || c.MaxElements < 0 || c.MaxGeneratedElements < 0 || c.MaxConcurrent < 0 {
		return fmt.Errorf("onnxmodel config: structural limits must not be negative (0 means the default): %+v", c)
	}
	return nil
}

// Checked is a model file that passed validation.
type Checked struct {
	Model      *onnxpb.ModelProto
	Data       []byte
	SHA256     string
	Input      models.Tensor
	Layout     models.Layout
	Channels   int
	Outputs    []models.Tensor
	Parameters int64
	Opset      int64
}

// ValidateFile reads and validates the file at path, refusing a file
// larger than cfg.MaxFileBytes before reading it.
func ValidateFile(path string, cfg Config, rt Runtime) (*Checked, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat model: %w", err)
	}
	if st.Size() > cfg.MaxFileBytes {
		return nil, tooLarge(path, st.Size(), cfg.MaxFileBytes)
	}
	data, err := io.ReadAll(io.LimitReader(f, cfg.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	c, err := Validate(data, cfg, rt)
	var ve *models.ValidationError
	if errors.As(err, &ve) {
		ve.File = path
	}
	return c, err
}

func tooLarge(file string, size, limit int64) error {
	return &models.ValidationError{File: file, Problems: []*models.Problem{{Kind: models.ErrTooLarge,
		Msg: fmt.Sprintf("the file is %d bytes, over the limit of %d: submit a smaller model (or ask an operator to raise the limit)", size, limit)}}}
}

// Validate checks a model file's bytes: size, ONNX structure, opsets,
// operator domains, external data, the image input and, when rt is not
// nil, that the runtime loads it. Every problem found is reported in one
// *models.ValidationError.
func Validate(data []byte, cfg Config, rt Runtime) (*Checked, error) {
	return validate(data, "", "", cfg, rt)
}

// validate is Validate of data mapped from the file at path ("" when the
// bytes come from elsewhere), whose hex sha256 is sum: the file's large
// raw_data are left out of the decoded model (see elide), the data are
// not hashed, and a FileRuntime loads the file itself.
func validate(data []byte, path, sum string, cfg Config, rt Runtime) (*Checked, error) {
	if int64(len(data)) > cfg.MaxFileBytes {
		return nil, tooLarge("", int64(len(data)), cfg.MaxFileBytes)
	}
	var probs []*models.Problem
	add := func(kind error, format string, args ...any) {
		probs = append(probs, &models.Problem{Kind: kind, Msg: fmt.Sprintf(format, args...)})
	}
	refuse := func() error { return &models.ValidationError{Problems: probs} }
	const export = "export the network with an ONNX exporter (torch.onnx.export, tf2onnx) and submit the .onnx file"
	if len(data) == 0 {
		add(models.ErrNotONNX, "the file is empty: %s", export)
		return nil, refuse()
	}
	cfg = cfg.limits()
	// Count before decoding: decoding is what a crafted file makes cost
	// gigabytes.
	if err := scanModel(data, cfg); err != nil {
		add(ErrOverLimit, "%v", err)
		return nil, refuse()
	}
	decode := data
	if path != "" {
		decode, _ = elide(data, modelDesc, elideRawData)
	}
	m, err := Parse(decode)
	if err != nil {
		add(models.ErrNotONNX, "the file is not an ONNX model (it does not decode as ONNX protobuf; truncated or another format?): %s", export)
		return nil, refuse()
	}
	g := m.GetGraph()
	switch {
	case m.GetIrVersion() <= 0:
		add(models.ErrNotONNX, "the file has no ONNX IR version, so it is not an ONNX model (truncated or another format?): %s", export)
	case g == nil || len(g.GetNode()) == 0:
		add(models.ErrNotONNX, "the file has no graph nodes, so it is not a usable ONNX model (truncated?): %s", export)
	case len(m.GetOpsetImport()) == 0:
		add(models.ErrNotONNX, "the model imports no opset: re-export it with an opset between %d and %d", cfg.MinOpset, maxOpset(rt, ""))
	}
	if len(probs) > 0 {
		return nil, refuse()
	}
	// Sizes, before ONNX Runtime allocates for any of them.
	checkSizes(m, cfg, func(format string, args ...any) { add(ErrOverLimit, format, args...) })
	if len(probs) > 0 {
		return nil, refuse()
	}
	c := &Checked{Model: m, Data: data, Opset: Opset(m), Parameters: Parameters(g)}
	if c.SHA256 = sum; path == "" {
		sum := sha256.Sum256(data)
		c.SHA256 = hex.EncodeToString(sum[:])
	}

	// Opsets and domains.
	for _, o := range m.GetOpsetImport() {
		d := o.GetDomain()
		if !standardDomains[d] {
			continue // reported with the operators below
		}
		if hi := maxOpset(rt, d); o.GetVersion() > hi {
			add(models.ErrOpset, "opset %d of domain %q is newer than ONNX Runtime supports (up to %d): re-export with opset ≤ %d", o.GetVersion(), domainName(d), hi, hi)
		}
		if (d == "" || d == "ai.onnx") && o.GetVersion() < cfg.MinOpset {
			add(models.ErrOpset, "opset %d is older than the oldest supported (%d): re-export with a newer opset", o.GetVersion(), cfg.MinOpset)
		}
	}
	if c.Opset == 0 {
		add(models.ErrOpset, "the model does not import the default ONNX domain: re-export it with a standard opset")
	}
	custom := map[string]bool{}
	walkNodes(m, func(n *onnxpb.NodeProto) {
		if d := n.GetDomain(); !standardDomains[d] {
			custom[d+"::"+n.GetOpType()] = true
		}
	})
	for _, o := range m.GetOpsetImport() {
		if d := o.GetDomain(); !standardDomains[d] && len(custom) == 0 {
			custom[d+"::*"] = true
		}
	}
	if len(custom) > 0 {
		add(models.ErrCustomOperator, "the model uses operators outside the standard domains (ai.onnx, ai.onnx.ml): %s; a model is data, never code: re-export with standard operators only", sortedKeys(custom, 5))
	}

	// External data: a tensor stored in another file names a path; refuse.
	ext := map[string]bool{}
	walkTensors(m, func(t *onnxpb.TensorProto) {
		if t.GetDataLocation() != onnxpb.TensorProto_EXTERNAL && len(t.GetExternalData()) == 0 {
			return
		}
		loc := "(no location)"
		for _, kv := range t.GetExternalData() {
			if kv.GetKey() == "location" {
				loc = fmt.Sprintf("%q", kv.GetValue())
			}
		}
		ext[fmt.Sprintf("tensor %q → %s", t.GetName(), loc)] = true
	})
	if len(ext) > 0 {
		add(models.ErrExternalData, "the model refers to external data files (%s); external data are paths and are refused: save the model with all tensors inside the .onnx file (onnx.save(model, path, save_as_external_data=False)), under the size limit", sortedKeys(ext, 5))
	}

	// The image input.
	ins := ImageInputs(g)
	switch len(ins) {
	case 0:
		add(models.ErrInput, "the model has no input (every graph input is an initializer): it must take one image tensor of rank 4")
	case 1:
		checkInput(c, ins[0], cfg, add)
	default:
		names := make([]string, len(ins))
		for i, in := range ins {
			names[i] = fmt.Sprintf("%q", in.GetName())
		}
		add(models.ErrInput, "the model has %d inputs (%s): it must take exactly one image tensor of rank 4; fold the others into the graph as initializers", len(ins), strings.Join(names, ", "))
	}
	if len(g.GetOutput()) == 0 {
		add(models.ErrNotONNX, "the model declares no graph output: re-export it with its output(s)")
	}
	for _, o := range g.GetOutput() {
		t, _ := TensorOf(o)
		c.Outputs = append(c.Outputs, t)
	}
	if len(probs) > 0 {
		return nil, refuse()
	}
	if rt != nil {
		var ins, outs []models.Tensor
		var err error
		if frt, ok := rt.(FileRuntime); ok && path != "" {
			ins, outs, err = frt.LoadFile(path)
		} else {
			ins, outs, err = rt.Load(data)
		}
		if errors.Is(err, ErrOverLimit) {
			add(ErrOverLimit, "%s", firstLine(err.Error(), 500))
			return nil, refuse()
		}
		if err != nil {
			add(models.ErrRuntime, "ONNX Runtime cannot load the model (%s): check it with onnx.checker and onnxruntime.InferenceSession before submitting", firstLine(err.Error(), 300))
			return nil, refuse()
		}
		if len(ins) == 1 {
			c.Input.Shape = mergeShape(c.Input.Shape, ins[0].Shape)
		}
		c.Outputs = outs
	}
	return c, nil
}

func checkInput(c *Checked, v *onnxpb.ValueInfoProto, cfg Config, add func(error, string, ...any)) {
	t, ok := TensorOf(v)
	c.Input = t
	if !ok {
		add(models.ErrInput, "input %q is not a tensor: it must be an image tensor of rank 4", t.Name)
		return
	}
	if t.Type != "float" && t.Type != "uint8" {
		add(models.ErrInput, "input %q has element type %s: it must be float or uint8", t.Name, t.Type)
	}
	if t.Shape == nil {
		add(models.ErrInput, "input %q declares no shape: declare rank 4, [N,C,H,W] or [N,H,W,C] with C = 1 or 3", t.Name)
		return
	}
	if len(t.Shape) != 4 {
		add(models.ErrInput, "input %q has rank %d (shape %s): it must be an image tensor of rank 4, [N,C,H,W] or [N,H,W,C] with C = 1 or 3", t.Name, len(t.Shape), t)
		return
	}
	// Declared sizes must be sane: a fixed dimension of 0, a negative one
	// or a huge one is refused before any runtime allocates for it.
	dimv := v.GetType().GetTensorType().GetShape().GetDim()
	for i, d := range dimv {
		dv, fixed := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue)
		if !fixed {
			continue
		}
		limit := cfg.MaxSide
		if i == 0 {
			limit = cfg.MaxBatch
		}
		if dv.DimValue <= 0 || dv.DimValue > limit {
			add(models.ErrInput, "input %q declares dimension %d = %d: it must be between 1 and %d (or dynamic); declare the real image size", t.Name, i, dv.DimValue, limit)
			return
		}
	}
	is13 := func(d int64) bool { return d == 1 || d == 3 }
	s := t.Shape
	switch {
	case is13(s[1]) && !is13(s[3]):
		c.Layout, c.Channels = models.NCHW, int(s[1])
	case is13(s[3]) && !is13(s[1]):
		c.Layout, c.Channels = models.NHWC, int(s[3])
	case is13(s[1]) && is13(s[3]):
		// Tiny or ambiguous: the square spatial pair decides.
		if s[1] == s[2] && s[2] != s[3] {
			c.Layout, c.Channels = models.NHWC, int(s[3])
		} else {
			c.Layout, c.Channels = models.NCHW, int(s[1])
		}
	default:
		add(models.ErrInput, "input %q (shape %s) has no fixed channel axis of size 1 or 3 at position 1 (NCHW) or 3 (NHWC): declare the channel count", t.Name, t)
	}
}

func mergeShape(declared, runtime []int64) []int64 {
	if len(declared) != len(runtime) {
		return declared
	}
	out := append([]int64(nil), declared...)
	for i := range out {
		if out[i] < 0 && runtime[i] > 0 {
			out[i] = runtime[i]
		}
	}
	return out
}

// CheckSpec checks a declared preprocessing spec against the validated
// model input.
func CheckSpec(c *Checked, s models.Spec) error {
	var probs []*models.Problem
	add := func(format string, args ...any) {
		probs = append(probs, &models.Problem{Kind: models.ErrSpec, Msg: fmt.Sprintf(format, args...)})
	}
	if err := s.Validate(); err != nil {
		add("%v", err)
	}
	if s.Layout != c.Layout {
		add("the spec says layout %s but input %q is %s (shape %s): declare layout=%s", s.Layout, c.Input.Name, c.Layout, c.Input, c.Layout)
	}
	if s.Channels != c.Channels {
		add("the spec says %d channels but input %q has %d: declare channels=%d", s.Channels, c.Input.Name, c.Channels, c.Channels)
	}
	want := models.PixelFloat
	if c.Input.Type == "uint8" {
		want = models.PixelUint8
	}
	if s.Pixel != want {
		add("the spec says pixel type %s but input %q takes %s: declare pixel=%s", s.Pixel, c.Input.Name, c.Input.Type, want)
	}
	if len(c.Input.Shape) == 4 {
		h, w := c.Input.Shape[2], c.Input.Shape[3]
		if c.Layout == models.NHWC {
			h, w = c.Input.Shape[1], c.Input.Shape[2]
		}
		for _, d := range []int64{h, w} {
			if d > 0 && d != int64(s.InputSize) {
				add("the spec says input size %d but input %q is %d×%d (shape %s): declare size=%d", s.InputSize, c.Input.Name, h, w, c.Input, d)
				break
			}
		}
	}
	if len(probs) > 0 {
		if fit := FitSpec(c, s); fit.Validate() == nil && s.Validate() == nil {
			add("this spec adjusted to the model's input: %s", fit)
		}
		return &models.ValidationError{Problems: probs}
	}
	return nil
}

// SpecFor returns the input geometry the model fixes: size, layout,
// channels and pixel type, with no normalisation (raw 0–255 floats for a
// float input). It is not a spec to suggest or use as it is (issue 17):
// DefaultSpec is the default, FitSpec adjusts a given spec.
func SpecFor(c *Checked) models.Spec {
	s := models.Spec{CropFraction: 0.875, Channels: c.Channels, ChannelOrder: "RGB", Layout: c.Layout, Pixel: models.PixelFloat}
	if c.Input.Type == "uint8" {
		s.Pixel = models.PixelUint8
	}
	if len(c.Input.Shape) == 4 {
		h := c.Input.Shape[2]
		if c.Layout == models.NHWC {
			h = c.Input.Shape[1]
		}
		if h > 0 {
			s.InputSize = int(h)
		}
	}
	return s
}

func maxOpset(rt Runtime, domain string) int64 {
	if rt != nil {
		return rt.MaxOpset(domain)
	}
	if domain == "ai.onnx.ml" {
		return 5
	}
	return 26 // ONNX Runtime 1.30
}

func domainName(d string) string {
	if d == "" {
		return "ai.onnx"
	}
	return d
}

func sortedKeys(m map[string]bool, limit int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	more := ""
	if len(keys) > limit {
		more = fmt.Sprintf(" and %d more", len(keys)-limit)
		keys = keys[:limit]
	}
	return strings.Join(keys, ", ") + more
}

func firstLine(s string, n int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// walkNodes visits every node: the main graph, subgraphs in attributes,
// and model-local functions.
func walkNodes(m *onnxpb.ModelProto, f func(*onnxpb.NodeProto)) {
	var graph func(g *onnxpb.GraphProto, depth int)
	graph = func(g *onnxpb.GraphProto, depth int) {
		if g == nil || depth > 64 {
			return
		}
		for _, n := range g.GetNode() {
			f(n)
			for _, a := range n.GetAttribute() {
				graph(a.GetG(), depth+1)
				for _, sg := range a.GetGraphs() {
					graph(sg, depth+1)
				}
			}
		}
	}
	graph(m.GetGraph(), 0)
	for _, fn := range m.GetFunctions() {
		for _, n := range fn.GetNode() {
			f(n)
		}
	}
}

// walkTensors visits every tensor stored in the model: initializers,
// sparse initializers, and tensors in node attributes, recursively.
func walkTensors(m *onnxpb.ModelProto, f func(*onnxpb.TensorProto)) {
	sparse := func(s *onnxpb.SparseTensorProto) {
		if s == nil {
			return
		}
		if s.GetValues() != nil {
			f(s.GetValues())
		}
		if s.GetIndices() != nil {
			f(s.GetIndices())
		}
	}
	attrs := func(as []*onnxpb.AttributeProto, graph func(*onnxpb.GraphProto, int), depth int) {
		for _, a := range as {
			if a.GetT() != nil {
				f(a.GetT())
			}
			for _, t := range a.GetTensors() {
				f(t)
			}
			sparse(a.GetSparseTensor())
			for _, s := range a.GetSparseTensors() {
				sparse(s)
			}
			graph(a.GetG(), depth+1)
			for _, sg := range a.GetGraphs() {
				graph(sg, depth+1)
			}
		}
	}
	var graph func(g *onnxpb.GraphProto, depth int)
	graph = func(g *onnxpb.GraphProto, depth int) {
		if g == nil || depth > 64 {
			return
		}
		for _, t := range g.GetInitializer() {
			f(t)
		}
		for _, s := range g.GetSparseInitializer() {
			sparse(s)
		}
		for _, n := range g.GetNode() {
			attrs(n.GetAttribute(), graph, depth)
		}
	}
	graph(m.GetGraph(), 0)
	for _, fn := range m.GetFunctions() {
		for _, n := range fn.GetNode() {
			attrs(n.GetAttribute(), graph, 0)
		}
	}
	for _, ti := range m.GetTrainingInfo() {
		graph(ti.GetInitialization(), 0)
		graph(ti.GetAlgorithm(), 0)
	}
}
