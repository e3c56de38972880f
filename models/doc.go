// Package models is the model side of cortexbench: what a submitted network
// is (Metadata, its preprocessing Spec, its Layers), the typed refusals of a
// bad model file, the streaming Consumer interface through which layer
// activations are handed out, and the small storage interfaces (BlobStore,
// Registry) that the storage adapters satisfy.
//
// The ONNX-specific work lives in sub-packages: onnxpb (generated protobuf
// types), onnxmodel (parsing, validation, layer enumeration), ort (the only
// package that talks to ONNX Runtime: shapes, prediction, extraction),
// preprocess (images to input tensors), activations (per-layer reduction
// and caching of activations) and onnxrun (a validated ONNX file as the
// scoring runner's model, with its activation cache; opening the runtime,
// inspection and prediction for the CLI).
package models
