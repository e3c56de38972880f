package onnxmodel

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/cortexbench/cortexbench/models/onnxpb"
)

// ErrOverLimit is the kind of a refusal for a model over one of the
// structural limits of Config (node count, rank, element counts, ...).
// Like every refusal it also wraps models.ErrInvalidModel.
var ErrOverLimit = errors.New("model over a validation limit")

// Defaults of the structural limits. A zero field of Config means its
// default, so a Config written before these fields existed keeps working.
const (
	DefaultMaxNodes             = 50_000
	DefaultMaxGraphValues       = 100_000
	DefaultMaxRank              = 32
	DefaultMaxAttributeValues   = 1 << 20
	DefaultMaxDepth             = 64
	DefaultMaxDecodeOverhead    = 128 << 20
	DefaultMaxElements          = 1 << 28
	DefaultMaxGeneratedElements = 1 << 27
	DefaultMaxConcurrent        = 2
)

func orDefault[T int | int64](v, d T) T {
	if v == 0 {
		return d
	}
	return v
}

// limits returns cfg with every zero structural limit set to its default.
func (c Config) limits() Config {
	c.MaxNodes = orDefault(c.MaxNodes, DefaultMaxNodes)
	c.MaxGraphValues = orDefault(c.MaxGraphValues, DefaultMaxGraphValues)
	c.MaxRank = orDefault(c.MaxRank, DefaultMaxRank)
	c.MaxAttributeValues = orDefault(c.MaxAttributeValues, DefaultMaxAttributeValues)
	c.MaxDepth = orDefault(c.MaxDepth, DefaultMaxDepth)
	c.MaxDecodeOverhead = orDefault(c.MaxDecodeOverhead, DefaultMaxDecodeOverhead)
	c.MaxElements = orDefault(c.MaxElements, DefaultMaxElements)
	c.MaxGeneratedElements = orDefault(c.MaxGeneratedElements, DefaultMaxGeneratedElements)
	c.MaxConcurrent = orDefault(c.MaxConcurrent, DefaultMaxConcurrent)
	return c
}

// limitError is what the wire scan finds: the first limit exceeded.
type limitError struct{ msg string }

func (e *limitError) Error() string { return e.msg }

const raise = "(or ask an operator to raise the limit)"

// wireScan walks the protobuf encoding of a ModelProto without decoding
// it, guided by the generated descriptors, and counts what decoding would
// allocate: nodes, graph values, dimensions, attribute values, nesting,
// and an estimate of the decoded size. It allocates nothing per field, so
// a file that would decode into gigabytes (16M packed dims, millions of
// empty messages) is refused for the cost of reading it once. Malformed
// encodings stop the scan quietly: decoding reports them.
type wireScan struct {
	cfg   Config
	nodes int64
	est   int64 // estimated bytes of the decoded message tree
}

var modelDesc = (&onnxpb.ModelProto{}).ProtoReflect().Descriptor()

// Go's decoded cost of one message (struct, pointer, slice slot), roughly.
const msgCost = 96

func scanModel(data []byte, cfg Config) error {
	s := &wireScan{cfg: cfg}
	if err := s.message(data, modelDesc, 0); err != nil {
		return err
	}
	if over := s.est - int64(len(data)); over > cfg.MaxDecodeOverhead {
		return &limitError{fmt.Sprintf("the model would take about %d MiB more memory to decode than its %d MiB file (packed lists of small integers, millions of tiny messages), over the limit of %d MiB: save the model with its tensors as raw_data (onnx.save does) and without huge lists %s",
			over>>20, len(data)>>20, cfg.MaxDecodeOverhead>>20, raise)}
	}
	return nil
}

func (s *wireScan) message(b []byte, md protoreflect.MessageDescriptor, depth int) error {
	if depth > s.cfg.MaxDepth {
		return &limitError{fmt.Sprintf("the model nests messages (graphs in attributes, types in types) more than %d deep: flatten control flow %s", s.cfg.MaxDepth, raise)}
	}
	s.est += msgCost
	var counts [48]int64 // per field number; ONNX fields are all below 48
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil
			}
			b = b[n:]
			var c int64 = 1
			switch {
			case fd != nil && (fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind):
				s.est += 8
				if err := s.message(v, fd.Message(), depth+1); err != nil {
					return err
				}
			case fd != nil && fd.IsList() && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind:
				c, s.est = packed(v, fd.Kind(), s.est)
			default: // string, bytes, unknown
				s.est += 16 + int64(len(v))
			}
			if num < protowire.Number(len(counts)) {
				counts[num] += c
			}
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil
			}
			b = b[n:]
			s.est += 8
			if num < protowire.Number(len(counts)) {
				counts[num]++
			}
		}
	}
	return s.check(md, &counts)
}

// packed counts the elements of a packed repeated scalar field and adds
// their decoded size to est.
func packed(v []byte, k protoreflect.Kind, est int64) (int64, int64) {
	switch k {
	case protoreflect.FloatKind, protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return int64(len(v) / 4), est + int64(len(v))
	case protoreflect.DoubleKind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return int64(len(v) / 8), est + int64(len(v))
	}
	var c int64 // varints: one per byte without the continuation bit
	for _, x := range v {
		if x < 0x80 {
			c++
		}
	}
	size := int64(8)
	switch k {
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.Sint32Kind, protoreflect.EnumKind, protoreflect.BoolKind:
		size = 4
	}
	return c, est + c*size
}

// check applies the per-field limits to one message's field counts.
func (s *wireScan) check(md protoreflect.MessageDescriptor, counts *[48]int64) error {
	field := func(name protoreflect.Name) int64 {
		if fd := md.Fields().ByName(name); fd != nil && int(fd.Number()) < len(counts) {
			return counts[fd.Number()]
		}
		return 0
	}
	over := func(name protoreflect.Name, limit int64, format string) error {
		if n := field(name); n > limit {
			return &limitError{fmt.Sprintf(format, n, limit)}
		}
		return nil
	}
	var err error
	switch md.Name() {
	case "GraphProto", "FunctionProto":
		s.nodes += field("node")
		if s.nodes > s.cfg.MaxNodes {
			return &limitError{fmt.Sprintf("the model has at least %d nodes (counting subgraphs and functions), over the limit of %d: submit a smaller network %s", s.nodes, s.cfg.MaxNodes, raise)}
		}
		if md.Name() == "GraphProto" {
			for _, f := range []protoreflect.Name{"input", "output", "initializer", "sparse_initializer", "value_info"} {
				if err = over(f, s.cfg.MaxGraphValues, "a graph has %d entries in its "+string(f)+" list, over the limit of %d: submit a smaller network "+raise); err != nil {
					return err
				}
			}
		}
	case "NodeProto":
		for _, f := range []protoreflect.Name{"input", "output", "attribute"} {
			if err = over(f, s.cfg.MaxGraphValues, "a node has %d "+string(f)+"s, over the limit of %d: submit a smaller network "+raise); err != nil {
				return err
			}
		}
	case "TensorProto", "SparseTensorProto":
		err = over("dims", s.cfg.MaxRank, "a tensor has %d dimensions, over the limit of %d: tensors of a network have a handful of dimensions; re-export the model "+raise)
	case "TensorShapeProto":
		err = over("dim", s.cfg.MaxRank, "a declared shape has %d dimensions, over the limit of %d: tensors of a network have a handful of dimensions; re-export the model "+raise)
	case "AttributeProto":
		for _, f := range []protoreflect.Name{"ints", "floats", "strings", "tensors", "graphs", "sparse_tensors", "type_protos"} {
			if err = over(f, s.cfg.MaxAttributeValues, "a node attribute has %d "+string(f)+", over the limit of %d: store large constants as initializers "+raise); err != nil {
				return err
			}
		}
	}
	return err
}

// mulCap multiplies non-negative factors, saturating above limit so that
// no product overflows: the result is exact when ≤ limit, and limit+1
// (limit itself when limit is math.MaxInt64) when over.
func mulCap(a, b, limit int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > limit/b {
		if limit == math.MaxInt64 {
			return limit
		}
		return limit + 1
	}
	return a * b
}

// elements is the number of elements of a shape, saturating above limit;
// negative dims count as 1 (unknown or "infer").
func elements(dims []int64, limit int64) int64 {
	p := int64(1)
	for _, d := range dims {
		if d < 0 {
			d = 1
		}
		p = mulCap(p, d, limit)
	}
	return p
}
