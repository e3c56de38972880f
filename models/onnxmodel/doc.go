// Package onnxmodel reads ONNX model files: it validates a submitted file
// before anything is stored (every problem found is reported, each as a
// typed models.Problem), enumerates a network's layers in topological
// order with stable short ids, and rewrites a model so that chosen node
// outputs become graph outputs. It knows the ONNX format, not ONNX Runtime:
// the runtime checks come in through the Runtime interface.
package onnxmodel
