// Package onnxpb holds the Go types of the ONNX protobuf schema, generated
// from the onnx.proto of Debian's libonnx-dev (ONNX 1.12) by generate.sh.
// Fields newer than that schema are kept as unknown fields, so a model
// survives an unmarshal/marshal round trip unchanged.
package onnxpb

//go:generate ./generate.sh
