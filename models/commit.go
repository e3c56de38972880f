package models

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Declared commitments (issue 16): a submitter may say which layer of the
// model stands for each brain region ("IT" → "L062.Conv"). A benchmark
// scored by region commitment then scores that layer as given instead of
// the layer chosen on the region's commit benchmarks. Because they change
// scores, the commitments are part of the model entry's identity
// (EntryIDFor).

// MaxCommitments is the most regions one model may declare.
const MaxCommitments = 16

// ErrCommitments is wrapped by every error about declared commitments.
var ErrCommitments = errors.New("bad layer commitments")

// regionPattern is a region name: spelled like a benchmark id (letters,
// digits, '.', '_', '-', starting with a letter or digit).
var regionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ParseCommitments reads "IT=L062.Conv,V4=L040.Add" (spaces around the
// parts are ignored; an empty text is no commitments, nil). It checks the
// form only; ResolveCommitments checks the layers against a model.
func ParseCommitments(text string) (map[string]string, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	out := map[string]string{}
	for _, part := range strings.Split(text, ",") {
		region, layer, ok := strings.Cut(part, "=")
		region, layer = strings.TrimSpace(region), strings.TrimSpace(layer)
		if !ok || region == "" || layer == "" {
			return nil, fmt.Errorf("%w: %q is not REGION=LAYER; write e.g. IT=L062.Conv,V4=L040.Add (layer ids from 'cortexbench models inspect')", ErrCommitments, strings.TrimSpace(part))
		}
		if _, dup := out[region]; dup {
			return nil, fmt.Errorf("%w: region %s is given twice; commit one layer per region", ErrCommitments, region)
		}
		out[region] = layer
	}
	return out, CheckCommitments(out)
}

// CheckCommitments checks the form of declared commitments: at most
// MaxCommitments regions, each named like a benchmark id, each with a
// non-empty layer without ',' or '='.
func CheckCommitments(c map[string]string) error {
	if len(c) > MaxCommitments {
		return fmt.Errorf("%w: %d regions declared, at most %d", ErrCommitments, len(c), MaxCommitments)
	}
	for _, region := range sortedKeys(c) {
		layer := c[region]
		switch {
		case !regionPattern.MatchString(region):
			return fmt.Errorf("%w: region %q must be 1 to 64 letters, digits, '.', '_' or '-' (as a benchmark's metadata.region, e.g. IT, V4, EVC)", ErrCommitments, region)
		case layer == "" || len(layer) > 1024 || strings.ContainsAny(layer, ",=\x00"):
			return fmt.Errorf("%w: region %s: layer %q must be a layer id such as L062.Conv, an ONNX node or tensor name or a PyTorch module path (see 'cortexbench models inspect')", ErrCommitments, region, layer)
		}
	}
	return nil
}

// CommitmentsString is the canonical text of c: "region=layer" pairs
// sorted by region, comma-separated; "" for none.
func CommitmentsString(c map[string]string) string {
	parts := make([]string, 0, len(c))
	for _, region := range sortedKeys(c) {
		parts = append(parts, region+"="+c[region])
	}
	return strings.Join(parts, ",")
}

// ResolveCommitments checks c against a model's layers and returns the
// commitments by layer id: a layer may be given by any reference
// ResolveLayer takes (id, ONNX tensor or node name, PyTorch module path,
// name scope). A layer that is not there, or does not depend on the
// image, is an error naming the closest layers.
func ResolveCommitments(layers []Layer, c map[string]string) (map[string]string, error) {
	if err := CheckCommitments(c); err != nil {
		return nil, err
	}
	if len(c) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(c))
	for _, region := range sortedKeys(c) {
		l, err := ResolveLayer(layers, c[region], "")
		if err != nil {
			return nil, fmt.Errorf("%w: region %s: %w", ErrCommitments, region, err)
		}
		if !l.PerStimulus {
			return nil, fmt.Errorf("%w: region %s: layer %s (%s) does not depend on the image; commit a layer computed from it", ErrCommitments, region, l.ID, l.Tensor)
		}
		out[region] = l.ID
	}
	return out, nil
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func sortedKeys(c map[string]string) []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
