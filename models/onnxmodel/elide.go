package onnxmodel

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// elideRawData is the size above which validating a file leaves a
// tensor's raw_data out of the decoded model: validation reads the
// values of small constants only (shapes, at most maxConstValues), the
// elementwise analysis per-channel vectors of at most maxConst floats,
// and the runtime reads the file itself.
const elideRawData = 4 * maxConst

// elide returns the encoding of the message b (of descriptor md) with
// the raw_data of every tensor over limit bytes made empty, without
// decoding it; b itself, not copied, when there is none. A malformed
// encoding is copied as it is from the first bad field (decoding reports
// it). Called after scanModel, which bounds the nesting.
func elide(b []byte, md protoreflect.MessageDescriptor, limit int) ([]byte, bool) {
	var out []byte // nil until a field changes
	isTensor := md.FullName() == tensorName
	fields := md.Fields()
	rest := b
	for len(rest) > 0 {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 {
			break
		}
		var size int
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(rest[n:])
			if m < 0 {
				break
			}
			size = m
			var repl []byte
			changed := false
			switch fd := fields.ByNumber(num); {
			case isTensor && num == rawDataField && len(v) > limit:
				changed = true
			case fd != nil && fd.Kind() == protoreflect.MessageKind:
				repl, changed = elide(v, fd.Message(), limit)
			}
			if changed {
				if out == nil {
					out = append(make([]byte, 0, len(b)-len(rest)+1024), b[:len(b)-len(rest)]...)
				}
				out = protowire.AppendTag(out, num, protowire.BytesType)
				out = protowire.AppendBytes(out, repl)
				rest = rest[n+size:]
				continue
			}
		} else if size = protowire.ConsumeFieldValue(num, typ, rest[n:]); size < 0 {
			break
		}
		if out != nil {
			out = append(out, rest[:n+size]...)
		}
		rest = rest[n+size:]
	}
	if out == nil {
		return b, false
	}
	return append(out, rest...), true
}

const (
	tensorName   protoreflect.FullName = "onnx.TensorProto"
	rawDataField protowire.Number      = 9
)
