package wire_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cortexbench/cortexbench/benchmarks"
	"github.com/cortexbench/cortexbench/leaderboard"
	"github.com/cortexbench/cortexbench/leaderboard/wire"
	"github.com/cortexbench/cortexbench/scoring"
)

// builtinBoard ranks fixture scores of the default models' kind of names
// (and a long one) on the built-in benchmark set, as read from the
// catalogue: a few models complete, three on 2 benchmarks, two tied.
func builtinBoard(t *testing.T) *leaderboard.Leaderboard {
	t.Helper()
	ms, err := benchmarks.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	var bs []leaderboard.BenchmarkInfo
	for _, m := range ms {
		b := leaderboard.BenchmarkInfo{ID: m.ID, Version: "v1", Parent: m.Parent, Region: m.Metadata.Region, Ceiling: 0.6,
			CeilingKind: "upper", Transform: "ratio"}
		if m.Parent == "" {
			b.Ceiling, b.CeilingKind = math.NaN(), "" // a selection-only partner
		}
		bs = append(bs, b)
	}
	if len(bs) < 9 {
		t.Fatalf("%d built-in benchmarks, want at least 9", len(bs))
	}
	names := []string{"light_resnet50", "light_bvlc_alexnet", "light_densenet121", "light_squeezenet", "light_vgg19",
		"mobilenet_v2_1.0_224", "convnext_tiny_in22k_ft_in1k-imagenet_nchw-0.5-crop1-v2", "resnet18", "alexnet", "squeezenet1_1", "tinycnn"}
	var ss []scoring.Score
	for i, name := range names {
		for j, b := range bs {
			if i >= 7 && i < 10 && j%4 != 0 {
				continue // scored on 2 or 3 of the benchmarks
			}
			v := 0.1 + 0.05*float64((i*7+j*3)%11)
			if name == "light_vgg19" {
				v = 0.1 + 0.05*float64((3*7+j*3)%11) // ties light_vgg19 with light_squeezenet
			}
			raw := v * 0.6
			ss = append(ss, scoring.Score{ModelHash: fmt.Sprintf("%064x", i), ModelName: name, BenchmarkID: b.ID, BenchmarkVersion: "v1",
				Raw: raw, SE: 0.01, CILow: raw - 0.02, CIHigh: raw + 0.02, Ceiling: b.Ceiling, Ceiled: raw / b.Ceiling,
				Conventions: scoring.Conventions{Ceiling: b.CeilingKind, Transform: "ratio"}})
		}
	}
	return leaderboard.NewIndex(nil, bs, ss).Rank(leaderboard.Filter{})
}

// Issue 17: the terminal leaderboard was ~280 columns wide. By default
// every line fits 100 runes on the built-in benchmark set, with rank,
// model, average and interval, coverage, every region mean, "≈" between
// rows that do not differ reliably and a heading over the partial rows;
// --wide adds the benchmarks.
func TestTextFits100Columns(t *testing.T) {
	lb := builtinBoard(t)
	var buf strings.Builder
	wire.WriteText(&buf, lb)
	out := buf.String()
	t.Logf("default:\n%s", out)
	for i, l := range strings.Split(out, "\n") {
		if n := utf8.RuneCountInString(l); n > wire.DefaultTextWidth {
			t.Errorf("line %d has %d runes, want at most %d: %q", i+1, n, wire.DefaultTextWidth, l)
		}
	}
	head := strings.SplitN(out, "\n", 2)[0]
	for _, want := range append([]string{"RANK", "MODEL", "AVERAGE [95% CI]", "SCORED"}, lb.Parents...) {
		if !strings.Contains(head, want) {
			t.Errorf("header %q lacks %q", head, want)
		}
	}
	for _, want := range []string{"partial coverage:", " 3/8", " 8/8", "2     light_squeezenet", "2   ≈ light_vgg19", "convnext_tiny_in22k_ft_in1k-i…",
		"[0.", "≈ the average does not differ reliably"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if strings.Contains(out, "not shown") || strings.Contains(out, lb.Benchmarks[0].ID+" ") && strings.Contains(head, lb.Benchmarks[0].ID) {
		t.Errorf("default output drops a region mean or shows benchmark columns:\n%s", head)
	}

	buf.Reset()
	wire.WriteTextOptions(&buf, lb, wire.TextOptions{Wide: true})
	wide := buf.String()
	head = strings.SplitN(wide, "\n", 2)[0]
	for _, b := range lb.Benchmarks {
		if !strings.Contains(head, b.ID) {
			t.Errorf("--wide header lacks %s: %q", b.ID, head)
		}
	}
	if !strings.Contains(wide, "convnext_tiny_in22k_ft_in1k-imagenet_nchw-0.5-crop1-v2") || !strings.Contains(wide, "±0.017") {
		t.Errorf("--wide shortens names or lacks cells:\n%s", wide)
	}

	// Narrower than the region means allow: they are left out from the
	// right, and it is said.
	buf.Reset()
	wire.WriteTextOptions(&buf, lb, wire.TextOptions{Width: wire.MinTextWidth})
	narrow := buf.String()
	t.Logf("width %d:\n%s", wire.MinTextWidth, narrow)
	for i, l := range strings.Split(narrow, "\n") {
		if n := utf8.RuneCountInString(l); n > wire.MinTextWidth {
			t.Errorf("width %d: line %d has %d runes: %q", wire.MinTextWidth, i+1, n, l)
		}
	}
	if !strings.Contains(narrow, "not shown, to fit 60 columns: means of") || !strings.Contains(narrow, "--wide") {
		t.Errorf("width %d does not say what it left out:\n%s", wire.MinTextWidth, narrow)
	}
}
