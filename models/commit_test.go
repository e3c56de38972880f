package models

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// TestEntryIDFor: no commitments give exactly EntryID (every existing
// entry keeps its ID; pinned to a literal), commitments give the
// documented hash, whatever the map's order.
func TestEntryIDFor(t *testing.T) {
	file := strings.Repeat("ab", 32)
	const pinned = "a0f5427b28be7b66973e180f283b8630bb69975d33f3ae4729dc43baa68d3c89"
	if got := EntryID(file, MobileNetV2Float); got != pinned {
		t.Errorf("EntryID changed: %s, pinned %s", got, pinned)
	}
	for _, none := range []map[string]string{nil, {}} {
		if got := EntryIDFor(file, MobileNetV2Float, none); got != EntryID(file, MobileNetV2Float) {
			t.Errorf("EntryIDFor(%v) = %s, want EntryID's %s", none, got, EntryID(file, MobileNetV2Float))
		}
	}
	c := map[string]string{"V4": "L040.Add", "IT": "L062.Conv"}
	h := sha256.Sum256([]byte("cortexbench model entry v1\x00" + file + "\x00" + MobileNetV2Float.String() + "\x00commitments\x00IT=L062.Conv,V4=L040.Add"))
	if got, want := EntryIDFor(file, MobileNetV2Float, c), hex.EncodeToString(h[:]); got != want {
		t.Errorf("EntryIDFor with commitments = %s, want %s", got, want)
	}
	other := map[string]string{"V4": "L040.Add", "IT": "L063.Relu"}
	if EntryIDFor(file, MobileNetV2Float, other) == EntryIDFor(file, MobileNetV2Float, c) {
		t.Error("other commitments give the same entry id")
	}
}

func TestParseCommitments(t *testing.T) {
	c, err := ParseCommitments(" IT=L062.Conv, V4 = L040.Add ")
	if err != nil || len(c) != 2 || c["IT"] != "L062.Conv" || c["V4"] != "L040.Add" || CommitmentsString(c) != "IT=L062.Conv,V4=L040.Add" {
		t.Fatalf("parse: %v %v", c, err)
	}
	if c, err := ParseCommitments(""); c != nil || err != nil {
		t.Errorf("empty: %v %v", c, err)
	}
	many := make([]string, MaxCommitments+1)
	for i := range many {
		many[i] = "R" + string(rune('a'+i)) + "=L001.Conv"
	}
	for text, want := range map[string]string{
		"IT":                    "not REGION=LAYER",
		"IT=":                   "not REGION=LAYER",
		"IT=L1,IT=L2":           "given twice",
		"I T=L1":                "must be 1 to 64",
		"-IT=L1":                "must be 1 to 64",
		strings.Join(many, ","): "at most 16",
	} {
		_, err := ParseCommitments(text)
		if !errors.Is(err, ErrCommitments) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", text, err, want)
		}
	}
}

func TestResolveCommitments(t *testing.T) {
	layers := []Layer{
		{ID: "L000.Conv", Tensor: "conv0_out", Node: "conv0", PerStimulus: true},
		{ID: "L001.Shape", Tensor: "shape_out"},
		{ID: "L002.Relu", Tensor: "relu0_out", Node: "relu0", PerStimulus: true},
		{ID: "L062.Conv", Tensor: "features.18/conv", Node: "Conv_62", PerStimulus: true},
	}
	got, err := ResolveCommitments(layers, map[string]string{"IT": "features.18/conv", "V1": "L000.Conv", "V2": "relu0"})
	if err != nil || CommitmentsString(got) != "IT=L062.Conv,V1=L000.Conv,V2=L002.Relu" {
		t.Fatalf("resolve: %v %v", got, err)
	}
	_, err = ResolveCommitments(layers, map[string]string{"IT": "L62.Conv"})
	if !errors.Is(err, ErrCommitments) || !strings.Contains(err.Error(), "closest: L062.Conv") {
		t.Errorf("unknown layer: %v, want the closest id L062.Conv first", err)
	}
	_, err = ResolveCommitments(layers, map[string]string{"IT": "L001.Shape"})
	if !errors.Is(err, ErrCommitments) || !strings.Contains(err.Error(), "does not depend on the image") {
		t.Errorf("shape layer: %v", err)
	}
}

// TestRegistryCommitments: the registry keeps commitments in the
// metadata and keys the entry by EntryIDFor; the same file and spec
// without them is another entry.
func TestRegistryCommitments(t *testing.T) {
	ctx := t.Context()
	reg := &Registry{Store: &MemStore{}}
	data := []byte("onnx")
	h := sha256.Sum256(data)
	file := hex.EncodeToString(h[:])
	c := map[string]string{"IT": "L062.Conv"}
	plain, _, err := reg.Add(ctx, Metadata{File: file, Name: "m", Spec: MobileNetV2Float}, strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	dec, created, err := reg.Add(ctx, Metadata{File: file, Name: "m", Spec: MobileNetV2Float, Commitments: c}, strings.NewReader(string(data)))
	if err != nil || !created || dec.ID == plain.ID || dec.ID != EntryIDFor(file, MobileNetV2Float, c) {
		t.Fatalf("declared entry: %+v created %v err %v", dec, created, err)
	}
	got, err := reg.Get(ctx, dec.ID)
	if err != nil || CommitmentsString(got.Commitments) != "IT=L062.Conv" {
		t.Fatalf("get: %+v %v", got, err)
	}
	if _, _, err := reg.Add(ctx, Metadata{File: file, Spec: MobileNetV2Float, Commitments: map[string]string{"I T": "x"}}, strings.NewReader(string(data))); !errors.Is(err, ErrCommitments) {
		t.Errorf("bad region accepted: %v", err)
	}
}
