package onnxmodel_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cortexbench/cortexbench/models"
	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
)

// blockingRuntime's Load waits until release is closed.
type blockingRuntime struct {
	entered chan struct{}
	release chan struct{}
}

func (r *blockingRuntime) MaxOpset(string) int64 { return 26 }
func (r *blockingRuntime) Load([]byte) ([]models.Tensor, []models.Tensor, error) {
	r.entered <- struct{}{}
	<-r.release
	return nil, nil, nil
}

func TestValidatorConcurrency(t *testing.T) {
	rt := &blockingRuntime{entered: make(chan struct{}, 4), release: make(chan struct{})}
	cfg := DefaultConfig()
	cfg.MaxConcurrent = 1
	v, err := NewValidator(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	data := onnxtest.TinyCNN().Bytes()
	done := make(chan error)
	go func() {
		_, err := v.Validate(context.Background(), data)
		done <- err
	}()
	<-rt.entered // the first validation holds the only slot
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = v.Validate(ctx, data)
	if !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, models.ErrInvalidModel) {
		t.Fatalf("second validation: %v, want ErrBusy", err)
	}
	close(rt.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The slot is free again.
	if _, err := v.Validate(context.Background(), data); err != nil {
		t.Fatal(err)
	}
	if v.Config().MaxNodes != DefaultMaxNodes {
		t.Errorf("defaults not filled: %+v", v.Config())
	}
}
