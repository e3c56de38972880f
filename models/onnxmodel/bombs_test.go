package onnxmodel_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cortexbench/cortexbench/models"
	. "github.com/cortexbench/cortexbench/models/onnxmodel"
	"github.com/cortexbench/cortexbench/models/onnxmodel/onnxtest"
)

// Every bomb of issue 14 is refused with a clear ErrOverLimit refusal,
// except two under the default limits, accepted: the 48k reverse-ordered
// Relu chain (its layers are ordered) and the 128M ConstantOfShape
// (the size of light VGG19's generated weights), refused with a lower
// MaxGeneratedElements. Time and memory are the benchmark's business.
func TestValidateBombs(t *testing.T) {
	for _, b := range onnxtest.Bombs() {
		t.Run(b.Name, func(t *testing.T) {
			c, err := Validate(b.Data, DefaultConfig(), nil)
			if b.Msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.HasPrefix(b.Name, "relu") {
					layers, err := Layers(c.Model)
					if err != nil || len(layers) != 48<<10 || layers[0].Tensor != "r0" {
						t.Fatalf("layers: %d, %v", len(layers), err)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted (%d bytes)", len(b.Data))
			}
			if !errors.Is(err, ErrOverLimit) || !errors.Is(err, models.ErrInvalidModel) {
				t.Fatalf("err %v does not wrap ErrOverLimit and ErrInvalidModel", err)
			}
			if !strings.Contains(err.Error(), b.Msg) || !strings.Contains(err.Error(), "limit") {
				t.Errorf("message %q does not mention %q and the limit", err, b.Msg)
			}
			t.Logf("%d bytes: %v", len(b.Data), err)
		})
	}
}

func TestValidateConstantOfShape128MWithLowerLimit(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxGeneratedElements = 1 << 24
	_, err := Validate(onnxtest.ConstantOfShapeBomb(1<<14, 1<<13), cfg, nil)
	if !errors.Is(err, ErrOverLimit) || !strings.Contains(err.Error(), "134217728 elements from its constant shape [16384 8192], over the limit of 16777216") {
		t.Fatalf("err = %v", err)
	}
}

// Each structural limit refuses what exceeds it, with a message naming it.
func TestValidateLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*Config)
		data []byte
		msg  string
	}{
		{"nodes", func(c *Config) { c.MaxNodes = 100 }, onnxtest.ReluChain(101), "at least 101 nodes (counting subgraphs and functions), over the limit of 100"},
		{"rank", func(c *Config) { c.MaxRank = 3 }, onnxtest.TinyCNN().Bytes(), "4 dimensions, over the limit of 3"},
		{"elements", func(c *Config) { c.MaxElements = 50 }, onnxtest.TinyCNN().Bytes(), "54 elements"},
		{"decode", func(c *Config) { c.MaxDecodeOverhead = 1 << 10 }, onnxtest.ReluChain(200), "more memory to decode"},
		{"graph values", func(c *Config) { c.MaxGraphValues = 2 }, twoOutputs(), "3 entries in its output list, over the limit of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.set(&cfg)
			_, err := Validate(tc.data, cfg, nil)
			if !errors.Is(err, ErrOverLimit) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want ErrOverLimit mentioning %q", err, tc.msg)
			}
		})
	}
	// A Config written before the limits existed (zero limits) gets the
	// defaults and still accepts a good model.
	old := Config{MaxFileBytes: 1 << 30, MaxSide: 4096, MaxBatch: 4096, MinOpset: 7}
	if err := old.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(onnxtest.TinyCNN().Bytes(), old, nil); err != nil {
		t.Fatal(err)
	}
}

func twoOutputs() []byte {
	b := onnxtest.TinyCNN()
	b.Output("relu").Output("conv")
	return b.Bytes()
}

// 64k nodes in reverse order sort correctly (the old quadratic sort took
// 12-19 s; the benchmark reports the time).
func TestTopoOrderReverseChain(t *testing.T) {
	m, err := Parse(onnxtest.ReluChain(64 << 10))
	if err != nil {
		t.Fatal(err)
	}
	order, err := TopoOrder(m.GetGraph())
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range order {
		if k != len(order)-1-i {
			t.Fatalf("position %d: node %d", i, k)
		}
	}
}

// The limits' defaults accept the shared real architectures (the ONNX
// zoo's light models make their weights with ConstantOfShape: light VGG19
// makes 139.6M elements).
func TestValidateLimitsAcceptArchitectures(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "models", "architectures", "*.onnx"))
	if len(files) == 0 {
		t.Skip("no shared architectures")
	}
	for _, f := range files {
		if _, err := ValidateFile(f, DefaultConfig(), nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
