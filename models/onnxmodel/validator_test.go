package onnxmodel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/cortexbench/cortexbench/models"
	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
	"github.com/cortexbench/cortexbench/models/onnxpb"
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

// fileRuntime records whether it was handed the file or the bytes.
type fileRuntime struct{ path string }

func (r *fileRuntime) MaxOpset(string) int64 { return 26 }
func (r *fileRuntime) Load([]byte) ([]models.Tensor, []models.Tensor, error) {
	return nil, nil, errors.New("Load called: the file should have been loaded by path")
}
func (r *fileRuntime) LoadFile(path string) ([]models.Tensor, []models.Tensor, error) {
	r.path = path
	return nil, nil, nil
}

// Validator.ValidateFile validates a file from disk as Validate does its
// bytes, except that the decoded model lacks the raw_data of tensors over
// 256 KiB (small constants, such as shapes, are kept and checked), Data is
// nil, and a FileRuntime gets the path.
func TestValidatorValidateFile(t *testing.T) {
	b := onnxtest.TinyCNN()
	b.Initializer("big", []int64{1 << 17}, nil)
	raw := make([]byte, 4<<17)
	for i := range raw {
		raw[i] = byte(i)
	}
	b.M.Graph.Initializer[len(b.M.Graph.Initializer)-1].RawData = raw
	b.Node("Identity", []string{"big"}, []string{"bigout"})
	b.Output("bigout")
	data := b.Bytes()
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rt := &fileRuntime{}
	v, err := NewValidator(DefaultConfig(), rt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.ValidateFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Validate(data, DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rt.path != path {
		t.Errorf("runtime given %q, want the file", rt.path)
	}
	if got.SHA256 != want.SHA256 || got.Parameters != want.Parameters || got.Opset != want.Opset || got.Layout != want.Layout ||
		got.Input.Name != want.Input.Name || got.Data != nil {
		t.Errorf("ValidateFile %+v\nValidate %+v", got, want)
	}
	for _, init := range got.Model.GetGraph().GetInitializer() {
		switch n := len(init.GetRawData()); {
		case init.GetName() == "big" && n != 0:
			t.Errorf("big raw_data kept (%d bytes)", n)
		case init.GetName() != "big" && !proto.Equal(init, findInit(want, init.GetName())):
			t.Errorf("initializer %q changed", init.GetName())
		}
	}
	// A small constant shape is still read and checked.
	cfg := DefaultConfig()
	cfg.MaxGeneratedElements = 1 << 24
	v, _ = NewValidator(cfg, nil)
	bomb := filepath.Join(t.TempDir(), "bomb.onnx")
	os.WriteFile(bomb, onnxtest.ConstantOfShapeBomb(1<<14, 1<<13), 0o600)
	if _, err := v.ValidateFile(t.Context(), bomb); !errors.Is(err, ErrOverLimit) {
		t.Errorf("ConstantOfShape over the limit from a file: %v", err)
	}
}

func findInit(c *Checked, name string) *onnxpb.TensorProto {
	for _, t := range c.Model.GetGraph().GetInitializer() {
		if t.GetName() == name {
			return t
		}
	}
	return nil
}
