// Package onnxmodel reads ONNX model files: it validates a submitted file
// before anything is stored (every problem found is reported, each as a
// typed models.Problem), enumerates a network's layers in topological
// order with stable short ids, and rewrites a model so that chosen node
// outputs become graph outputs. It knows the ONNX format, not ONNX Runtime:
// the runtime checks come in through the Runtime interface.
//
// Validation is bounded before it does anything expensive (Config's
// structural limits, refusals wrapping ErrOverLimit): counts are taken on
// the protobuf encoding before it is decoded (nodes, list lengths, dims,
// nesting, estimated decoded size), sizes on the decoded model before the
// runtime sees it (stored tensors, declared shapes, tensors that operators
// make from constant shapes). A Validator bounds how many validations run
// at once (ErrBusy when a caller's context ends while waiting).
package onnxmodel
