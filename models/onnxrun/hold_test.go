package onnxrun

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cortexbench/cortexbench/models"
)

// extractSets extracts layers over each image set in turn and returns the
// values, per set and layer.
func extractSets(t *testing.T, m *Model, layers []models.Layer, sets []imageList) []collect {
	t.Helper()
	out := make([]collect, len(sets))
	for i, s := range sets {
		out[i] = collect{}
		if err := m.Extract(context.Background(), s, layers, out[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameBits(t *testing.T, what string, got, want []collect) {
	t.Helper()
	for i := range want {
		for id, w := range want[i] {
			g, ok := got[i][id]
			if !ok || g.Rows != w.Rows || g.Cols != w.Cols {
				t.Fatalf("%s: set %d layer %s: %d×%d, want %d×%d", what, i, id, g.Rows, g.Cols, w.Rows, w.Cols)
			}
			for k, v := range w.Data {
				if math.Float32bits(g.Data[k]) != math.Float32bits(v) {
					t.Fatalf("%s: set %d layer %s value %d: %v, want %v (bit for bit)", what, i, id, k, g.Data[k], v)
				}
			}
		}
	}
}

// TestHoldSessionsReuses (issue 18): while HoldSessions holds, the next
// extraction of the same layers runs on the session of the last one (the
// image sets of a multi-session benchmark); other layers close it and
// open their own; release closes the idle one; without a hold nothing
// stays open. Values are the same bit for bit as with a new session per
// extraction.
func TestHoldSessionsReuses(t *testing.T) {
	m := tinyModel(t)
	rng := rand.New(rand.NewPCG(3, 4))
	var sets []imageList
	for _, n := range []int{7, 5, 9} { // batches of different sizes
		var s imageList
		for range n {
			s = append(s, randomImage(rng))
		}
		sets = append(sets, s)
	}
	layers := m.Layers()
	want := extractSets(t, m, layers, sets) // a new session each
	if m.idle != nil {
		t.Fatal("a session stayed open without HoldSessions")
	}

	release := m.HoldSessions()
	if err := m.Extract(context.Background(), sets[0], layers, collect{}, nil); err != nil {
		t.Fatal(err)
	}
	first := m.idle
	if first == nil {
		t.Fatal("HoldSessions: the session was closed after the extraction")
	}
	got := extractSets(t, m, layers, sets)
	if m.idle != first {
		t.Error("the same layers did not run on the held session")
	}
	sameBits(t, "held session", got, want)

	// Other layers: the held session is closed, theirs is kept instead.
	other := layers[:1]
	if err := m.Extract(context.Background(), sets[1], other, collect{}, nil); err != nil {
		t.Fatal(err)
	}
	if m.idle == nil || m.idle == first {
		t.Errorf("other layers: idle session %p (the first was %p), want a new one", m.idle, first)
	}
	// Back to the first layers: a new session, the same values.
	got = extractSets(t, m, layers, sets)
	sameBits(t, "after other layers", got, want)

	inner := m.HoldSessions() // holds nest
	inner()
	inner() // a second call does nothing
	if m.idle == nil {
		t.Error("releasing a nested hold closed the session the outer hold keeps")
	}
	release()
	if m.idle != nil {
		t.Error("release left a session open")
	}
	if m.holds != 0 {
		t.Errorf("holds %d after every release", m.holds)
	}
}

// TestHoldSessionsMobileNetV2: MobileNetV2 (multi-threaded convolutions,
// in-graph pooling, inner layers exposed) gives the same values bit for
// bit on a held session as on new ones, over image sets of different
// sizes in turn.
func TestHoldSessionsMobileNetV2(t *testing.T) {
	file := mobileNetV2File(t)
	tiny := tinyModel(t) // skips without ONNX Runtime
	m, err := Load(tiny.rt, Info{Path: file, Name: "mobilenet_v2", Spec: models.MobileNetV2Float}, DefaultPoolTo)
	if err != nil {
		t.Fatal(err)
	}
	var layers []models.Layer
	all := m.Layers()
	for _, i := range []int{20, 60, 120, len(all) - 1} {
		layers = append(layers, all[i])
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var sets []imageList
	for _, n := range []int{5, 3} {
		var s imageList
		for range n {
			s = append(s, randomImage(rng))
		}
		sets = append(sets, s)
	}
	want := extractSets(t, m, layers, sets)
	release := m.HoldSessions()
	defer release()
	got := extractSets(t, m, layers, slices.Concat(sets[1:], sets[:1])) // the second set first
	sameBits(t, "held MobileNetV2 session", []collect{got[1], got[0]}, want)
	if m.idle == nil {
		t.Error("no held session")
	}
}

// mobileNetV2File is the float32 MobileNetV2 in ../shared (or
// CORTEXBENCH_SHARED); the test is skipped without it.
func mobileNetV2File(t *testing.T) string {
	t.Helper()
	shared := os.Getenv("CORTEXBENCH_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "..", "shared")
	}
	file := filepath.Join(shared, "models", "mobilenet_v2_1.0_224", "mobilenet_v2_1.0_224_float32.onnx")
	if _, err := os.Stat(file); err != nil {
		t.Skipf("MobileNetV2 not found (set CORTEXBENCH_SHARED): %v", err)
	}
	return file
}
