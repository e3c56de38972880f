package onnxmodel

import (
	"context"
	"errors"
	"fmt"
)

// ErrBusy means a Validator's validations are all in use and the context
// ended before one was free. It is not a refusal of the model (it does not
// wrap models.ErrInvalidModel): ask the client to retry later.
var ErrBusy = errors.New("model validation busy")

// Validator validates models with at most cfg.MaxConcurrent validations
// at once (default 2), so that uploads arriving together cannot add up
// their decoding and ONNX Runtime sessions. It is safe for concurrent use.
type Validator struct {
	cfg Config
	rt  Runtime
	sem chan struct{}
}

// NewValidator checks cfg (zero structural limits take their defaults)
// and returns a Validator using rt (nil: no runtime check).
func NewValidator(cfg Config, rt Runtime) (*Validator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.limits()
	return &Validator{cfg: cfg, rt: rt, sem: make(chan struct{}, cfg.MaxConcurrent)}, nil
}

// Config is the validator's configuration, defaults filled in.
func (v *Validator) Config() Config { return v.cfg }

func (v *Validator) acquire(ctx context.Context) error {
	select {
	case v.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case v.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %d validations already running (%w); retry later", ErrBusy, cap(v.sem), ctx.Err())
	}
}

// Validate is the package function Validate, waiting for a free
// validation slot until ctx ends (then ErrBusy).
func (v *Validator) Validate(ctx context.Context, data []byte) (*Checked, error) {
	if err := v.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-v.sem }()
	return Validate(data, v.cfg, v.rt)
}
