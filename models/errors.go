package models

import (
	"errors"
	"strings"
)

// ErrInvalidModel is wrapped by every refusal of a submitted model file.
// The more specific sentinels below are wrapped as well, so callers can
// test for either.
var ErrInvalidModel = errors.New("invalid model")

// Specific reasons a model file is refused.
var (
	ErrTooLarge       = errors.New("model file too large")
	ErrNotONNX        = errors.New("not an ONNX model")
	ErrOpset          = errors.New("unsupported opset")
	ErrCustomOperator = errors.New("custom operator domain")
	ErrExternalData   = errors.New("external data reference")
	ErrInput          = errors.New("unsupported model input")
	ErrRuntime        = errors.New("model does not load in ONNX Runtime")
	ErrSpec           = errors.New("preprocessing spec does not match the model")
)

// Problem is one reason a model is refused. Its message says what is wrong
// and what to do about it.
type Problem struct {
	Kind error // one of the sentinels above
	Msg  string
}

func (p *Problem) Error() string { return p.Msg }

// Unwrap lets errors.Is find both the specific sentinel and ErrInvalidModel.
func (p *Problem) Unwrap() []error { return []error{p.Kind, ErrInvalidModel} }

// ValidationError collects every problem found in one model file.
type ValidationError struct {
	File     string
	Problems []*Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	b.WriteString("model refused")
	if len(e.Problems) == 1 {
		b.WriteString(": ")
		b.WriteString(e.Problems[0].Msg)
		return b.String()
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Unwrap returns every problem, so errors.Is(err, ErrExternalData) holds
// when any of them is an external-data problem.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, 0, len(e.Problems)+1)
	for _, p := range e.Problems {
		out = append(out, p)
	}
	return append(out, ErrInvalidModel)
}
